import Foundation

/// Whether a model can be loaded, in the spirit of Foundation Models'
/// `SystemLanguageModel.Availability`, but telling a download in progress apart from none.
public enum ModelAvailability: Sendable, Equatable {
    /// Downloaded and verified, at this URL.
    case available(URL)
    /// Not on the device (a part of an interrupted download may be, for a resume).
    case notDownloaded
    /// Being downloaded or checked: from the first request to the end of the hash.
    case downloading(DownloadProgress)
    /// The last download failed (`GemmaError.download`), until the next one starts or the files
    /// are deleted.
    case unavailable(GemmaError)
}

extension ModelDownloader {
    /// The model's availability now: a running or failed download's, else the files'.
    public func availability(of spec: ModelSpec) -> ModelAvailability {
        board.latest(spec.fileName) ?? onDisk(spec)
    }

    /// The availability now, then each change, until the consuming task is cancelled. Progress
    /// comes as often as the download reports it (ten times a second at most).
    public func availabilityUpdates(of spec: ModelSpec) -> AsyncStream<ModelAvailability> {
        board.updates(spec.fileName, onDisk: { self.onDisk(spec) })
    }

    func onDisk(_ spec: ModelSpec) -> ModelAvailability {
        isDownloaded(spec) ? .available(fileURL(for: spec)) : .notDownloaded
    }

    /// What a download's status says about availability.
    func post(_ status: DownloadStatus, of spec: ModelSpec) {
        switch status {
        case .started(let total, let resumedFrom):
            board.post(spec.fileName, .downloading(DownloadProgress(bytes: resumedFrom, totalBytes: total, bytesPerSecond: 0, eta: nil)))
        case .progress(let progress):
            board.post(spec.fileName, .downloading(progress))
        case .verifying:
            break  // still downloading, at the last progress
        case .done(let url, _):
            board.settle(spec.fileName, .available(url))
        case .failed(let error):
            board.post(spec.fileName, .unavailable(.download(error)))
        }
    }
}

/// The availability of each file name while a download runs or after it failed, and who is
/// watching it.
final class AvailabilityBoard: Sendable {
    private let entries = Locked<[String: Entry]>([:])

    private struct Entry {
        /// Nil when the files tell the availability.
        var latest: ModelAvailability?
        var watchers: [Int: AsyncStream<ModelAvailability>.Continuation] = [:]
        var nextID = 0
    }

    func latest(_ fileName: String) -> ModelAvailability? {
        entries.withLock { $0[fileName]?.latest }
    }

    /// Holds `availability` for the file until the next post or settle, and tells the watchers.
    func post(_ fileName: String, _ availability: ModelAvailability) {
        publish(fileName, availability, keep: true)
    }

    /// The files tell the availability again; the watchers hear what they tell, `availability`.
    func settle(_ fileName: String, _ availability: ModelAvailability) {
        publish(fileName, availability, keep: false)
    }

    /// Ends a download that stopped without an outcome (cancelled): its progress no longer holds.
    func settleIfDownloading(_ fileName: String, _ onDisk: () -> ModelAvailability) {
        let downloading = entries.withLock { entries in
            if case .downloading? = entries[fileName]?.latest { return true }
            return false
        }
        if downloading { settle(fileName, onDisk()) }
    }

    func updates(_ fileName: String, onDisk: @escaping @Sendable () -> ModelAvailability) -> AsyncStream<ModelAvailability> {
        AsyncStream { continuation in
            let id = entries.withLock { entries in
                // Under the lock, so that no change slips between the first value and the watch.
                continuation.yield(entries[fileName]?.latest ?? onDisk())
                var entry = entries[fileName] ?? Entry()
                entry.nextID += 1
                entry.watchers[entry.nextID] = continuation
                entries[fileName] = entry
                return entry.nextID
            }
            continuation.onTermination = { [weak self] _ in
                self?.entries.withLock { _ = $0[fileName]?.watchers.removeValue(forKey: id) }
            }
        }
    }

    private func publish(_ fileName: String, _ availability: ModelAvailability, keep: Bool) {
        entries.withLock { entries in
            var entry = entries[fileName] ?? Entry()
            entry.latest = keep ? availability : nil
            for watcher in entry.watchers.values { watcher.yield(availability) }
            entries[fileName] = entry
        }
    }
}
