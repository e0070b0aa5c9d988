// ModelDownloader against the fault server: resuming a part, and what a server that ignores or
// can no longer honour a Range makes of it. Each test checks the bytes on disk, the statuses,
// and the requests the server saw.
import Foundation
@testable import GemKit
import XCTest

final class DownloadResumeTests: DownloadTestCase {
    let file = "synthetic-300000.bin"

    func spec(_ url: URL, sha256: String?, headers: [String: String] = [:]) -> ModelSpec {
        ModelSpec(url: url, sha256: sha256, fileName: "model.gguf", headers: headers, trustOnFirstUse: sha256 == nil)
    }

    func testADropMidBodyResumesFromThePart() async throws {
        let digest = try await server.digest(file)
        let model = spec(server.url("drop/100000", file: file), sha256: digest.sha256)
        let seen = await statuses(downloader().download(model))
        let url = directory.appendingPathComponent("model.gguf")
        XCTAssertEqual([
            .started(totalBytes: 300000, resumedFrom: 0), .started(totalBytes: 300000, resumedFrom: 100000),
            .verifying, .done(url, sha256: digest.sha256),
        ], seen.milestones)
        XCTAssertEqual(300000, seen.lastProgress?.bytes)
        XCTAssertEqual(try onDisk(url)?.sha256, digest.sha256)
        XCTAssertEqual(["model.gguf", "model.gguf.verified.json"], try filesLeft())
        let log = try await server.settledLog()
        XCTAssertEqual([nil, "bytes=100000-"], log.map(\.range))
        XCTAssertEqual([nil, FaultServer.etag(digest.sha256)], log.map(\.if_range))
        XCTAssertEqual([200, 206], log.map(\.status))
        XCTAssertEqual(["identity", "identity"], log.map { $0.headers["accept-encoding"] })
    }

    func testA200ToARangeRequestStartsOverFromZero() async throws {
        let digest = try await server.digest(file)
        let model = spec(server.url("norange", "drop/100000", file: file), sha256: digest.sha256)
        let seen = await statuses(downloader().download(model))
        let url = directory.appendingPathComponent("model.gguf")
        XCTAssertEqual([
            .started(totalBytes: 300000, resumedFrom: 0), .started(totalBytes: 300000, resumedFrom: 0),
            .verifying, .done(url, sha256: digest.sha256),
        ], seen.milestones)
        XCTAssertEqual(try onDisk(url)?.size, 300000)
        XCTAssertEqual(try onDisk(url)?.sha256, digest.sha256)
        let log = try await server.settledLog()
        XCTAssertEqual([nil, "bytes=100000-"], log.map(\.range))
        XCTAssertEqual([200, 200], log.map(\.status))
    }

    func testAFileChangedBetweenAttemptsIsFetchedWhole() async throws {
        let digest = try await server.digest(file)
        let model = spec(server.url("changed", "drop/100000", file: file), sha256: digest.changed_sha256)
        let seen = await statuses(downloader().download(model))
        let url = directory.appendingPathComponent("model.gguf")
        XCTAssertEqual([
            .started(totalBytes: 300000, resumedFrom: 0), .started(totalBytes: 300000, resumedFrom: 0),
            .verifying, .done(url, sha256: digest.changed_sha256),
        ], seen.milestones)
        XCTAssertEqual(try onDisk(url)?.sha256, digest.changed_sha256)
        let log = try await server.settledLog()
        XCTAssertEqual([nil, FaultServer.etag(digest.sha256)], log.map(\.if_range))
        XCTAssertEqual([200, 200], log.map(\.status))
    }

    func testWithoutAnETagTheResumeIsCheckedByLastModified() async throws {
        let digest = try await server.digest(file)
        let model = spec(server.url("noetag", "drop/100000", file: file), sha256: digest.sha256)
        let seen = await statuses(downloader().download(model))
        XCTAssertEqual(.started(totalBytes: 300000, resumedFrom: 100000), seen.milestones.dropFirst().first)
        XCTAssertEqual(try onDisk(directory.appendingPathComponent("model.gguf"))?.sha256, digest.sha256)
        let log = try await server.settledLog()
        XCTAssertEqual([nil, "Thu, 01 Jan 2026 00:00:00 GMT"], log.map(\.if_range))
        XCTAssertEqual([200, 206], log.map(\.status))
    }

    func testTheSpecsHeadersGoWithTheResumeToo() async throws {
        let digest = try await server.digest(file)
        // Checked in the server's log, not with auth/: see test401And403AreUnauthorized.
        let model = spec(
            server.url("drop/100000", file: file), sha256: digest.sha256, headers: ["Authorization": "Bearer s3cret"])
        let seen = await statuses(downloader().download(model))
        XCTAssertEqual(.done(directory.appendingPathComponent("model.gguf"), sha256: digest.sha256), seen.last)
        let log = try await server.settledLog()
        XCTAssertEqual(["Bearer s3cret", "Bearer s3cret"], log.map { $0.headers["authorization"] })
        XCTAssertEqual([200, 206], log.map(\.status))
    }

