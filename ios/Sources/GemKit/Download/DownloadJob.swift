import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One download of one spec, from a model already in place, a part kept from before, or
/// nothing, to a verified model in place or a typed failure. `ModelDownloader` runs one job for
/// everyone who asks for the spec meanwhile.
struct DownloadJob: Sendable {
    let spec: ModelSpec
    let files: DownloadFiles
    let configuration: URLSessionConfiguration
    let retry: RetryPolicy
    let freeSpace: @Sendable (URL) throws -> Int64

    /// Reports each status; the last is `done` or `failed`, unless the job was cancelled: then
    /// it stops at once, keeping the part for a later resume.
    func run(_ report: @Sendable (DownloadStatus) -> Void) async {
        do {
            try spec.validate()
            try FileManager.default.createDirectory(
                at: files.model.deletingLastPathComponent(), withIntermediateDirectories: true)
            if let sha256 = try await modelInPlace(report) {
                report(.done(files.model, sha256: sha256))
            } else {
                report(.done(files.model, sha256: try await fetchWithRetries(report)))
            }
        } catch {
            guard !Task.isCancelled, !(error is CancellationError) else { return }
            report(.failed(DownloadError(error)))
        }
    }

    /// The SHA-256 of the model already in place if it is the expected file: known from its
    /// record while its size and modification time are unchanged, else hashed once again.
    private func modelInPlace(_ report: (DownloadStatus) -> Void) async throws -> String? {
        guard files.modelExists else { return nil }
        let recorded = files.readVerified()
        guard let expected = spec.expectedSHA256(recorded: recorded) else { return nil }
        if let recorded, recorded.sha256 == expected, files.modelMatches(recorded) { return expected }
        report(.verifying)
        let path = files.model.path
        let actual = try await runBlocking(on: .global()) { try sha256File(path: path) }
        // Another file (an older version): it stays until a download replaces it, verified.
        guard actual == expected else { return nil }
        try files.writeVerified(sha256: actual, of: files.model)
        return actual
    }

    /// Retries network errors and 5xx answers after a growing pause; a failure after progress
    /// (more of the part on disk) starts the count again.
    private func fetchWithRetries(_ report: (DownloadStatus) -> Void) async throws -> String {
        var failures = 0
        while true {
            let before = files.partSize
            do {
                return try await fetch(report)
            } catch let failure as Retryable {
                failures = files.partSize > before ? 1 : failures + 1
                guard failures <= retry.maxRetries else { throw failure.error }
                try await Task.sleep(for: retry.delay(afterFailures: failures))
            }
        }
    }

    /// One request: resumes the part if its record allows, writes and hashes the body as it
    /// arrives, then verifies and moves the file into place.
    private func fetch(_ report: (DownloadStatus) -> Void) async throws -> String {
        try Task.checkCancellation()
        var resume = files.readResume()
        var offset = files.partSize
        if resume?.url != spec.url || offset > (spec.sizeBytes ?? resume?.totalBytes ?? .max) {
            // A part whose origin is unknown, or longer than the file: nothing to resume.
            try files.removePart()
            (resume, offset) = (nil, 0)
        }
        if let total = spec.sizeBytes ?? resume?.totalBytes {
            try checkFreeSpace(needed: total - offset)
            if offset == total, total > 0 {
                // The whole file arrived before the app stopped: only the check is left.
                let hash = Sha256()
                let part = files.part.path
                _ = try await runBlocking(on: .global()) { try hash.updateFromFile(path: part, limit: nil) }
                return try verifyAndInstall(hash.hex(), report)
            }
        }

        var request = URLRequest(url: spec.url)
        for (name, value) in spec.headers { request.setValue(value, forHTTPHeaderField: name) }
        // Offsets are the file's bytes, not those of a compressed transfer.
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        if offset > 0, let resume {
            request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range")
            request.setValue(resume.validator, forHTTPHeaderField: "If-Range")
        }
        var events = httpEvents(request, configuration: configuration, privateHeaders: Set(spec.headers.keys))
            .makeAsyncIterator()
        guard case .response(let response)? = try await next(&events) else { throw interrupted() }

        let start: Int64
        var total: Int64?
        switch response.statusCode {
        case 200:
            // The whole file: also the answer to a Range request the server ignored, or whose
            // If-Range no longer matches. It replaces the part, never extends it.
            start = 0
            total = response.expectedContentLength >= 0 ? response.expectedContentLength : nil
        case 206:
            guard let range = ContentRange(response.value(forHTTPHeaderField: "Content-Range")),
                range.first == offset, offset > 0
            else {
                throw DownloadError.invalidResponse(
                    "asked for bytes from \(offset), got Content-Range "
                        + (response.value(forHTTPHeaderField: "Content-Range") ?? "none"))
            }
            start = offset
            total = range.total
        case 416 where offset > 0:
            // The part no longer fits the server's file: start over.
            try files.removePart()
            return try await fetch(report)
        case 401, 403:
            throw DownloadError.unauthorized(status: response.statusCode)
        case 500...599:
            throw Retryable(error: .http(status: response.statusCode))
        default:
            throw DownloadError.http(status: response.statusCode)
        }
        total = total ?? spec.sizeBytes
        if let size = spec.sizeBytes, let total, total != size {
            throw DownloadError.invalidResponse("the server's file has \(total) bytes, the spec says \(size)")
        }
        if start == 0, offset > 0 {
            try files.removePart()  // useless now: free its space before counting what is free
        }
        if let total { try checkFreeSpace(needed: total - start) }
        if let validator = response.resumeValidator {
            try files.writeResume(.init(url: spec.url, validator: validator, totalBytes: total))
        } else {
            try files.forgetResume()  // no safe way to resume: the next attempt starts over
        }

        let hash = Sha256()
        if start > 0 {
            let part = files.part.path
            _ = try await runBlocking(on: .global()) { try hash.updateFromFile(path: part, limit: UInt64(start)) }
        }
        let out = try openPart(at: start)
        defer { try? out.close() }
        report(.started(totalBytes: total, resumedFrom: start))
        var meter = ProgressMeter(bytes: start, total: total)
        while let event = try await next(&events) {
            guard case .body(let data) = event else { continue }
            if let total, meter.bytes + Int64(data.count) > total {
                throw DownloadError.invalidResponse("the server sent more than the \(total) bytes it announced")
            }
            try out.write(contentsOf: data)
            hash.update(bytes: data)
            if let progress = meter.add(data.count) { report(.progress(progress)) }
        }
        if Task.isCancelled { throw CancellationError() }
        try out.synchronize()
        if let total, meter.bytes < total { throw interrupted() }
        report(.progress(meter.current))
        return try verifyAndInstall(hash.hex(), report)
    }

