// Every GemKitError case an app can meet, each with the core's one-line message, thrown by the
// call or handed to the listener's onError. (Internal is a caught panic: a bug, which no input
// reaches; the Rust tests of gemkit-ffi cover it.)
import Foundation
@testable import GemKit
import XCTest

/// A valid GGUF header naming an architecture GemKit does not run.
func llamaHeader() -> Data {
    var data = Data("GGUF".utf8)
    func put<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
    }
    func put(_ string: String) {
        put(UInt64(string.utf8.count))
        data.append(contentsOf: Array(string.utf8))
    }
    put(UInt32(3))
    put(UInt64(0))
    put(UInt64(1))
    put("general.architecture")
    put(UInt32(8))
    put("llama")
    return data
}

final class ErrorTests: XCTestCase {
    /// The engine that tests without options of their own share, as an app would.
    private var engine: Engine!

    override func setUpWithError() throws {
        engine = try loadEngine()
    }

    func testIoAMissingFileAnUnwritablePathTheMessageEverywhere() throws {
        let error = try expectGemKitError { try Engine.load(path: "/nonexistent/model.gguf") }
        let message = "cannot open /nonexistent/model.gguf: No such file or directory (os error 2)"
        XCTAssertEqual(GemKitError.Io(reason: message), error)
        XCTAssertEqual(message, error.localizedDescription)
        XCTAssertEqual(message, "\(error)")
        let chat = try engine.newChat()
        XCTAssertEqual(
            GemKitError.Io(reason: "/nonexistent/dir/saved.chat: No such file or directory (os error 2)"),
            try expectGemKitError { try chat.save(path: "/nonexistent/dir/saved.chat") })
    }

    func testInvalidModelACorruptFile() throws {
        let bad = tempPath("corrupt.gguf")
        try "not a model".write(toFile: bad, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: bad) }
        let error = try expectGemKitError { try Engine.load(path: bad) }
        guard case .InvalidModel(let message) = error else { throw error }
        XCTAssert(message.hasPrefix("invalid GGUF file: "), message)
    }

    func testUnsupportedModelAnotherArchitecture() throws {
        let llama = tempPath("llama.gguf")
        try llamaHeader().write(to: URL(fileURLWithPath: llama))
        defer { try? FileManager.default.removeItem(atPath: llama) }
        XCTAssertEqual(
            GemKitError.UnsupportedModel(reason: "unsupported architecture \"llama\" (supported: gemma, gemma2, gemma3)"),
            try expectGemKitError { try Engine.load(path: llama) })
    }

    func testInvalidArgumentOptionsTokenIdsPrefixes() throws {
        XCTAssertEqual(
            GemKitError.InvalidArgument(reason: "invalid argument: threads must be 1 to 256, not 100000"),
            try expectGemKitError { try loadEngine(EngineOptions(threads: 100000)) })
        XCTAssertEqual(
            GemKitError.InvalidArgument(
                reason: "invalid argument: context length 1000000 exceeds the 32768 tokens the model was trained with"),
            try expectGemKitError {
                try estimateMemory(path: modelPath(), options: EngineOptions(contextLength: 1000000))
            })
        XCTAssertEqual(
            GemKitError.InvalidArgument(reason: "token id 999999 is outside the vocabulary of 262144 tokens"),
            try expectGemKitError { try engine.detokenize(ids: [2, 999999]) })
        let prefix = try engine.prefix(text: "Once upon a time")
        XCTAssertEqual(
            GemKitError.InvalidArgument(
                reason: "invalid argument: this prefix is for completions; make one with chat_prefix"),
            try expectGemKitError { try engine.newChatFrom(prefix: prefix) })
        let other = try loadEngine(EngineOptions(contextLength: 64))
        let c = Collector()
        let handle = try other.complete(prefix: prefix, prompt: " there", listener: c, options: greedy(4))
        try withExtendedLifetime(handle) {
            XCTAssertEqual(
                GemKitError.InvalidArgument(reason: "invalid argument: the prefix belongs to another engine"),
                try c.error())
        }
    }

    func testContextFullAPromptLongerThanTheContextToOnError() throws {
        let small = try loadEngine(EngineOptions(contextLength: 16))
        let prompt = (1...20).map { "word\($0)" }.joined(separator: " ")
        let needed = try small.tokenize(text: prompt, addSpecial: true).count
        let c = Collector()
        let handle = try small.complete(prefix: nil, prompt: prompt, listener: c, options: greedy(4))
        try withExtendedLifetime(handle) {
            XCTAssertEqual(
                GemKitError.ContextFull(reason: "context full: needs \(needed) tokens, limit 16", needed: UInt32(needed), limit: 16),
                try c.error())
        }
        let chat = try small.newChat(options: ChatOptions(contextFull: .fail))
        let turn = Collector()
        let turnHandle = try chat.send(message: prompt, listener: turn, options: greedy(4))
        try withExtendedLifetime(turnHandle) {
            let error = try turn.error()
            guard case .ContextFull(let reason, let needed, let limit) = error else { throw error }
            XCTAssertEqual("context full: needs \(needed) tokens, limit 16", reason)
            XCTAssertEqual(16, limit)
            XCTAssertGreaterThan(needed, 16)
        }
    }

    func testOutOfMemoryABudgetSmallerThanTheModel() throws {
        let error = try expectGemKitError { try loadEngine(EngineOptions(memoryBudget: 1000)) }
        let needed = try estimateMemory(path: modelPath()).anonymousBytes
        XCTAssertEqual(GemKitError.OutOfMemory(reason: "memory budget exceeded: needs \(needed) bytes, 1000 available"), error)
    }

    func testBusyFailingFastWhileTheModelWorksAndCallingBackIntoAChatFromItsListener() throws {
        let engine: Engine = engine
        let a = try engine.newChat()
        let b = try engine.newChat()
        let release = Latch()
        let inside = Locked<[GemKitError]>([])
        let long = Collector(onPiece: { i, _ in
            guard i == 0 else { return }
            let errors = [
                try expectGemKitError { try a.history() },
                try expectGemKitError { try engine.prefix(text: "Hello") },
            ]
            inside.withLock { $0 = errors }
            try release.wait(for: "the other calls")
        })
        let handle = try a.send(message: "Write a long poem about the sea.", listener: long, options: greedy(300))
        try long.firstText.wait(for: "the poem")
        let failFast = GenerateOptions(maxTokens: 4, whenBusy: .fail)
        XCTAssertEqual(
            GemKitError.Busy(reason: "busy: the model is running another request"),
            try expectGemKitError { try b.send(message: "Hi", listener: Collector(), options: failFast) })
        handle.cancel()
        release.open()
        _ = try long.reply()
        XCTAssertEqual([
            GemKitError.Busy(reason: "busy: the chat is in use by this thread (a callback called back into it)"),
            GemKitError.Busy(reason: "busy: the model is in use by this thread (a callback called back into it)"),
        ], inside.withLock { $0 })
    }

    func testInvalidChatFileAFileThatIsNotASavedChat() throws {
        let bad = tempPath("bad.chat")
        try "not a chat".write(toFile: bad, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: bad) }
        XCTAssertEqual(
            GemKitError.InvalidChatFile(reason: "invalid chat file \(bad): not a GemKit chat file"),
            try expectGemKitError { try engine.restoreChat(path: bad) })
    }
}
