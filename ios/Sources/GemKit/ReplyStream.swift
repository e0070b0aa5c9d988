/// One step of a streamed reply. Each event carries the new text and all the text so far (what
/// Foundation Models' snapshots give); the last one carries the reply, with why it finished and
/// its statistics, and no new text.
public struct ChatEvent: Sendable, Equatable {
    /// The text this event adds: whole characters, never part of a stop string.
    public let delta: String
    /// The reply so far.
    public let text: String
    /// Only on the last event.
    public let reply: Reply?
}

/// A streamed request as an `AsyncThrowingStream`: `start` hands the engine a listener and
/// returns at once with the request's handle; the engine's own thread then feeds the stream.
/// The stream's end cancels the request: the consumer's task cancelled, its loop left, the
/// stream dropped. The engine then stops within one token and the listener gets its last call
/// all the same. `ended` (bookkeeping, before the consumer sees the end) runs once the request
/// is over: on the engine's thread after its last call (`ran` true), or at once when the
/// request could not start. Failures arrive as `GemmaError`.
func replyEvents(
    ended: @escaping @Sendable (_ ran: Bool) -> Void = { _ in },
    start: (TokenListener) throws -> any GenerationHandleProtocol
) -> AsyncThrowingStream<ChatEvent, Error> {
    AsyncThrowingStream { continuation in
        let forwarder = ReplyForwarder(continuation, ended: ended)
        do {
            // The closure keeps the handle, whose release would cancel, until the stream ends.
            let handle = try start(forwarder)
            continuation.onTermination = { _ in handle.cancel() }
        } catch {
            ended(false)
            continuation.finish(throwing: GemmaError(error))
        }
    }
}

/// The engine's listener, turning its calls into events; it runs on the engine's thread, one
/// call at a time.
final class ReplyForwarder: TokenListener {
    private let continuation: AsyncThrowingStream<ChatEvent, Error>.Continuation
    private let ended: @Sendable (_ ran: Bool) -> Void
    private let soFar = Locked("")

    init(_ continuation: AsyncThrowingStream<ChatEvent, Error>.Continuation, ended: @escaping @Sendable (_ ran: Bool) -> Void) {
        self.continuation = continuation
        self.ended = ended
    }

    func onText(text: String) {
        let all = soFar.withLock { all in
            all += text
            return all
        }
        continuation.yield(ChatEvent(delta: text, text: all, reply: nil))
    }

    func onComplete(reply: Reply) {
        ended(true)
        continuation.yield(ChatEvent(delta: "", text: reply.text, reply: reply))
        continuation.finish()
    }

    func onError(error: GemKitError) {
        ended(true)
        continuation.finish(throwing: GemmaError(error))
    }
}