    func testARedirectWithinTheHostKeepsTheHeadersOneToAnotherHostDropsThem() async throws {
        let digest = try await server.digest(file)
        let token = ["Authorization": "Bearer s3cret"]
        for (host, name) in [("127.0.0.1", "same.gguf"), ("localhost", "other.gguf")] {
            let model = ModelSpec(
                url: server.url("redirect/\(host)", file: file), sha256: digest.sha256, fileName: name, headers: token)
            let seen = await statuses(downloader().download(model))
            XCTAssertEqual(.done(directory.appendingPathComponent(name), sha256: digest.sha256), seen.last)
        }
        let log = try await server.settledLog()
        XCTAssertEqual([302, 200, 302, 200], log.map(\.status))
        XCTAssertEqual(["Bearer s3cret", "Bearer s3cret", "Bearer s3cret", nil], log.map { $0.headers["authorization"] })
    }

    func testAnAnswerWithoutALengthIsReadToItsEnd() async throws {
        let digest = try await server.digest(file)
        let model = spec(server.url("nolength", file: file), sha256: digest.sha256)
        let seen = await statuses(downloader().download(model))
        let url = directory.appendingPathComponent("model.gguf")
        XCTAssertEqual(
            [.started(totalBytes: nil, resumedFrom: 0), .verifying, .done(url, sha256: digest.sha256)], seen.milestones)
        let progress = seen.compactMap { if case .progress(let p) = $0 { p } else { nil } }
        XCTAssertFalse(progress.isEmpty)
        XCTAssertTrue(progress.allSatisfy { $0.totalBytes == nil && $0.eta == nil }, "\(progress)")
        XCTAssertEqual(try onDisk(url)?.sha256, digest.sha256)
    }

    func testCancellingKeepsThePartAndALaterDownloadResumesIt() async throws {
        let big = "synthetic-1500000.bin"
        let digest = try await server.digest(big)
        let model = spec(server.url("slow/1000000", file: big), sha256: digest.sha256)
        let loader = downloader()
        let (progressed, signal) = AsyncStream<Void>.makeStream()
        let first = Task {
            for await status in loader.download(model) {
                if case .progress = status { signal.yield() }
            }
        }
        var progress = progressed.makeAsyncIterator()
        _ = await progress.next()
        first.cancel()
        await first.value
        // The server saw the client leave, long before the end of the file.
        let cancelled = try await server.settledLog()
        XCTAssertEqual(1, cancelled.count)
        XCTAssertLessThan(cancelled[0].bytes_sent, digest.size)

        let seen = await statuses(loader.download(model))
        guard case .started(let total, let resumedFrom)? = seen.first else {
            return XCTFail("\(seen)")
        }
        XCTAssertEqual(digest.size, total)
        XCTAssert(resumedFrom > 0 && resumedFrom <= cancelled[0].bytes_sent, "\(resumedFrom)")
        XCTAssertEqual(.done(directory.appendingPathComponent("model.gguf"), sha256: digest.sha256), seen.last)
        XCTAssertEqual(try onDisk(directory.appendingPathComponent("model.gguf"))?.sha256, digest.sha256)
        let log = try await server.settledLog()
        XCTAssertEqual([nil, "bytes=\(resumedFrom)-"], log.map(\.range))
    }

    func testTwoDownloadsOfOneSpecShareOneTransfer() async throws {
        let digest = try await server.digest(file)
        let model = spec(server.url("slow/1000000", file: file), sha256: digest.sha256)
        let loader = downloader()
        var first = loader.download(model).makeAsyncIterator()
        let started = await first.next()
        XCTAssertEqual(.started(totalBytes: 300000, resumedFrom: 0), started)
        // Joining mid-transfer: the start is told again, then what follows.
        async let second = statuses(loader.download(model))
        var rest: [DownloadStatus] = []
        while let status = await first.next() { rest.append(status) }
        let joined = await second
        let done = DownloadStatus.done(directory.appendingPathComponent("model.gguf"), sha256: digest.sha256)
        XCTAssertEqual(done, rest.last)
        XCTAssertEqual(started, joined.first)
        XCTAssertEqual(done, joined.last)
        let requests = try await server.settledLog().count
        XCTAssertEqual(1, requests)

    }

    func testAnotherSpecForTheSameFileIsRefusedWhileOneRuns() async throws {
        let digest = try await server.digest(file)
        let loader = downloader()
        let slow = spec(server.url("slow/100000", file: file), sha256: digest.sha256)
        do {
            var running = loader.download(slow).makeAsyncIterator()
            let started = await running.next()
            XCTAssertEqual(.started(totalBytes: 300000, resumedFrom: 0), started)
            let other = spec(server.url(file: file), sha256: digest.sha256)
            let refused = await statuses(loader.download(other))
            XCTAssertEqual([.failed(.invalidSpec("model.gguf is being downloaded from another spec"))], refused)
        }
        // Dropping the only stream stopped the transfer: the server saw the client leave.
        let requests = try await server.settledLog()
        XCTAssertEqual(1, requests.count)
        XCTAssertLessThan(requests[0].bytes_sent, 300000)
    }
}
