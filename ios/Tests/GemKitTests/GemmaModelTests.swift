// GemmaModel: loading off the caller's actor, the memory check before mapping (refused, or the
// context shrunk to fit), and GemmaError: the engine's errors mapped in one place.
import Foundation
@testable import GemKit
import XCTest

/// Whether each record the engine logs was logged on the main thread.
final class ThreadRecorder: Logger, @unchecked Sendable {
    // @unchecked: `onMain` is only touched under `lock`.
    private let lock = NSLock()
    private var onMain: [String: Bool] = [:]

    func log(record: LogRecord) {
        lock.withLock { onMain[record.message] = Thread.isMainThread }
    }

    /// For the first record whose message starts with `prefix`.
    func loggedOnMainThread(_ prefix: String) -> Bool? {
        lock.withLock { onMain.first { $0.key.hasPrefix(prefix) }?.value }
    }
}

// @unchecked Sendable: XCTest runs one test of an instance at a time, and a @MainActor test
// hands the instance to the main actor.
final class GemmaModelTests: XCTestCase, @unchecked Sendable {
    @MainActor
    func testLoadRunsOffTheMainActorAndReportsTheModelAndItsMemory() async throws {
        let recorder = ThreadRecorder()
        initLogging(level: .info, logger: recorder)
        defer { initLogging(level: .error, logger: nil) }
        let model = try await loadModel()
        XCTAssertEqual(false, recorder.loggedOnMainThread("loaded "), "the engine loaded on the main thread")
        XCTAssertEqual("gemma3", model.info.architecture)
        XCTAssertEqual(model.info.contextLength, model.estimate.contextLength)
        let estimate = try await GemmaModel.estimate(of: URL(fileURLWithPath: modelPath()))
        XCTAssertEqual(estimate, model.estimate)
        XCTAssertEqual(model.estimate.fixedBytes + model.estimate.scratchBytes, model.memoryInUse)
        withExtendedLifetime(try model.chatSession()) {
            XCTAssertEqual(model.estimate.anonymousBytes, model.memoryInUse)
        }
    }

    func testTooLittleMemoryRefusesTheLoadAndShrinkToFitLoadsAShorterContext() async throws {
        let file = URL(fileURLWithPath: try modelPath())
        let full = try await GemmaModel.estimate(of: file)
        let refused = try await expectGemmaError { try await GemmaModel.load(from: file, options: LoadOptions(availableMemory: { 1000 })) }
        XCTAssertEqual(.notEnoughMemory(needed: full.anonymousBytes, available: 1000), refused)
        XCTAssert(refused.localizedDescription.contains("0.0 MB available"), refused.localizedDescription)

        let available = full.anonymousBytes - 1
        let shrunk = try await GemmaModel.load(
            from: file, options: LoadOptions(shrinkContextToFit: true, availableMemory: { available }))
        XCTAssertLessThan(shrunk.info.contextLength, full.contextLength)
        XCTAssertEqual(shrunk.info.contextLength, shrunk.estimate.contextLength)
        XCTAssertLessThanOrEqual(shrunk.estimate.anonymousBytes, available)
        // The shrunk model still chats.
        let reply = try await shrunk.chatSession().respond(to: "Hello", options: greedyGeneration(4))
        XCTAssertEqual(4, reply.stats.generatedTokens)

        let exact = try await GemmaModel.load(from: file, options: LoadOptions(availableMemory: { full.anonymousBytes }))
        XCTAssertEqual(full.contextLength, exact.info.contextLength)
    }

    func testEngineErrorsArriveAsGemmaErrorsWithTheCoresMessage() async throws {
        let missing = try await expectGemmaError { try await GemmaModel.load(from: URL(fileURLWithPath: "/nonexistent/model.gguf")) }
        XCTAssertEqual(.io("cannot open /nonexistent/model.gguf: No such file or directory (os error 2)"), missing)
        let negative = try await expectGemmaError { try await loadModel(LoadOptions(threads: -1)) }
        XCTAssertEqual(.invalidArgument("invalid argument: threads must be 0 to 4294967295, not -1"), negative)

        let small = try await loadModel(LoadOptions(contextLength: 16, availableMemory: { nil }))
        let prompt = (1...20).map { "word\($0)" }.joined(separator: " ")
        let needed = try small.engine.tokenize(text: prompt, addSpecial: true).count
        let full = try await expectGemmaError { try await events(small.complete(prompt, options: greedyGeneration(4))) }
        XCTAssertEqual(.contextFull(tokens: needed, contextSize: 16), full)
        XCTAssert(full.localizedDescription.contains("\(needed) tokens"), full.localizedDescription)

        let prefix = try await small.chatPrefix(system: "Be brief.")
        let other = try await loadModel()
        let foreign = try await expectGemmaError { try other.chatSession(from: prefix) }
        XCTAssertEqual(.invalidArgument("invalid argument: the prefix belongs to another engine"), foreign)

        let bad = URL(fileURLWithPath: tempPath("bad.chat"))
        try "not a chat".write(to: bad, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: bad) }
        let notAChat = try await expectGemmaError { try await other.restoreChat(from: bad) }
        XCTAssertEqual(.invalidChatFile("invalid chat file \(bad.path): not a GemKit chat file"), notAChat)
    }

    func testEveryEngineErrorMapsToItsCase() {
        let cases: [(GemKitError, GemmaError)] = [
            (.Io(reason: "m"), .io("m")),
            (.InvalidModel(reason: "m"), .invalidModel("m")),
            (.UnsupportedModel(reason: "m"), .unsupportedModel("m")),
            (.InvalidArgument(reason: "m"), .invalidArgument("m")),
            // The numbers are the engine's fields: a message without them maps the same.
            (.ContextFull(reason: "the context is full", needed: 9000, limit: 8192), .contextFull(tokens: 9000, contextSize: 8192)),
            (.OutOfMemory(reason: "m"), .outOfMemory("m")),
            (.Busy(reason: "m"), .busy("m")),
            (.InvalidChatFile(reason: "m"), .invalidChatFile("m")),
            (.Internal(reason: "m"), .internal("m")),
        ]
        for (engine, wrapper) in cases {
            XCTAssertEqual(wrapper, GemmaError(engine))
            XCTAssertNotNil(wrapper.errorDescription)
        }
        XCTAssertEqual(.download(.http(status: 404)), GemmaError(DownloadError.http(status: 404)))
        XCTAssertEqual("The server answered HTTP 404.", GemmaError.download(.http(status: 404)).errorDescription)
    }
}
