// ModelDownloader's checks, against the fault server: the hash, HTTP errors and retries, free
// space, a model already in place, trust on first use; and the real model, downloaded and loaded.
import Foundation
@testable import GemKit
import XCTest

final class DownloadCheckTests: DownloadTestCase {
    let file = "synthetic-300000.bin"
    var model: URL { directory.appendingPathComponent("model.gguf") }

    func spec(_ url: URL, sha256: String?, sizeBytes: Int64? = nil) -> ModelSpec {
        ModelSpec(url: url, sha256: sha256, sizeBytes: sizeBytes, fileName: "model.gguf", trustOnFirstUse: sha256 == nil)
    }

    func testAWrongHashFailsAndLeavesNothing() async throws {
        let digest = try await server.digest(file)
        let seen = await statuses(downloader().download(spec(server.url(file: file), sha256: digest.changed_sha256)))
        XCTAssertEqual([
            .started(totalBytes: 300000, resumedFrom: 0), .verifying,
            .failed(.checksumMismatch(expected: digest.changed_sha256, actual: digest.sha256)),
        ], seen.milestones)
        XCTAssertEqual([], try filesLeft())
    }

    func testA4xxIsNotRetried() async throws {
        let digest = try await server.digest(file)
        let notFound = await statuses(downloader().download(spec(server.url("status/404,200", file: file), sha256: digest.sha256)))
        XCTAssertEqual([.failed(.http(status: 404))], notFound)
        let requests = try await server.settledLog().map(\.status)
        XCTAssertEqual([404], requests)
        XCTAssertEqual([], try filesLeft())
    }

    func test401And403AreUnauthorized() async throws {
        // status/401, not auth/: FoundationNetworking (Linux) crashes on the bare
        // "WWW-Authenticate: Bearer" challenge that auth/ sends.
        let digest = try await server.digest(file)
        // Request 0 gets 401, request 1 gets 403.
        let url = server.url("status/401,403", file: file)
        for status in [401, 403] {
            let seen = await statuses(downloader().download(spec(url, sha256: digest.sha256)))
            XCTAssertEqual([.failed(.unauthorized(status: status))], seen)
        }
        let requests = try await server.settledLog().map(\.status)
        XCTAssertEqual([401, 403], requests)
        XCTAssertNotNil(DownloadError.unauthorized(status: 403).errorDescription?.range(of: "licence"))
    }

    func testServerErrorsAreRetriedThenSucceed() async throws {
        let digest = try await server.digest(file)
        let seen = await statuses(downloader().download(spec(server.url("status/500,503,200", file: file), sha256: digest.sha256)))
        XCTAssertEqual([.started(totalBytes: 300000, resumedFrom: 0), .verifying, .done(model, sha256: digest.sha256)], seen.milestones)
        XCTAssertEqual(try onDisk(model)?.sha256, digest.sha256)
        let requests = try await server.settledLog().map(\.status)
        XCTAssertEqual([500, 503, 200], requests)
    }

    func testRetriesEndAfterTheLimit() async throws {
        let digest = try await server.digest(file)
        let codes = Array(repeating: "500", count: 5).joined(separator: ",")
        let seen = await statuses(downloader().download(spec(server.url("status/\(codes)", file: file), sha256: digest.sha256)))
        XCTAssertEqual([.failed(.http(status: 500))], seen)
        let requests = try await server.settledLog().count
        XCTAssertEqual(1 + quickRetries.maxRetries, requests)
    }

    func testFreeSpaceIsCheckedFirstCountingThePart() async throws {
        let digest = try await server.digest(file)
        let url = server.url("drop/100000", file: file)
        // No retries: the drop leaves a part of 100000 bytes.
        let once = ModelDownloader(directory: directory, retry: RetryPolicy(maxRetries: 0))
        guard case .failed(.network)? = await statuses(once.download(spec(url, sha256: digest.sha256))).last else {
            return XCTFail("the drop did not fail the download")
        }
        XCTAssertEqual(try onDisk(directory.appendingPathComponent("model.gguf.part"))?.size, 100000)

        let sized = spec(url, sha256: digest.sha256, sizeBytes: 300000)
        let tooSmall = await statuses(downloader(freeSpace: { _ in 199_999 }).download(sized))
        XCTAssertEqual([.failed(.insufficientStorage(needed: 200000, free: 199_999))], tooSmall)
        let requests = try await server.settledLog().count
        XCTAssertEqual(1, requests, "asked the server though the space was short")

        let seen = await statuses(downloader(freeSpace: { _ in 200_000 }).download(sized))
        XCTAssertEqual([.started(totalBytes: 300000, resumedFrom: 100000), .verifying, .done(model, sha256: digest.sha256)], seen.milestones)
        XCTAssertEqual(try onDisk(model)?.sha256, digest.sha256)
    }

    func testWithoutASizeFreeSpaceIsCheckedOnTheAnswer() async throws {
        let digest = try await server.digest(file)
        let seen = await statuses(downloader(freeSpace: { _ in 1000 }).download(spec(server.url(file: file), sha256: digest.sha256)))
        XCTAssertEqual([.failed(.insufficientStorage(needed: 300000, free: 1000))], seen)
        XCTAssertEqual([], try filesLeft())
    }

