// The wrapper's streams and sessions: the same ids and text as the Rust CLI, deltas that add up,
// observable state, prefixes, save and restore, and busy requests failing or queueing.
import Foundation
@testable import GemKit
import Observation
import XCTest

final class ChatSessionTests: XCTestCase {
    /// The model that tests without options of their own share, as an app would.
    private var model: GemmaModel!

    override func setUp() async throws {
        model = try await loadModel()
    }

    func testASeededCompletionStreamsWhatTheRustCLIGivesInDeltasThatAddUp() async throws {
        let options = GenerationOptions(
            maxTokens: Int(try env("GEMKIT_SEEDED_MAX_TOKENS"))!, sampling: Sampling(seed: UInt64(try env("GEMKIT_SEEDED_SEED"))!))
        let all = try await events(model.complete(try env("GEMKIT_SEEDED_PROMPT"), options: options))
        let reply = try XCTUnwrap(all.last?.reply)
        XCTAssertEqual(try env("GEMKIT_SEEDED_IDS").split(separator: ",").map { UInt32($0)! }, reply.ids)
        XCTAssertEqual(try env("GEMKIT_SEEDED_TEXT"), reply.text)
        XCTAssertEqual(.length, reply.finishReason)
        XCTAssertEqual(reply.text, all.map(\.delta).joined())
        var soFar = ""
        for event in all.dropLast() {
            XCTAssertFalse(event.delta.isEmpty)
            XCTAssertNil(event.reply)
            soFar += event.delta
            XCTAssertEqual(soFar, event.text)
        }
        XCTAssertEqual(ChatEvent(delta: "", text: reply.text, reply: reply), all.last)
    }

    func testACompletionAfterATextPrefixContinuesAsTheWholePromptDoes() async throws {
        let whole = try await events(model.complete("Once upon a time there lived", options: greedyGeneration(12)))
        let prefix = try await model.textPrefix("Once upon a time")
        XCTAssertEqual(5, prefix.tokenCount)
        let after = try await events(model.complete(" there lived", after: prefix, options: greedyGeneration(12)))
        XCTAssertEqual(whole.last?.reply?.ids, after.last?.reply?.ids)
    }

    func testASessionStreamsItsTurnsIntoItsHistoryAndIsObservable() async throws {
        let session = try model.chatSession(system: "Answer in one short sentence.")
        XCTAssertEqual([], session.history)
        XCTAssertFalse(session.isResponding)
        let started = expectation(description: "isResponding changed")
        withObservationTracking { _ = session.isResponding } onChange: { started.fulfill() }
        let stream = session.send("What is the sun?", options: greedyGeneration(12))
        await fulfillment(of: [started], timeout: 1)
        XCTAssertTrue(session.isResponding)

        let ended = expectation(description: "history changed")
        withObservationTracking { _ = session.history } onChange: { ended.fulfill() }
        let all = try await events(stream)
        let reply = try XCTUnwrap(all.last?.reply)
        // The last event comes after the session has taken the turn in.
        XCTAssertFalse(session.isResponding)
        await fulfillment(of: [ended], timeout: 1)
        XCTAssertEqual([Message(role: .user, text: "What is the sun?"), Message(role: .model, text: reply.text)], session.history)

        let second = try await session.respond(to: "And the moon?", options: greedyGeneration(12))
        XCTAssertEqual(second.text, session.history.last?.text)
        XCTAssertEqual(4, session.history.count)
    }

    func testASessionFromAChatPrefixRepliesAsAPlainOne() async throws {
        let system = "Answer in one short sentence."
        let prefix = try await model.chatPrefix(system: system)
        let fast = try await model.chatSession(from: prefix).respond(to: "What is rain?", options: greedyGeneration(12))
        let plain = try await model.chatSession(system: system).respond(to: "What is rain?", options: greedyGeneration(12))
        XCTAssertEqual(plain.ids, fast.ids)
        XCTAssertEqual(plain.stats.promptTokens - UInt32(prefix.tokenCount), fast.stats.promptTokens)
    }

    func testASavedSessionRestoresWithItsHistoryAndContinuesIdentically() async throws {
        let file = URL(fileURLWithPath: tempPath("session.chat"))
        defer { try? FileManager.default.removeItem(at: file) }
        let session = try model.chatSession()
        _ = try await session.respond(to: "What is snow?", options: greedyGeneration(8))
        try await session.save(to: file)
        let restored = try await loadModel().restoreChat(from: file)
        XCTAssertEqual(session.history, restored.history)
        let a = try await session.respond(to: "And hail?", options: greedyGeneration(8))
        let b = try await restored.respond(to: "And hail?", options: greedyGeneration(8))
        XCTAssertEqual(a.ids, b.ids)
    }

    func testWhenBusyFailThrowsBusyAndWaitQueuesBehindTheRunningReply() async throws {
        let running = try model.chatSession()
        let long = try await longReply(on: running)

        let impatient = try model.chatSession()
        let busy = try await expectGemmaError { try await impatient.respond(to: "What is rain?", options: greedyGeneration(8, whenBusy: .fail)) }
        XCTAssertEqual(.busy("busy: the model is running another request"), busy)
        XCTAssertEqual([], impatient.history)
        XCTAssertFalse(impatient.isResponding)
        // On the responding session itself, at once too (not after its running reply).
        let busyItself = try await expectGemmaError { try await running.respond(to: "Hi", options: greedyGeneration(8, whenBusy: .fail)) }
        XCTAssertEqual(.busy("busy: the model is running another request"), busyItself)

        let patient = try model.chatSession()
        let queued = Task { try await patient.respond(to: "What is rain?", options: greedyGeneration(8, whenBusy: .wait)) }
        try await Task.sleep(for: .milliseconds(200))
        XCTAssertTrue(patient.isResponding)
        XCTAssertTrue(running.isResponding, "the long reply ended before the queued one could be seen waiting")
        long.cancel()
        let reply = try await queued.value
        let alone = try await model.chatSession().respond(to: "What is rain?", options: greedyGeneration(8))
        XCTAssertEqual(alone.ids, reply.ids)
    }
}