    private func verifyAndInstall(_ actual: String, _ report: (DownloadStatus) -> Void) throws -> String {
        report(.verifying)
        try files.installPart(sha256: actual, expected: spec.expectedSHA256(recorded: files.readVerified()))
        return actual
    }

    private func checkFreeSpace(needed: Int64) throws {
        guard needed > 0 else { return }
        let free = try freeSpace(files.model.deletingLastPathComponent())
        if free < needed { throw DownloadError.insufficientStorage(needed: needed, free: free) }
    }

    private func openPart(at offset: Int64) throws -> FileHandle {
        if !FileManager.default.fileExists(atPath: files.part.path) {
            _ = FileManager.default.createFile(atPath: files.part.path, contents: nil)  // else the open throws
        }
        let handle = try FileHandle(forWritingTo: files.part)
        try handle.truncate(atOffset: UInt64(offset))
        try handle.seekToEnd()
        return handle
    }

    /// The next event; a network error is retryable, and the consumer's cancellation ends the
    /// stream as a CancellationError.
    private func next(_ events: inout AsyncThrowingStream<HTTPEvent, Error>.Iterator) async throws -> HTTPEvent? {
        do {
            let event = try await events.next()
            if event == nil, Task.isCancelled { throw CancellationError() }
            return event
        } catch let error as URLError {
            if Task.isCancelled || error.code == .cancelled { throw CancellationError() }
            throw Retryable(error: .network(error))
        }
    }

    private func interrupted() -> Retryable {
        Retryable(error: .network(URLError(.networkConnectionLost)))
    }
}

/// A failure worth another attempt: the network, or a server error.
struct Retryable: Error {
    let error: DownloadError
}

extension DownloadError {
    init(_ error: Error) {
        switch error {
        case let error as DownloadError: self = error
        case let error as Retryable: self = error.error
        case let error as URLError: self = .network(error)
        case let error as GemKitError: self = .fileSystem(error.message)
        default: self = .fileSystem(error.localizedDescription)
        }
    }
}

extension HTTPURLResponse {
    /// What If-Range may carry: a strong ETag (a weak one never matches), else Last-Modified.
    var resumeValidator: String? {
        if let etag = value(forHTTPHeaderField: "ETag"), !etag.hasPrefix("W/") { return etag }
        return value(forHTTPHeaderField: "Last-Modified")
    }
}

/// `Content-Range: bytes first-last/total` (total may be `*`).
struct ContentRange {
    let first: Int64
    let total: Int64?

    init?(_ header: String?) {
        guard let header, header.hasPrefix("bytes ") else { return nil }
        let parts = header.dropFirst(6).split(separator: "/", maxSplits: 1)
        let bounds = parts.first?.split(separator: "-", maxSplits: 1) ?? []
        guard parts.count == 2, bounds.count == 2, let first = Int64(bounds[0]), let last = Int64(bounds[1]),
            first <= last
        else { return nil }
        self.first = first
        total = Int64(parts[1])
        if let total, last >= total { return nil }
    }
}
