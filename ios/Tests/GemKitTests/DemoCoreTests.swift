// The demo's view models, driven as its screens drive them: a download from the fault server
// with its memory check, verification, loading and deletion; a chat and a stop; a proofread;
// and the keyboard's fix key on a document that stands in for UITextDocumentProxy.
import Foundation
@testable import GemKit
@testable import GemKitDemoCore
import XCTest

// @unchecked Sendable, here and below: XCTest runs one test of an instance at a time, and a
// @MainActor test hands the instance to the main actor.
final class ModelScreenModelTests: DownloadTestCase, @unchecked Sendable {
    @MainActor
    func testDownloadCheckTheMemoryVerifyLoadAndDelete() async throws {
        let digest = try await server.digest("gemma.gguf")
        let spec = ModelSpec(url: server.url(file: "gemma.gguf"), sha256: digest.sha256, sizeBytes: digest.size, fileName: "gemma.gguf")
        let memory = Locked<UInt64?>(1000)
        let screen = ModelScreenModel(
            downloader: downloader(), spec: spec, loadOptions: LoadOptions(availableMemory: { memory.withLock { $0 } }))
        XCTAssertEqual(.notDownloaded, screen.availability)
        let following = Task { await screen.follow() }
        defer { following.cancel() }

        screen.startDownload()
        let file = directory.appendingPathComponent("gemma.gguf")
        try await eventually("the download") { screen.availability == .available(file) }
        try await eventually("the memory check") { screen.memory != nil }
        let estimate = try await GemmaModel.estimate(of: file)
        XCTAssertEqual(MemoryFit(estimate: estimate, available: 1000), screen.memory)
        XCTAssertEqual(false, screen.memory?.fits)
        await screen.verify()
        XCTAssertEqual(true, screen.verified)

        await screen.load()
        XCTAssertEqual(.notEnoughMemory(needed: estimate.anonymousBytes, available: 1000), screen.error)
        XCTAssertNil(screen.model)
        memory.withLock { $0 = nil }
        await screen.load()
        XCTAssertEqual("gemma3", screen.model?.info.architecture)

        await screen.delete()
        try await eventually("the deletion") { screen.availability == .notDownloaded }
        XCTAssertNil(screen.model)
        XCTAssertEqual([], try filesLeft())
    }

    @MainActor
    func testADownloadShowsItsProgressAndCancellingItKeepsThePart() async throws {
        let big = "synthetic-1500000.bin"
        let digest = try await server.digest(big)
        let spec = ModelSpec(url: server.url("slow/1000000", file: big), sha256: digest.sha256, fileName: "model.gguf")
        let screen = ModelScreenModel(downloader: downloader(), spec: spec)
        let following = Task { await screen.follow() }
        defer { following.cancel() }
        screen.startDownload()
        try await eventually("some progress") {
            if case .downloading(let progress) = screen.availability { progress.bytes > 0 } else { false }
        }
        screen.cancelDownload()
        try await eventually("the cancel") { screen.availability == .notDownloaded }
        XCTAssertNil(screen.error)
        XCTAssertEqual(["model.gguf.part", "model.gguf.part.json"], try filesLeft())
    }
}

final class ScreenModelTests: XCTestCase, @unchecked Sendable {
    private var model: GemmaModel!

    override func setUp() async throws {
        model = try await loadModel()
    }

    @MainActor
    func testAChatShowsRepliesWithTheirStatsAndStopKeepsWhatCame() async throws {
        let chat = try ChatScreenModel(model: model, options: greedyGeneration(12))
        chat.draft = "What is the sun?"
        await chat.send()
        XCTAssertEqual(["What is the sun?"], chat.lines.filter { $0.role == .user }.map(\.text))
        let reply = try XCTUnwrap(chat.lines.last)
        XCTAssertEqual(.model, reply.role)
        XCTAssertFalse(reply.text.isEmpty)
        XCTAssertEqual(.length, reply.finishReason)
        XCTAssert(try XCTUnwrap(reply.stats).summary.hasSuffix(" tok/s"), "\(reply)")
        XCTAssertEqual("", chat.draft)
        XCTAssertFalse(chat.isResponding)

        chat.options = greedyGeneration(2000)
        chat.draft = longPrompt
        let sending = Task { await chat.send() }
        try await eventually("the story") { chat.lines.count == 4 && !chat.lines[3].text.isEmpty }
        XCTAssertTrue(chat.isResponding)
        chat.stop()
        await sending.value
        XCTAssertEqual(.cancelled, chat.lines[3].finishReason)
        XCTAssertNil(chat.lines[3].stats)
        XCTAssertFalse(chat.isResponding)
        XCTAssertNil(chat.error)

        chat.options = greedyGeneration(8)
        chat.draft = "Go on."
        await chat.send()
        XCTAssertEqual(6, chat.lines.count)
        XCTAssertEqual(.length, chat.lines[5].finishReason)
    }

