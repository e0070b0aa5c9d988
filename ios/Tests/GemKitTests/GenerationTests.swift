// Streamed raw completions: the same text as Rust for the same seed, prefixes, cancelling from
// another thread or by releasing the handle, listeners that throw, and proofreading. (What the
// listener costs in decode speed is measured by `make bench-bindings-swift`, not here.)
import Foundation
import GemKit
import XCTest

/// Runs a completion to its reply.
func complete(_ engine: Engine, _ prefix: Prefix?, _ prompt: String, _ options: GenerateOptions) throws -> (Reply, Collector) {
    let c = Collector()
    let handle = try engine.complete(prefix: prefix, prompt: prompt, listener: c, options: options)
    return try withExtendedLifetime(handle) { (try c.reply(), c) }
}

final class GenerationTests: XCTestCase {
    /// The engine that tests without options of their own share, as an app would.
    private var engine: Engine!

    override func setUpWithError() throws {
        engine = try loadEngine()
    }

    func testASeededCompletionStreamsExactlyWhatTheRustCLIGives() throws {
        let options = GenerateOptions(
            maxTokens: UInt32(try env("GEMKIT_SEEDED_MAX_TOKENS"))!,
            sampling: Sampling(seed: UInt64(try env("GEMKIT_SEEDED_SEED"))!))
        let (reply, c) = try complete(engine, nil, env("GEMKIT_SEEDED_PROMPT"), options)
        XCTAssertEqual(try env("GEMKIT_SEEDED_IDS").split(separator: ",").map { UInt32($0)! }, reply.ids)
        XCTAssertEqual(try env("GEMKIT_SEEDED_TEXT"), reply.text)
        XCTAssertEqual(reply.text, c.text)
        XCTAssertEqual(.length, reply.finishReason)
        XCTAssertFalse(c.wasCalledOnMainThread, "the listener ran on the caller's thread")
    }

    func testACompletionAfterAPrefixContinuesAsTheWholePromptDoes() throws {
        let (whole, _) = try complete(engine, nil, "Once upon a time there lived", greedy(12))
        let prefix = try engine.prefix(text: "Once upon a time")
        let (after, _) = try complete(engine, prefix, " there lived", greedy(12))
        XCTAssertEqual(whole.ids, after.ids)
        XCTAssertEqual(UInt32(try engine.tokenize(text: " there lived", addSpecial: false).count), after.stats.promptTokens)
    }

    func testCancelFromAnotherThreadStopsALongGeneration() throws {
        let cancelled = Latch()
        let c = Collector(onPiece: { i, _ in if i == 0 { try cancelled.wait(for: "the cancel") } })
        let handle = try engine.complete(prefix: nil, prompt: longPrompt, listener: c, options: greedy(2000))
        try c.firstText.wait(for: "the story")
        let done = Latch()
        Thread {
            handle.cancel()
            done.open()
        }.start()
        try done.wait(for: "the other thread")
        cancelled.open()
        let reply = try c.reply()
        XCTAssertEqual(.cancelled, reply.finishReason)
        XCTAssertEqual(c.text, reply.text)
        XCTAssert(reply.stats.generatedTokens < 2000, "\(reply.stats)")
        while !handle.isFinished() { Thread.sleep(forTimeInterval: 0.001) }
    }

    func testReleasingTheHandleCancelsItsRequest() throws {
        let released = Latch()
        let c = Collector(onPiece: { i, _ in if i == 0 { try released.wait(for: "the release") } })
        var handle: GenerationHandle? = try engine.complete(
            prefix: nil, prompt: longPrompt, listener: c, options: greedy(2000))
        try c.firstText.wait(for: "the story")
        XCTAssertEqual(false, handle?.isFinished(), "finished while its listener waits")
        handle = nil
        released.open()
        XCTAssertEqual(.cancelled, try c.reply().finishReason)
    }

    func testAListenerThatThrowsCancelsItsRequestWhateverItThrows() throws {
        let recorder = Recorder(prefix: "gemkit_ffi")
        initLogging(level: .warn, logger: recorder)
        defer { initLogging(level: .error, logger: nil) }
        let thrown: [any Error & Sendable] = [
            Failure(description: "the app gave up"),
            CallbackError.Failed(reason: "the app gave up"),
            GemKitError.Busy(reason: "the app gave up"),
        ]
        for error in thrown {
            let c = Collector(onPiece: { i, _ in if i == 1 { throw error } }, onLast: { throw error })
            let handle = try engine.complete(prefix: nil, prompt: longPrompt, listener: c, options: greedy(200))
            try withExtendedLifetime(handle) {
                let reply = try c.reply()
                XCTAssertEqual(.cancelled, reply.finishReason)
                XCTAssertEqual(c.text, reply.text)
                XCTAssert(reply.stats.generatedTokens < 10, "\(reply.stats)")
            }
        }
        XCTAssertEqual(4, try complete(engine, nil, "Hello", greedy(4)).0.stats.generatedTokens)
        let warnings = recorder.records.map(\.message)
        XCTAssertEqual(6, warnings.count)
        for w in warnings {
            XCTAssert(w.hasPrefix("the listener threw") && w.hasSuffix("the app gave up"), w)
        }
    }

    func testProofreadDiffsItsCorrectionACancelledTokenKeepsTheText() throws {
        let text = "i has two cat and they is hungry"
        let result = try engine.proofread(text: text)
        XCTAssert(result.stats.generatedTokens > 0, "\(result.stats)")
        if result.finishReason != .stopToken { XCTAssertEqual(text, result.corrected) }
        func spell(_ skip: SegmentKind) -> String {
            result.segments.filter { $0.kind != skip }.map(\.text).joined()
        }
        XCTAssertEqual(text, spell(.inserted))
        XCTAssertEqual(result.corrected, spell(.deleted))
        let token = CancelToken()
        token.cancel()
        let untouched = try engine.proofread(text: text, cancel: token)
        XCTAssertEqual(.cancelled, untouched.finishReason)
        XCTAssertEqual(text, untouched.corrected)
    }
}
