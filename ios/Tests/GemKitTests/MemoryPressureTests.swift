// The memory policy on the real model, through its entry point `GemmaModel.respond(to:)` (the
// Apple signals that call it are not compiled here): what each pressure frees, that a freed
// session continues exactly as an untouched twin (a session of a second model with no policy,
// given the same turns), and what happens to a reply that runs meanwhile.
import Dispatch
import Foundation
@testable import GemKit
import XCTest

final class MemoryPressureTests: XCTestCase {
    private var model: GemmaModel!
    private var twins: GemmaModel!

    override func setUp() async throws {
        model = try await loadModel()
        twins = try await loadModel(LoadOptions(availableMemory: { nil }, memoryPolicy: nil))
    }

    func testPressureEventsMapExactlyAndTheDefaultPolicyFreesCachesThenTheModel() {
        #if canImport(Darwin)
        XCTAssertEqual(.critical, MemoryPressure(.critical))
        XCTAssertEqual(.critical, MemoryPressure([.warning, .critical]))
        XCTAssertEqual(.low, MemoryPressure(.warning))
        XCTAssertNil(MemoryPressure(.normal))
        #else
        print("SKIPPED: the memory-pressure source's events (Darwin's Dispatch only); the policy is checked below")
        #endif
        XCTAssertEqual([.caches, .caches, .model], MemoryPressure.allCases.map { MemoryPolicy.default.release($0) })
    }

    func testLowPressureFreesIdleSessionsCachesAndAFreedSessionContinuesAsItsTwin() async throws {
        let (chat, twin) = try await twinSessions(system: "Answer in one short sentence.", first: "What is rain?", tokens: 12)
        let before = model.memoryInUse
        let low = try await model.respond(to: .low)
        let released = try XCTUnwrap(low)
        let after = model.memoryInUse
        print("MemoryPressureTests: low: memoryInUse \(before) -> \(after) bytes; \(released)")
        XCTAssertEqual(1, released.chatsOffloaded)
        XCTAssertLessThan(after, before)
        XCTAssertEqual(before, after + released.bytes)
        XCTAssertNil(model.unloadedReason)
        let next = try await chat.respond(to: "And snow?", options: greedyGeneration(16))
        let twinNext = try await twin.respond(to: "And snow?", options: greedyGeneration(16))
        XCTAssertEqual(twinNext.ids, next.ids)
        XCTAssertEqual(twin.history, chat.history)
    }

    func testCriticalPressureUnloadsTheModelAndTheNextSendReloadsItAndContinuesAsTheTwin() async throws {
        let (chat, twin) = try await twinSessions(first: "Name a colour.", tokens: 8)
        let before = model.memoryInUse
        let critical = try await model.respond(to: .critical, reason: "critical pressure")
        let released = try XCTUnwrap(critical)
        print("MemoryPressureTests: critical: memoryInUse \(before) -> \(model.memoryInUse) bytes; \(released)")
        XCTAssertEqual(0, model.memoryInUse)
        XCTAssertEqual(before, released.bytes)
        XCTAssertEqual("critical pressure", model.unloadedReason)
        let start = ContinuousClock.now
        let next = try await chat.respond(to: "And another?", options: greedyGeneration(16))
        print("MemoryPressureTests: the send after critical (reload, restore, 16 tokens) took \(ContinuousClock.now - start)")
        XCTAssertNil(model.unloadedReason)
        XCTAssertGreaterThan(model.memoryInUse, 0)
        let twinNext = try await twin.respond(to: "And another?", options: greedyGeneration(16))
        XCTAssertEqual(twinNext.ids, next.ids)
        XCTAssertEqual(twin.history, chat.history)
    }

    func testAReplyRunningDuringAReleaseFinishesUnderCachesAndIsCancelledUnderModel() async throws {
        let chat = try model.chatSession()
        let twin = try twins.chatSession()
        // `.caches` never frees what a running reply uses: it goes on to the twin's very tokens.
        let running = try await replyAfterFirstEvent(chat, longPrompt, greedyGeneration(200))
        let hidden = try await model.respond(to: .hidden)
        let released = try XCTUnwrap(hidden)
        XCTAssertEqual([1, 0], [released.chatsBusy, released.chatsOffloaded])
        let finished = try await running.value
        let twinFinished = try await twin.respond(to: longPrompt, options: greedyGeneration(200))
        XCTAssertEqual(twinFinished.ids, finished.ids)

        // `.model` cancels it (within a token): the session keeps the reply so far.
        let cancelled = try await replyAfterFirstEvent(chat, "Tell me more.", greedyGeneration(2000))
        _ = try await model.respond(to: .critical)
        let last = try await cancelled.value
        XCTAssertEqual(.cancelled, last.finishReason)
        XCTAssertLessThan(last.stats.generatedTokens, 2000)
        XCTAssertEqual(["Tell me more.", last.text], chat.history.suffix(2).map(\.text))
        XCTAssertNotNil(model.unloadedReason)
        // The next turn reloads the model and goes on from the kept history.
        let goOn = try await chat.respond(to: "Go on.", options: greedyGeneration(4))
        XCTAssertEqual(.length, goOn.finishReason)
        XCTAssertNil(model.unloadedReason)
        XCTAssertEqual(6, chat.history.count)
    }

    func testWithNoPolicyNothingIsReleasedButTheAppsOwnCallStillIs() async throws {
        _ = try await twins.chatSession().respond(to: "Hi", options: greedyGeneration(4))
        for pressure in MemoryPressure.allCases {
            let released = try await twins.respond(to: pressure)
            XCTAssertNil(released)
        }
        XCTAssertNil(twins.unloadedReason)
        let released = try await twins.releaseMemory(.model, reason: "the app's own policy")
        XCTAssertEqual("the app's own policy", twins.unloadedReason)
        XCTAssertEqual(0, twins.memoryInUse)
        XCTAssertGreaterThan(released.bytes, 0)
    }

    /// A session of the model and its twin (of the model with no policy), after the same first turn.
    private func twinSessions(system: String? = nil, first: String, tokens: Int) async throws -> (ChatSession, ChatSession) {
        let chat = try model.chatSession(system: system)
        let twin = try twins.chatSession(system: system)
        let reply = try await chat.respond(to: first, options: greedyGeneration(tokens))
        let twinReply = try await twin.respond(to: first, options: greedyGeneration(tokens))
        XCTAssertEqual(twinReply.ids, reply.ids)
        return (chat, twin)
    }

    /// Starts a reply on `session` and returns once its first event has come; the task gives the reply.
    private func replyAfterFirstEvent(
        _ session: ChatSession, _ text: String, _ options: GenerationOptions
    ) async throws -> Task<Reply, Error> {
        let (firstEvent, signal) = AsyncStream<Void>.makeStream()
        let task = Task {
            var reply: Reply?
            for try await event in session.send(text, options: options) {
                signal.yield()
                reply = event.reply ?? reply
            }
            return try XCTUnwrap(reply)
        }
        for await _ in firstEvent { break }
        return task
    }
}
