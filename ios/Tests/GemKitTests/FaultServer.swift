// scripts/fault-server.py, which scripts/test-swift.sh starts on the host and names in
// GEMKIT_FAULT_SERVER. Each test takes its own token, so its requests and log are its own; the
// URL grammar is in the server's header.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import GemKit
import XCTest

struct FaultServer {
    let base: URL
    let token = UUID().uuidString

    /// The server of this run; skips the test without one.
    init() throws {
        base = URL(string: try env("GEMKIT_FAULT_SERVER"))!
    }

    /// `/<token>/<scenario>.../<file>`, e.g. `url("drop/100000", file: "synthetic-300000.bin")`.
    func url(_ scenarios: String..., file: String) -> URL {
        (scenarios + [file]).reduce(base.appendingPathComponent(token)) { $0.appendingPathComponent($1) }
    }

    struct Digest: Decodable {
        let size: Int64
        let sha256: String
        let changed_sha256: String
    }

    func digest(_ file: String) async throws -> Digest {
        try await get(Digest.self, "digest/\(file)")
    }

    struct Request: Decodable {
        let n: Int
        let path: String
        let range: String?
        let if_range: String?
        let headers: [String: String]
        let status: Int?
        let bytes_sent: Int64
        let done: Bool
    }

    /// This token's file requests, oldest first.
    func log() async throws -> [Request] {
        try await get([Request].self, "log")
    }

    /// The log once the server has finished with every request (a client that left included).
    func settledLog() async throws -> [Request] {
        for _ in 0..<600 {
            let log = try await log()
            if log.allSatisfy(\.done) { return log }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure(description: "the server is still busy with a request")
    }

    /// The ETag the server gives a synthetic file (or its changed version).
    static func etag(_ sha256: String) -> String { "\"\(sha256.prefix(32))\"" }

    private func get<T: Decodable>(_ type: T.Type, _ path: String) async throws -> T {
        let (data, _) = try await URLSession.shared.data(from: base.appendingPathComponent(token).appendingPathComponent(path))
        return try JSONDecoder().decode(type, from: data)
    }
}

/// Every status of a download, to its end.
func statuses(_ stream: AsyncStream<DownloadStatus>) async -> [DownloadStatus] {
    var all: [DownloadStatus] = []
    for await status in stream { all.append(status) }
    return all
}

extension Array where Element == DownloadStatus {
    /// Without the progress reports, whose number depends on timing.
    var milestones: [DownloadStatus] {
        filter { if case .progress = $0 { false } else { true } }
    }

    var lastProgress: DownloadProgress? {
        compactMap { if case .progress(let p) = $0 { p } else { nil } }.last
    }
}

/// A directory of its own for each test, removed after it.
class DownloadTestCase: XCTestCase {
    var directory: URL!
    var server: FaultServer!
    /// Retries at once: the tests count requests, not pauses.
    let quickRetries = RetryPolicy(maxRetries: 3, initialDelay: .milliseconds(1), maxDelay: .milliseconds(5))

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("gemkit-download-\(UUID().uuidString)")
        server = try FaultServer()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func downloader(freeSpace: @escaping @Sendable (URL) throws -> Int64 = ModelDownloader.volumeFreeSpace) -> ModelDownloader {
        ModelDownloader(directory: directory, retry: quickRetries, freeSpace: freeSpace)
    }

    /// The SHA-256 and size of the file at `url`, or nil if there is none.
    func onDisk(_ url: URL) throws -> (sha256: String, size: Int64)? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber
        return (try sha256File(path: url.path), size?.int64Value ?? -1)
    }

    /// The names in the test's directory, sorted.
    func filesLeft() throws -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()) ?? []
    }
}