    @MainActor
    func testTheGrammarScreenShowsTheCorrectionAndANewerCheckReplacesARunningOne() async throws {
        let grammar = GrammarScreenModel(model: model)
        grammar.text = "she go to school yesterday"
        await grammar.proofread()
        let correction = try XCTUnwrap(grammar.correction)
        XCTAssertEqual("she go to school yesterday", correction.original)
        XCTAssertEqual(correction.original, correction.segments.filter { $0.kind != .inserted }.map(\.text).joined())
        XCTAssertEqual(correction.corrected, correction.segments.filter { $0.kind != .deleted }.map(\.text).joined())
        XCTAssertFalse(grammar.isChecking)

        grammar.text = "yesterday me and him goes to the market for buy some apple, but it were closed"
        let older = Task { await grammar.proofread() }
        try await eventually("the older check") { grammar.isChecking }
        grammar.text = "i has a cat"
        await grammar.proofread()
        await older.value
        XCTAssertEqual("i has a cat", grammar.correction?.original)
        XCTAssertNil(grammar.error)
        XCTAssertFalse(grammar.isChecking)
    }
}

/// A text field's content around the cursor, as a keyboard sees it. `typedMeanwhile` is typed
/// by the user on the second look at the text, while a fix is running.
@MainActor
final class FakeDocument: TextDocument {
    private(set) var before: String
    private let after: String
    private var typedMeanwhile: String?
    private var looks = 0

    init(before: String, after: String = "", typedMeanwhile: String? = nil) {
        self.before = before
        self.after = after
        self.typedMeanwhile = typedMeanwhile
    }

    var text: String { before + after }

    var documentContextBeforeInput: String? {
        looks += 1
        if looks == 2, let typed = typedMeanwhile { before += typed }
        return before
    }

    func deleteBackward() {
        before.removeLast()
    }

    func insertText(_ text: String) {
        before += text
    }
}

final class KeyboardFixModelTests: XCTestCase, @unchecked Sendable {
    func testTheSmallestEditKeepsTheCommonBeginningInWholeCharacters() {
        let edit = TextEdit(from: "I has a cat", to: "I have a cat")
        XCTAssertEqual(7, edit.deleteCount)
        XCTAssertEqual("ve a cat", edit.insert)
        let emoji = TextEdit(from: "nice 👍🏽 ok", to: "nice 👍🏽 OK")
        XCTAssertEqual(2, emoji.deleteCount)
        XCTAssertEqual("OK", emoji.insert)
        XCTAssertTrue(TextEdit(from: "same", to: "same").isEmpty)
    }

    @MainActor
    func testAParagraphIsReplacedByItsCorrectionUnlessTheUserTypedMeanwhile() async throws {
        let document = FakeDocument(before: "Dear Ann,\nshe go to school yesterday  ", after: " Love, Bo")
        let paragraph = try XCTUnwrap(CursorParagraph(document.documentContextBeforeInput))
        XCTAssertEqual("she go to school yesterday", paragraph.text)
        let edit = paragraph.replace(with: "She went to school yesterday.", in: document)
        XCTAssertEqual(TextEdit(from: "she go to school yesterday  ", to: "She went to school yesterday.  "), edit)
        XCTAssertEqual(28, edit?.deleteCount)
        XCTAssertEqual("Dear Ann,\nShe went to school yesterday.  ", document.before)
        XCTAssertEqual("Dear Ann,\nShe went to school yesterday.   Love, Bo", document.text)

        let typing = FakeDocument(before: "she go", typedMeanwhile: "!")
        let typed = try XCTUnwrap(CursorParagraph(typing.documentContextBeforeInput))
        XCTAssertNil(typed.replace(with: "She goes", in: typing), "the fix overwrote what the user typed meanwhile")
        XCTAssertEqual("she go!", typing.before)
        XCTAssertNil(CursorParagraph("Dear Ann,\n  "))
    }

    @MainActor
    func testTheFixKeyProofreadsWithOneSmallModelForTheProcess() async throws {
        let file = URL(fileURLWithPath: try modelPath())
        let paragraph = "she go to school yesterday"
        // The test model is a base model: its corrections never finish, so they change nothing.
        let correction = try await loadModel().proofreader().proofread(paragraph)
        let recorder = Recorder(prefix: "gemkit")
        initLogging(level: .info, logger: recorder)
        defer { initLogging(level: .error, logger: nil) }

        for _ in 0..<2 {  // a keyboard view controller each time, one process
            let document = FakeDocument(before: "Dear Ann,\n\(paragraph)  ")
            let keyboard = KeyboardFixModel(modelFile: file, availableMemory: { nil })
            let edit = await keyboard.fix(document)
            XCTAssertNil(keyboard.error)
            XCTAssertEqual(correction.hasChanges, edit != nil)
            XCTAssertEqual("Dear Ann,\n\(correction.corrected)  ", document.before)
        }
        let loads = recorder.records.map(\.message).filter { $0.hasPrefix("loaded ") }
        XCTAssertEqual(1, loads.count, "\(loads)")
        XCTAssert(loads.first?.contains(" \(KeyboardFixModel.contextLength) context") == true, "\(loads)")
    }
}
