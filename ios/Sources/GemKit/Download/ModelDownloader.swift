import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Downloads model files into one directory, as the engine needs them: resumable, checked, and
/// never in place before their SHA-256 matches.
///
/// A download writes `<fileName>.part`, with a small record beside it (`.part.json`) of how to
/// resume it: after a network failure, a retry or a later call sends `Range` from the bytes on
/// disk and `If-Range`, and a server that answers with the whole file (200) replaces the part
/// from byte zero. The bytes are hashed (the core's `Sha256`) as they arrive; a part that
/// matches is moved into place in one rename, one that does not is deleted. Beside the model,
/// `<fileName>.verified.json` keeps its hash with its size and modification time: while those
/// hold, the file is known good without hashing it again.
///
/// Two calls for one spec at once share one transfer. Cancelling the consuming task (or
/// dropping the stream) stops the transfer at once and keeps the part, unless another caller
/// still listens. Plain HTTP is refused, except to this device (test servers).
public final class ModelDownloader: Sendable {
    public let directory: URL
    private let configuration: URLSessionConfiguration
    private let retry: RetryPolicy
    private let freeSpace: @Sendable (URL) throws -> Int64
    private let slots = Locked<[String: Slot]>([:])
    /// What `availability(of:)` tells while a download runs or after it failed.
    let board = AvailabilityBoard()

    /// The work on one file name: the transfer callers join while it runs, and the last task
    /// to touch the files, which the next one waits for.
    private struct Slot {
        var transfer: Transfer?
        var last: Task<Void, Never>?
    }

    /// `freeSpace` tells the bytes free in a directory (`volumeFreeSpace` unless replaced, for
    /// tests or to keep a margin). `configuration` sets timeouts and proxies; use a default or
    /// ephemeral one (a background session cannot stream: see `BackgroundModelDownloads`).
    public init(
        directory: URL, configuration: URLSessionConfiguration = .default, retry: RetryPolicy = RetryPolicy(),
        freeSpace: @escaping @Sendable (URL) throws -> Int64 = ModelDownloader.volumeFreeSpace
    ) {
        self.directory = directory
        self.configuration = configuration
        self.retry = retry
        self.freeSpace = freeSpace
    }

    /// Downloads `spec` unless it is already in place; the stream ends after `done` or `failed`.
    public func download(_ spec: ModelSpec) -> AsyncStream<DownloadStatus> {
        slots.withLock { slots in
            let slot = slots[spec.fileName]
            if let running = slot?.transfer, !running.isAbandoned {
                guard running.spec == spec else {
                    return AsyncStream { continuation in
                        continuation.yield(.failed(.invalidSpec("\(spec.fileName) is being downloaded from another spec")))
                        continuation.finish()
                    }
                }
                return running.listen()
            }
            let transfer = Transfer(spec: spec)
            let stream = transfer.listen()
            board.post(spec.fileName, .downloading(DownloadProgress(bytes: 0, totalBytes: spec.sizeBytes, bytesPerSecond: 0, eta: nil)))
            transfer.start(
                after: slot?.last, job: job(spec), observe: { [weak self] in self?.post($0, of: spec) }
            ) { [weak self] ended in
                guard let self else { return }
                self.slots.withLock { slots in
                    if slots[spec.fileName]?.transfer === ended { slots[spec.fileName] = nil }
                }
                board.settleIfDownloading(spec.fileName) { self.onDisk(spec) }
            }
            slots[spec.fileName] = Slot(transfer: transfer, last: transfer.task)
            return stream
        }
    }

    /// Where the model of `spec` is (or will be).
    public func fileURL(for spec: ModelSpec) -> URL {
        directory.appendingPathComponent(spec.fileName)
    }

    /// Whether the model is in place and is the file its record says was verified, for the
    /// spec's hash (or, trusting on first use, the recorded one). It hashes nothing: a file
    /// without a record counts as missing here, and `download` checks it.
    public func isDownloaded(_ spec: ModelSpec) -> Bool {
        let files = DownloadFiles(directory: directory, fileName: spec.fileName)
        guard (try? spec.validate()) != nil, let recorded = files.readVerified() else { return false }
        return recorded.sha256 == spec.expectedSHA256(recorded: recorded) && files.modelMatches(recorded)
    }

    /// Hashes the model in place again, whatever its record says, against the spec's hash (or
    /// the one trusted on first use): whether it is the expected file. One that is not stays on
    /// disk but loses its record, so it is no longer available and `download` replaces it. For a
    /// model in place: with a download of it running, the answer is about the older file.
    public func verify(_ spec: ModelSpec) async throws(DownloadError) -> Bool {
        try spec.validate()
        let files = DownloadFiles(directory: directory, fileName: spec.fileName)
        guard files.modelExists, let expected = spec.expectedSHA256(recorded: files.readVerified()) else { return false }
        let matches: Bool
        do {
            let path = files.model.path
            matches = try await runBlocking(on: .global()) { try sha256File(path: path) } == expected
            if matches { try files.writeVerified(sha256: expected, of: files.model) } else { try files.forgetVerified() }
        } catch {
            throw DownloadError(error)
        }
        board.settle(spec.fileName, onDisk(spec))
        return matches
    }

    /// Cancels a download of `spec`, then deletes its model, part and records.
    public func delete(_ spec: ModelSpec) async throws(DownloadError) {
        try spec.validate()  // a file name that is not a plain name points elsewhere
        let files = DownloadFiles(directory: directory, fileName: spec.fileName)
        let deletion: Task<Void, Error> = slots.withLock { slots in
            let slot = slots[spec.fileName]
            slot?.transfer?.abandon()
            let deletion = Task {
                await slot?.last?.value
                try files.removeAll()
            }
            slots[spec.fileName] = Slot(transfer: nil, last: Task { _ = try? await deletion.value })
            return deletion
        }
        do {
            try await deletion.value
        } catch {
            throw DownloadError(error)
        }
        board.settle(spec.fileName, .notDownloaded)
    }

    /// The bytes free on `directory`'s volume: on Apple platforms what the system can free for
    /// important data (purgeable caches count); elsewhere what statvfs gives an app.
    public static func volumeFreeSpace(_ directory: URL) throws -> Int64 {
        #if canImport(Darwin)
        let key = URLResourceKey.volumeAvailableCapacityForImportantUsageKey
        if let bytes = try directory.resourceValues(forKeys: [key]).volumeAvailableCapacityForImportantUsage {
            return bytes
        }
        #endif
        let attributes = try FileManager.default.attributesOfFileSystem(forPath: directory.path)
        guard let free = attributes[.systemFreeSize] as? NSNumber else {
            throw DownloadError.fileSystem("the free space of \(directory.path) is unknown")
        }
        return free.int64Value
    }

    private func job(_ spec: ModelSpec) -> DownloadJob {
        DownloadJob(
            spec: spec, files: DownloadFiles(directory: directory, fileName: spec.fileName),
            configuration: configuration, retry: retry, freeSpace: freeSpace)
    }
}
