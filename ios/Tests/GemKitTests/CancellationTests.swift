// Cancelling through the wrapper: a consumer that goes away stops the engine within one token,
// the conversation goes on as if the reply had been that long, a request cancelled while queued
// never happens, and a proofread stops with its task.
import Foundation
@testable import GemKit
import XCTest

/// Stands between the wrapper and the engine: counts the text pieces the engine sends, notes how
/// many had come when the wrapper cancelled, and keeps the reply.
final class CancelProbe: @unchecked Sendable {
    // @unchecked: the counts and the reply are only touched under `lock`.
    private let lock = NSLock()
    private var pieces = 0
    private var piecesAtCancel: Int?
    private var reply: Reply?
    let finished = Latch()

    /// The engine's listener: counts, then passes each call on to the wrapper's.
    func listener(_ wrapper: TokenListener) -> TokenListener { Listener(probe: self, wrapper: wrapper) }

    /// The request's handle, as the wrapper sees it: notes the count when it cancels.
    func handle(_ engine: GenerationHandle) -> any GenerationHandleProtocol { Handle(probe: self, engine: engine) }

    /// Pieces that arrived after the wrapper's cancel, and the reply; waits for the reply.
    func result() throws -> (piecesAfterCancel: Int, reply: Reply) {
        try finished.wait(for: "the cancelled reply")
        return try lock.withLock {
            guard let piecesAtCancel, let reply else { throw Failure(description: "no cancel, or no reply") }
            return (pieces - piecesAtCancel, reply)
        }
    }

    private final class Listener: TokenListener {
        let probe: CancelProbe
        let wrapper: TokenListener
        init(probe: CancelProbe, wrapper: TokenListener) { (self.probe, self.wrapper) = (probe, wrapper) }

        func onText(text: String) throws {
            probe.lock.withLock { probe.pieces += 1 }
            try wrapper.onText(text: text)
        }

        func onComplete(reply: Reply) throws {
            probe.lock.withLock { probe.reply = reply }
            try wrapper.onComplete(reply: reply)
            probe.finished.open()
        }

        func onError(error: GemKitError) throws {
            try wrapper.onError(error: error)
            probe.finished.open()
        }
    }

    private final class Handle: GenerationHandleProtocol {
        let probe: CancelProbe
        let engine: GenerationHandle
        init(probe: CancelProbe, engine: GenerationHandle) { (self.probe, self.engine) = (probe, engine) }

        func cancel() {
            probe.lock.withLock { probe.piecesAtCancel = probe.piecesAtCancel ?? probe.pieces }
            engine.cancel()
        }

        func isFinished() -> Bool { engine.isFinished() }
    }
}

final class CancellationTests: XCTestCase {
    private var model: GemmaModel!

    override func setUp() async throws {
        model = try await loadModel()
    }

    /// Consumes a long reply of `session`'s and cancels the consumer after its `after`-th event,
    /// `delay` later; the wrapper's stream, over a probe.
    func cancelledReply(_ session: ChatSession, after: Int, delay: Duration) async throws -> (piecesAfterCancel: Int, reply: Reply) {
        let probe = CancelProbe()
        let stream = replyEvents { listener in
            probe.handle(try session.chat.send(message: longPrompt, listener: probe.listener(listener), options: greedyGeneration(2000).engineOptions))
        }
        let (seen, signal) = AsyncStream<Int>.makeStream()
        let consumer = Task {
            var count = 0
            for try await _ in stream {
                count += 1
                signal.yield(count)
            }
        }
        for await count in seen where count == after { break }
        try await Task.sleep(for: delay)
        consumer.cancel()
        _ = await consumer.result
        return try probe.result()
    }

