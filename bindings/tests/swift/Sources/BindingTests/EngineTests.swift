// Loading and what an engine reports: its shape, options, memory and budget, tokens, logging.
import Foundation
import GemKit

/// Keeps what it is sent, from `target`s starting with `prefix`; throws `thrown` instead if set.
final class Recorder: Logger, @unchecked Sendable {
    private let lock = NSLock()
    private var kept: [LogRecord] = []
    private let prefix: String
    private let thrown: [Error]

    init(prefix: String = "", throwing thrown: [Error] = []) {
        self.prefix = prefix
        self.thrown = thrown
    }

    func log(record: LogRecord) throws {
        lock.lock()
        defer { lock.unlock() }
        guard record.target.hasPrefix(prefix) else { return }
        kept.append(record)
        if !thrown.isEmpty { throw thrown[kept.count % thrown.count] }
    }

    var records: [LogRecord] {
        lock.lock()
        defer { lock.unlock() }
        return kept
    }
}

func engineTests(_ t: Harness, _ modelPath: String) {
    t.test("loads the model and reports its shape") {
        let info = try Engine.load(path: modelPath).info()
        try expectEqual("gemma3", info.architecture)
        try expectEqual(18, info.layers)
        try expectEqual(640, info.embeddingLength)
        try expectEqual(4, info.heads)
        try expectEqual(1, info.kvHeads)
        try expectEqual(256, info.headDim)
        try expectEqual(262144, info.vocabSize)
        try expectEqual(32768, info.trainContext)
        try expectEqual(4096, info.contextLength)
        try expectEqual(512, info.slidingWindow)
        try expectEqual(15, info.slidingLayers)
        let size = try FileManager.default.attributesOfItem(atPath: modelPath)[.size] as! UInt64
        try expectEqual(size, info.fileBytes)
        try expectEqual(246587904, info.tensorBytes)
        try expect(info.kvCacheBytes > 0 && info.loadMs > 0, "\(info)")
    }

    t.test("options reach the core") {
        let f16 = try Engine.load(path: modelPath, options: EngineOptions(contextLength: 256, threads: 1)).info()
        try expectEqual(256, f16.contextLength)
        try expectEqual(1, f16.threads)
        let f32 = try Engine.load(path: modelPath, options: EngineOptions(contextLength: 256, kvType: .f32)).info()
        try expectEqual(2 * f16.kvCacheBytes, f32.kvCacheBytes)
    }

    t.test("the estimate is what the engine then holds") {
        let estimate = try estimateMemory(path: modelPath)
        try expectEqual(estimate.fixedBytes + estimate.scratchBytes + estimate.kvCacheBytes, estimate.anonymousBytes)
        let engine = try Engine.load(path: modelPath)
        try expectEqual(estimate.kvCacheBytes, engine.info().kvCacheBytes)
        try expectEqual(estimate.fixedBytes + estimate.scratchBytes, engine.memoryInUse())
        try withExtendedLifetime(try engine.newChat()) {
            try expectEqual(estimate.anonymousBytes, engine.memoryInUse())
        }
        try expectEqual(estimate.fixedBytes + estimate.scratchBytes, engine.memoryInUse())
    }

    t.test("the memory budget refuses a load, or shrinks the context to fit") {
        let estimate = try estimateMemory(path: modelPath)
        let budget = estimate.anonymousBytes - 1
        let refused = try expectThrows { try Engine.load(path: modelPath, options: EngineOptions(memoryBudget: budget)) }
        try expectEqual(
            GemKitError.OutOfMemory(
                message: "memory budget exceeded: needs \(estimate.anonymousBytes) bytes, \(budget) available"),
            refused as? GemKitError)

        let fitted = EngineOptions(memoryBudget: budget, fitContextToBudget: true)
        let shrunk = try estimateMemory(path: modelPath, options: fitted)
        try expect(shrunk.contextLength < estimate.contextLength && shrunk.anonymousBytes <= budget, "\(shrunk)")
        let engine = try Engine.load(path: modelPath, options: fitted)
        try expectEqual(shrunk.contextLength, engine.info().contextLength)
        // The budget holds the model and one chat.
        try withExtendedLifetime(try engine.newChat()) {
            let second = try expectThrows { try engine.newChat() }
            guard case .OutOfMemory(let message) = second as? GemKitError else { throw second }
            try expect(message.hasPrefix("memory budget exceeded: needs "), message)
        }
    }

    t.test("tokenize and detokenize") {
        let engine = try Engine.load(path: modelPath, options: EngineOptions(contextLength: 64))
        let ids = try engine.tokenize(text: "Hello, world!", addSpecial: true)
        try expectEqual([2, 9259, 236764, 1902, 236888], ids)
        try expectEqual(Array(ids.dropFirst()), try engine.tokenize(text: "Hello, world!", addSpecial: false))
        try expectEqual("Hello, world!", try engine.detokenize(ids: ids))
    }

    t.test("the logger receives the engine's records") {
        let recorder = Recorder()
        initLogging(level: .info, logger: recorder)
        defer { initLogging(level: .error, logger: nil) }
        _ = try Engine.load(path: modelPath, options: EngineOptions(contextLength: 64))
        let loaded = recorder.records.filter { $0.message.hasPrefix("loaded ") }
        try expectEqual(1, loaded.count)
        try expectEqual(.info, loaded[0].level)
        try expect(loaded[0].target.hasPrefix("gemkit"), loaded[0].target)
        try expect(loaded[0].message.contains(modelPath), loaded[0].message)
    }

    t.test("a logger that throws loses the record, not the call") {
        // GemKitError is the one type UniFFI cannot bring back into Rust.
        let recorder = Recorder(throwing: [
            Failure(description: "logger failed"), GemKitError.Internal(message: "logger failed"),
        ])
        initLogging(level: .info, logger: recorder)
        defer { initLogging(level: .error, logger: nil) }
        for _ in 0..<2 {
            _ = try Engine.load(path: modelPath, options: EngineOptions(contextLength: 64))
        }
        try expect(recorder.records.count >= 2, "the logger was called \(recorder.records.count) times")
    }
}
