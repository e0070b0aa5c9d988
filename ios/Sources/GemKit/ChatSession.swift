import Foundation
import Observation

/// One conversation with a model, with its own KV cache: each turn prefills only its own tokens.
/// Observable (`isResponding`, `history`), from any thread; SwiftUI views and
/// `withObservationTracking` see the changes.
///
/// A reply that is cancelled keeps its text in the history, as far as it got (the engine stops
/// within one token); one cancelled before its first token never happened. Releasing the session
/// cancels its running reply.
public final class ChatSession: Observable, Sendable {
    let chat: Chat
    private let model: GemmaModel
    private let state: Locked<State>
    private let registrar = ObservationRegistrar()

    private struct State {
        /// Requests sent and not finished: the one running and those queued behind it.
        var unfinished = 0
        var history: [Message]
    }

    init(chat: Chat, model: GemmaModel) {
        self.chat = chat
        self.model = model
        // A new chat has no history to wait for; a restored one has its saved messages.
        state = Locked(State(history: (try? chat.history()) ?? []))
    }

    /// Whether a reply is being generated or waits to be (Foundation Models' `isResponding`).
    public var isResponding: Bool {
        registrar.access(self, keyPath: \.isResponding)
        return state.withLock { $0.unfinished > 0 }
    }

    /// The finished turns, oldest first; a turn joins it when its reply has ended, and turns the
    /// engine dropped to make room in the context leave it.
    public var history: [Message] {
        registrar.access(self, keyPath: \.history)
        return state.withLock { $0.history }
    }

    /// Sends `text` and streams the reply. Ending the stream early (cancelling the consuming
    /// task, leaving the loop) cancels the reply. With `whenBusy: .fail` the stream throws
    /// `GemmaError.busy` at once if the model is running another request; with `.wait` the
    /// request queues behind it.
    public func send(_ text: String, options: GenerationOptions = GenerationOptions()) -> AsyncThrowingStream<ChatEvent, Error> {
        registrar.withMutation(of: self, keyPath: \.isResponding) {
            state.withLock { $0.unfinished += 1 }
        }
        return replyEvents(ended: { [weak self] ran in self?.turnEnded(ran: ran) }) { listener in
            try chat.send(message: text, listener: listener, options: options.engineOptions)
        }
    }

    /// Sends `text` and returns the whole reply. Cancelling the calling task cancels the reply
    /// and throws `CancellationError`.
    public func respond(to text: String, options: GenerationOptions = GenerationOptions()) async throws -> Reply {
        for try await event in send(text, options: options) {
            if let reply = event.reply { return reply }
        }
        throw CancellationError()  // the stream ends without a reply only when the task is cancelled
    }

    /// Writes the conversation, KV cache included, for `GemmaModel.restoreChat(from:)`; waits for
    /// a running reply to end.
    public func save(to file: URL) async throws(GemmaError) {
        let chat = chat
        _ = try await model.run { _ in try chat.save(path: file.path) }
    }

    /// After the request's last call, on the engine's thread: the chat is free again, so its
    /// history can be read at once. A request that did not start (busy) changed nothing, and
    /// reading the history then would wait for the chat's running turn, on the caller's thread.
    private func turnEnded(ran: Bool) {
        let history = ran ? try? chat.history() : nil
        registrar.withMutation(of: self, keyPath: \.history) {
            registrar.withMutation(of: self, keyPath: \.isResponding) {
                state.withLock { state in
                    state.unfinished -= 1
                    if let history { state.history = history }
                }
            }
        }
    }
}