    func testACancelledConsumerStopsTheEngineWithinOneTokenAndTheChatGoesOnAsItsTwin() async throws {
        var afterCancel: [Int] = []
        var cancelled: (session: ChatSession, reply: Reply)!
        // The cancel lands anywhere in a decode step (about 10 ms here): a few positions.
        for run in 0..<6 {
            let session = try model.chatSession()
            let (pieces, reply) = try await cancelledReply(session, after: 3 + run, delay: .microseconds(1500 * run))
            XCTAssertEqual(.cancelled, reply.finishReason)
            XCTAssertLessThanOrEqual(pieces, 1, "run \(run): \(pieces) pieces of text after the cancel")
            afterCancel.append(pieces)
            cancelled = (session, reply)
        }
        print("cancel latency: text pieces the engine sent after the consumer's cancel, per run: \(afterCancel)")

        // A twin that replies exactly as far, greedily, and never saw a cancel.
        let (session, reply) = cancelled!
        let twin = try model.chatSession()
        let twinReply = try await twin.respond(to: longPrompt, options: greedyGeneration(reply.ids.count))
        XCTAssertEqual(reply.ids, twinReply.ids)
        XCTAssertEqual(.length, twinReply.finishReason)
        let next = try await session.respond(to: "Go on.", options: greedyGeneration(16))
        let twinNext = try await twin.respond(to: "Go on.", options: greedyGeneration(16))
        XCTAssertEqual(twinNext.ids, next.ids)
        XCTAssertEqual(twinNext.stats.contextTokens, next.stats.contextTokens)
        XCTAssertEqual(twin.history, session.history)
    }

    func testCancellingTheTaskThatReadsASendEndsTheTurnAndTheSessionGoesOn() async throws {
        let session = try model.chatSession()
        let (seen, signal) = AsyncStream<String>.makeStream()
        let consumer = Task {
            for try await event in session.send(longPrompt, options: greedyGeneration(2000)) { signal.yield(event.text) }
        }
        var shown = ""
        for await text in seen {
            shown = text
            if text.count > 20 { break }
        }
        consumer.cancel()
        try await eventually("the turn to end") { !session.isResponding }
        XCTAssertEqual(2, session.history.count)
        let kept = try XCTUnwrap(session.history.last?.text)
        XCTAssert(kept.hasPrefix(shown), "\(kept) does not continue \(shown)")
        XCTAssertLessThan(try model.engine.tokenize(text: kept, addSpecial: false).count, 100)
        _ = try await session.respond(to: "Go on.", options: greedyGeneration(8))
        XCTAssertEqual(4, session.history.count)
    }

    func testRespondThrowsCancellationErrorWithItsTask() async throws {
        let session = try model.chatSession()
        let responding = Task { try await session.respond(to: longPrompt, options: greedyGeneration(2000)) }
        try await eventually("the reply to start") { session.isResponding }
        try await Task.sleep(for: .milliseconds(300))
        responding.cancel()
        let result = await responding.result
        XCTAssertThrowsError(try result.get()) { XCTAssert($0 is CancellationError, "\($0)") }
        try await eventually("the turn to end") { !session.isResponding }
        // Cancelled in the prefill (a slow machine) or after some text: either way the session goes on.
        let next = try await session.respond(to: "Hello", options: greedyGeneration(4))
        XCTAssertEqual(next.text, session.history.last?.text)
    }

    func testARequestCancelledWhileQueuedNeverHappens() async throws {
        let running = try model.chatSession()
        let long = try await longReply(on: running)
        let queued = try model.chatSession()
        let waiting = Task { try await queued.respond(to: "What is rain?", options: greedyGeneration(8)) }
        try await eventually("the request to queue") { queued.isResponding }
        waiting.cancel()
        long.cancel()
        try await eventually("both to end") { !running.isResponding && !queued.isResponding }
        XCTAssertEqual([], queued.history)
        XCTAssertEqual(2, running.history.count)
        _ = await waiting.result
    }

    func testAProofreadStopsWithItsTaskAndLeavesNothingBehind() async throws {
        let proofreader = model.proofreader()
        let text = "yesterday me and him goes to the market for buy some apple, but it were closed"
        let clock = ContinuousClock()
        let start = clock.now
        let full = try await proofreader.proofread(text)
        let fullTime = clock.now - start

        let cancelledAt = clock.now
        let proofreading = Task { try await proofreader.proofread(text) }
        try await Task.sleep(for: fullTime / 3)
        proofreading.cancel()
        let result = await proofreading.result
        let cancelledTime = clock.now - cancelledAt
        XCTAssertThrowsError(try result.get()) { XCTAssert($0 is CancellationError, "\($0)") }
        XCTAssertLessThan(cancelledTime, fullTime * 0.8, "the engine ran on after the cancel")
        print("proofread: \(full.stats.generatedTokens) tokens in \(fullTime); cancelled after \(cancelledTime)")

        let again = try await proofreader.proofread(text)
        XCTAssertEqual(full.corrected, again.corrected)
        XCTAssertEqual(full.segments, again.segments)
    }
}
