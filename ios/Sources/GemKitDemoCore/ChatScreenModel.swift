import Foundation
import GemKit
import Observation

/// The chat screen: the conversation as lines, the reply streaming into the last one, a stop
/// button, and each reply's time to first token and decode speed.
@MainActor @Observable
public final class ChatScreenModel {
    public struct Line: Identifiable, Equatable, Sendable {
        public let id: Int
        public let role: Role
        public internal(set) var text: String
        /// A finished reply's statistics, for its caption.
        public internal(set) var stats: Stats?
        public internal(set) var finishReason: FinishReason?
    }

    public private(set) var lines: [Line] = []
    public var draft = ""
    public private(set) var isResponding = false
    public private(set) var error: GemmaError?
    /// For the next replies.
    public var options: GenerationOptions

    private let session: ChatSession
    private var reply: Task<Void, Never>?

    public init(model: GemmaModel, system: String? = nil, options: GenerationOptions = GenerationOptions()) throws(GemmaError) {
        session = try model.chatSession(system: system)
        self.options = options
    }

    /// Sends the draft and streams the reply into a new line; returns when the reply has ended
    /// (finished, stopped or failed).
    public func send() async {
        let text = draft.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, reply == nil else { return }
        draft = ""
        error = nil
        lines.append(Line(id: lines.count, role: .user, text: text))
        lines.append(Line(id: lines.count, role: .model, text: ""))
        let index = lines.count - 1
        isResponding = true
        let stream = session.send(text, options: options)
        let reply = Task {
            do {
                for try await event in stream {
                    lines[index].text = event.text
                    if let reply = event.reply {
                        lines[index].stats = reply.stats
                        lines[index].finishReason = reply.finishReason
                    }
                }
            } catch {
                self.error = error as? GemmaError
            }
        }
        self.reply = reply
        await reply.value
        if lines[index].finishReason == nil, error == nil {
            lines[index].finishReason = .cancelled  // stopped: the stream ended without its reply
        }
        self.reply = nil
        isResponding = false
    }

    /// Stops the reply: the engine stops within one token, and the reply keeps what came (in the
    /// conversation too, for the next turn).
    public func stop() {
        reply?.cancel()
    }
}

extension Stats {
    /// "first token 120 ms · 95.3 tok/s", a reply's caption.
    public var summary: String {
        String(format: "first token %.0f ms · %.1f tok/s", ttftMs, decodeTokS)
    }
}
