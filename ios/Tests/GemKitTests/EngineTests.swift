// Loading and what an engine reports: its shape, options, memory and budget, tokens, logging.
import Foundation
import GemKit
import XCTest

/// Keeps what it is sent, from `target`s starting with `prefix`; throws `thrown` instead if set.
final class Recorder: Logger, @unchecked Sendable {
    // @unchecked: `kept` is only touched under `lock`.
    private let lock = NSLock()
    private var kept: [LogRecord] = []
    private let prefix: String
    private let thrown: [any Error & Sendable]

    init(prefix: String = "", throwing thrown: [any Error & Sendable] = []) {
        self.prefix = prefix
        self.thrown = thrown
    }

    func log(record: LogRecord) throws {
        try lock.withLock {
            guard record.target.hasPrefix(prefix) else { return }
            kept.append(record)
            if !thrown.isEmpty { throw thrown[kept.count % thrown.count] }
        }
    }

    var records: [LogRecord] { lock.withLock { kept } }
}

final class EngineTests: XCTestCase {
    func testLoadsTheModelAndReportsItsShape() throws {
        let info = try loadEngine().info()
        XCTAssertEqual("gemma3", info.architecture)
        XCTAssertEqual(18, info.layers)
        XCTAssertEqual(640, info.embeddingLength)
        XCTAssertEqual(4, info.heads)
        XCTAssertEqual(1, info.kvHeads)
        XCTAssertEqual(256, info.headDim)
        XCTAssertEqual(262144, info.vocabSize)
        XCTAssertEqual(32768, info.trainContext)
        XCTAssertEqual(4096, info.contextLength)
        XCTAssertEqual(512, info.slidingWindow)
        XCTAssertEqual(15, info.slidingLayers)
        let size = try FileManager.default.attributesOfItem(atPath: modelPath())[.size] as? UInt64
        XCTAssertEqual(size, info.fileBytes)
        XCTAssertEqual(246587904, info.tensorBytes)
        XCTAssert(info.kvCacheBytes > 0 && info.loadMs > 0, "\(info)")
    }

    func testOptionsReachTheCore() throws {
        let f16 = try loadEngine(EngineOptions(contextLength: 256, threads: 1)).info()
        XCTAssertEqual(256, f16.contextLength)
        XCTAssertEqual(1, f16.threads)
        let f32 = try loadEngine(EngineOptions(contextLength: 256, kvType: .f32)).info()
        XCTAssertEqual(2 * f16.kvCacheBytes, f32.kvCacheBytes)
    }

    func testTheEstimateIsWhatTheEngineThenHolds() throws {
        let estimate = try estimateMemory(path: modelPath())
        XCTAssertEqual(estimate.fixedBytes + estimate.scratchBytes + estimate.kvCacheBytes, estimate.anonymousBytes)
        let engine = try loadEngine()
        XCTAssertEqual(estimate.kvCacheBytes, try engine.info().kvCacheBytes)
        XCTAssertEqual(estimate.fixedBytes + estimate.scratchBytes, engine.memoryInUse())
        withExtendedLifetime(try engine.newChat()) {
            XCTAssertEqual(estimate.anonymousBytes, engine.memoryInUse())
        }
        XCTAssertEqual(estimate.fixedBytes + estimate.scratchBytes, engine.memoryInUse())
    }

    func testTheMemoryBudgetRefusesALoadOrShrinksTheContextToFit() throws {
        let estimate = try estimateMemory(path: modelPath())
        let budget = estimate.anonymousBytes - 1
        XCTAssertEqual(
            GemKitError.OutOfMemory(
                reason: "memory budget exceeded: needs \(estimate.anonymousBytes) bytes, \(budget) available"),
            try expectGemKitError { try loadEngine(EngineOptions(memoryBudget: budget)) })

        let fitted = EngineOptions(memoryBudget: budget, fitContextToBudget: true)
        let shrunk = try estimateMemory(path: modelPath(), options: fitted)
        XCTAssert(shrunk.contextLength < estimate.contextLength && shrunk.anonymousBytes <= budget, "\(shrunk)")
        let engine = try loadEngine(fitted)
        XCTAssertEqual(shrunk.contextLength, try engine.info().contextLength)
        // The budget holds the model and one chat.
        try withExtendedLifetime(try engine.newChat()) {
            let second = try expectGemKitError { try engine.newChat() }
            guard case .OutOfMemory(let message) = second else { throw second }
            XCTAssert(message.hasPrefix("memory budget exceeded: needs "), message)
        }
    }

    func testTokenizeAndDetokenize() throws {
        let engine = try loadEngine(EngineOptions(contextLength: 64))
        let ids = try engine.tokenize(text: "Hello, world!", addSpecial: true)
        XCTAssertEqual([2, 9259, 236764, 1902, 236888], ids)
        XCTAssertEqual(Array(ids.dropFirst()), try engine.tokenize(text: "Hello, world!", addSpecial: false))
        XCTAssertEqual("Hello, world!", try engine.detokenize(ids: ids))
    }

    func testTheLoggerReceivesTheEnginesRecords() throws {
        let recorder = Recorder()
        initLogging(level: .info, logger: recorder)
        defer { initLogging(level: .error, logger: nil) }
        _ = try loadEngine(EngineOptions(contextLength: 64))
        let loaded = recorder.records.filter { $0.message.hasPrefix("loaded ") }
        XCTAssertEqual(1, loaded.count)
        XCTAssertEqual(.info, loaded.first?.level)
        XCTAssert(loaded.first?.target.hasPrefix("gemkit") == true, "\(loaded)")
        XCTAssert(loaded.first?.message.contains(try modelPath()) == true, "\(loaded)")
    }

    func testALoggerThatThrowsLosesTheRecordNotTheCall() throws {
        // GemKitError is the one type UniFFI cannot bring back into Rust.
        let recorder = Recorder(throwing: [
            Failure(description: "logger failed"), GemKitError.Internal(reason: "logger failed"),
        ])
        initLogging(level: .info, logger: recorder)
        defer { initLogging(level: .error, logger: nil) }
        for _ in 0..<2 {
            XCTAssertEqual(64, try loadEngine(EngineOptions(contextLength: 64)).info().contextLength)
        }
        // Each load logs one line, and each call threw: the second still came.
        let loaded = "loaded \(try modelPath()) (18 layers, 64 context, "
        XCTAssertEqual([LogLevel.info, .info], recorder.records.map(\.level))
        for record in recorder.records {
            XCTAssert(record.target.hasPrefix("gemkit") && record.message.hasPrefix(loaded), "\(record)")
        }
    }
}
