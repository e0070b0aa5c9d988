// The README's iOS quickstart, verbatim between the markers below: the test checks that the
// README still says exactly this, then runs it against the fault server and the real model.
import Foundation
import GemKit
import XCTest

/// What the quickstart writes to: an app's labels.
@MainActor
final class QuickstartScreen {
    var progress = ""
    var answer = ""
    var fixed = ""

    func quickstart(spec: ModelSpec, models: URL) async throws {
        // README quickstart begins
        // In a Task on the main actor; nothing here blocks it.
        let downloader = ModelDownloader(directory: models)
        for await status in downloader.download(spec) {
            if case .progress(let p) = status { progress = "\(p.bytes) bytes" }
        }
        guard case .available(let file) = downloader.availability(of: spec) else { return }
        let model = try await GemmaModel.load(from: file)                 // checks the device's memory first
        let chat = try model.chatSession(system: "Answer briefly.")
        for try await event in chat.send("Why is the sky blue?") {        // cancel the task to stop
            answer = event.text                                           // the reply so far
            if let reply = event.reply { answer += "\n\(reply.stats.decodeTokS) tok/s" }
        }
        fixed = try await model.proofreader().proofread("i has two cat").corrected
        // README quickstart ends
    }
}

final class QuickstartTests: DownloadTestCase {
    func testTheREADMEsQuickstartIsThisOneAndItRuns() async throws {
        XCTAssertEqual(try quickstart(in: "ios/Tests/GemKitTests/QuickstartTests.swift", indent: 8), try readmeQuickstart())

        let digest = try await server.digest("gemma.gguf")
        let spec = ModelSpec(url: server.url(file: "gemma.gguf"), sha256: digest.sha256, sizeBytes: digest.size, fileName: "gemma.gguf")
        let screen = await QuickstartScreen()
        try await screen.quickstart(spec: spec, models: directory)
        let (progress, answer, fixed) = await (screen.progress, screen.answer, screen.fixed)
        XCTAssertEqual("\(digest.size) bytes", progress)
        XCTAssert(answer.hasSuffix(" tok/s") && answer.count > 10, answer)
        XCTAssertFalse(fixed.isEmpty)
    }

    /// The repository's root, four levels above this file (scripts/test-swift.sh mounts the README
    /// into the chroot at its own path).
    private let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    private func lines(_ path: String) throws -> [String] {
        try String(contentsOf: repo.appendingPathComponent(path), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    private func quickstart(in path: String, indent: Int) throws -> String {
        let all = try lines(path)
        let begin = try XCTUnwrap(all.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "// README quickstart begins" })
        let end = try XCTUnwrap(all.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "// README quickstart ends" })
        return all[(begin + 1)..<end].map { String($0.dropFirst(indent)) }.joined(separator: "\n")
    }

    private func readmeQuickstart() throws -> String {
        let all = try lines("README.md")
        let section = try XCTUnwrap(all.firstIndex(of: "## iOS quickstart"))
        let open = try XCTUnwrap(all[section...].firstIndex(of: "```swift")) + 1
        let close = try XCTUnwrap(all[open...].firstIndex(of: "```"))
        return all[open..<close].joined(separator: "\n")
    }
}
