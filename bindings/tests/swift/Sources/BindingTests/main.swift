// The generated Swift against the host-built library and the real model: what loads, what a
// model reports, and every error as an app sees it (case and the core's message).
import Foundation
import GemKit

guard let modelPath = ProcessInfo.processInfo.environment["GEMKIT_MODEL"] else {
    fatalError("set GEMKIT_MODEL to the model's path")
}
let t = Harness()

t.test("loads the model and reports its shape") {
    let info = try loadModel(path: modelPath, options: ModelOptions()).info()
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
    let info = try loadModel(path: modelPath, options: ModelOptions(contextLength: 256, threads: 1)).info()
    try expectEqual(256, info.contextLength)
    try expectEqual(1, info.threads)
}

t.test("tokenize and detokenize") {
    let model = try loadModel(path: modelPath, options: ModelOptions(contextLength: 64))
    let ids = try model.tokenize(text: "Hello, world!", addSpecial: true)
    try expectEqual([2, 9259, 236764, 1902, 236888], ids)
    try expectEqual(Array(ids.dropFirst()), try model.tokenize(text: "Hello, world!", addSpecial: false))
    try expectEqual("Hello, world!", try model.detokenize(ids: ids))
}

t.test("a missing file is Io, with the core's message everywhere") {
    let error = try expectThrows { try loadModel(path: "/nonexistent/model.gguf", options: ModelOptions()) }
    let message = "cannot open /nonexistent/model.gguf: No such file or directory (os error 2)"
    try expectEqual(GemKitError.Io(message: message), error as? GemKitError)
    try expectEqual(message, error.localizedDescription)
    try expectEqual(message, "\(error)")
}

t.test("a corrupt file is InvalidModel") {
    let bad = FileManager.default.temporaryDirectory.appendingPathComponent("corrupt-\(getpid()).gguf")
    try "not a model".write(to: bad, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: bad) }
    let error = try expectThrows { try loadModel(path: bad.path, options: ModelOptions()) }
    guard case .InvalidModel(let message) = error as? GemKitError else { throw error }
    try expect(message.hasPrefix("invalid GGUF file: "), message)
}

t.test("impossible options are InvalidArgument") {
    let threads = try expectThrows { try loadModel(path: modelPath, options: ModelOptions(threads: 100000)) }
    try expectEqual(
        GemKitError.InvalidArgument(message: "invalid argument: threads must be 1 to 256, not 100000"),
        threads as? GemKitError)
    let context = try expectThrows { try loadModel(path: modelPath, options: ModelOptions(contextLength: 1000000)) }
    try expectEqual(
        GemKitError.InvalidArgument(
            message: "invalid argument: context length 1000000 exceeds the 32768 tokens the model was trained with"),
        context as? GemKitError)
}

t.test("an unknown token id is InvalidArgument") {
    let model = try loadModel(path: modelPath, options: ModelOptions(contextLength: 64))
    let error = try expectThrows { try model.detokenize(ids: [2, 999999]) }
    try expectEqual(
        GemKitError.InvalidArgument(message: "token id 999999 is outside the vocabulary of 262144 tokens"),
        error as? GemKitError)
}

/// Keeps what it is sent; throws instead when `failing`.
final class Recorder: Logger, @unchecked Sendable {
    private let lock = NSLock()
    private var kept: [LogRecord] = []
    private let failing: Bool

    init(failing: Bool = false) { self.failing = failing }

    func log(record: LogRecord) throws {
        lock.lock()
        defer { lock.unlock() }
        kept.append(record)
        if failing { throw Failure(description: "logger failed") }
    }

    var records: [LogRecord] {
        lock.lock()
        defer { lock.unlock() }
        return kept
    }
}

t.test("the logger receives the engine's records") {
    let recorder = Recorder()
    initLogging(level: .info, logger: recorder)
    defer { initLogging(level: .error, logger: nil) }
    _ = try loadModel(path: modelPath, options: ModelOptions(contextLength: 64))
    let loaded = recorder.records.filter { $0.message.hasPrefix("loaded ") }
    try expectEqual(1, loaded.count)
    try expectEqual(.info, loaded[0].level)
    try expect(loaded[0].target.hasPrefix("gemkit"), loaded[0].target)
    try expect(loaded[0].message.contains(modelPath), loaded[0].message)
}

t.test("a logger that throws loses the record, not the call") {
    let recorder = Recorder(failing: true)
    initLogging(level: .info, logger: recorder)
    defer { initLogging(level: .error, logger: nil) }
    _ = try loadModel(path: modelPath, options: ModelOptions(contextLength: 64))
    try expect(!recorder.records.isEmpty, "the logger was never called")
}

t.runAndExit()