    func testAModelAlreadyInPlaceIsDoneAtOnce() async throws {
        let digest = try await server.digest(file)
        let model = spec(server.url(file: file), sha256: digest.sha256)
        let loader = downloader()
        XCTAssertFalse(loader.isDownloaded(model))
        _ = await statuses(loader.download(model))
        XCTAssertTrue(loader.isDownloaded(model))
        // Its record says it was verified: no hashing, no request.
        let again = await statuses(loader.download(model))
        XCTAssertEqual([.done(self.model, sha256: digest.sha256)], again)
        // Without the record it is hashed once, still without a request.
        try FileManager.default.removeItem(at: directory.appendingPathComponent("model.gguf.verified.json"))
        XCTAssertFalse(loader.isDownloaded(model))
        let rehashed = await statuses(loader.download(model))
        XCTAssertEqual([.verifying, .done(self.model, sha256: digest.sha256)], rehashed)
        XCTAssertTrue(loader.isDownloaded(model))
        let requestsBefore = try await server.settledLog().count
        XCTAssertEqual(1, requestsBefore)
        // A file changed on disk is downloaded again, and replaced.
        let handle = try FileHandle(forWritingTo: self.model)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0]))
        try handle.close()
        XCTAssertFalse(loader.isDownloaded(model))
        let seen = await statuses(loader.download(model))
        XCTAssertEqual([.verifying, .started(totalBytes: 300000, resumedFrom: 0), .verifying, .done(self.model, sha256: digest.sha256)], seen.milestones)
        XCTAssertEqual(try onDisk(self.model)?.sha256, digest.sha256)
        let requests = try await server.settledLog().count
        XCTAssertEqual(2, requests)
    }

    func testTrustOnFirstUseKeepsTheFirstHash() async throws {
        let digest = try await server.digest(file)
        // Request 0 gets the file, later ones its changed version.
        let trusting = spec(server.url("changed", file: file), sha256: nil)
        let loader = downloader()
        let first = await statuses(loader.download(trusting)).last
        XCTAssertEqual(.done(model, sha256: digest.sha256), first)
        XCTAssertTrue(loader.isDownloaded(trusting))
        try FileManager.default.removeItem(at: model)
        XCTAssertFalse(loader.isDownloaded(trusting))
        let seen = await statuses(loader.download(trusting))
        XCTAssertEqual(.failed(.checksumMismatch(expected: digest.sha256, actual: digest.changed_sha256)), seen.last)
        XCTAssertEqual(["model.gguf.verified.json"], try filesLeft())
    }

    func testTheRealModelDownloadsAndLoads() async throws {
        let digest = try await server.digest("gemma.gguf")
        let spec = ModelSpec(
            url: server.url(file: "gemma.gguf"), sha256: digest.sha256.uppercased(), sizeBytes: digest.size,
            fileName: "gemma-3-270m-q4_k_m.gguf")
        let seen = await statuses(downloader().download(spec))
        guard case .done(let url, let sha256)? = seen.last else { return XCTFail("\(seen.milestones)") }
        XCTAssertEqual(digest.sha256, sha256)
        XCTAssertEqual(try onDisk(url)?.size, digest.size)
        XCTAssertEqual("gemma3", try Engine.load(path: url.path).info().architecture)
    }
}

/// What the downloader refuses before any request: no server needed.
final class ModelSpecTests: XCTestCase {
    func refusal(_ spec: ModelSpec) async -> [DownloadStatus] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gemkit-spec-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        return await statuses(ModelDownloader(directory: directory).download(spec))
    }

    func testInsecureURLsAreRefused() async {
        let hash = String(repeating: "ab", count: 32)
        for url in ["http://example.com/m.gguf", "http://127.evil.example/m.gguf", "ftp://127.0.0.1/m.gguf", "file:///etc/passwd"] {
            let spec = ModelSpec(url: URL(string: url)!, sha256: hash, fileName: "m.gguf")
            let seen = await refusal(spec)
            XCTAssertEqual([.failed(.insecureURL(spec.url))], seen, url)
        }
        XCTAssertTrue(URL(string: "http://127.0.0.1:8080/m")!.isSecureForDownload)
        XCTAssertTrue(URL(string: "http://[::1]:8080/m")!.isSecureForDownload)
        XCTAssertTrue(URL(string: "http://localhost/m")!.isSecureForDownload)
    }

    func testASpecMustNameAPlainFileAndAHashOrTrustOnFirstUse() async {
        let url = URL(string: "https://example.com/m.gguf")!
        let hash = String(repeating: "ab", count: 32)
        let cases: [(ModelSpec, String)] = [
            (ModelSpec(url: url, sha256: hash, fileName: "../m.gguf"), "fileName must be a plain file name, not \"../m.gguf\""),
            (ModelSpec(url: url, sha256: hash, fileName: ".."), "fileName must be a plain file name, not \"..\""),
            (ModelSpec(url: url, sha256: "abc", fileName: "m.gguf"), "sha256 must be 64 hex digits, not \"abc\""),
            (ModelSpec(url: url, sha256: nil, fileName: "m.gguf"), "m.gguf has no sha256: give one, or set trustOnFirstUse"),
        ]
        for (spec, reason) in cases {
            let seen = await refusal(spec)
            XCTAssertEqual([.failed(.invalidSpec(reason))], seen)
        }
    }
}
