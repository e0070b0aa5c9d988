#if os(iOS)
import Foundation

/// Model downloads that go on while the app is suspended or even ended, through a background
/// URLSession. iOS runs such transfers itself and hands over the finished file, so there is no
/// stream to hash or Range resume to manage: the file is moved to `<fileName>.part`, hashed,
/// and put in place (or deleted) exactly as `ModelDownloader` does, in the same directory.
/// Use `ModelDownloader` while the app is in front; this when a download must survive it.
///
/// NOT VERIFIED: this file compiles only for iOS, and nothing here builds or runs iOS.
public final class BackgroundModelDownloads: Sendable {
    private let session: URLSession
    private let delegate: Delegate

    /// `onStatus` gets progress and the end of each download, on a background queue; create
    /// this once, at launch, with the same identifier, so that iOS can hand finished work back.
    public init(
        identifier: String, directory: URL, onStatus: @escaping @Sendable (ModelSpec, DownloadStatus) -> Void
    ) {
        delegate = Delegate(directory: directory, onStatus: onStatus)
        let configuration = URLSessionConfiguration.background(withIdentifier: identifier)
        configuration.sessionSendsLaunchEvents = true
        session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
    }

    public func start(_ spec: ModelSpec) {
        do {
            try spec.validate()
            if let size = spec.sizeBytes {
                let free = try ModelDownloader.volumeFreeSpace(delegate.directory)
                if free < size { throw DownloadError.insufficientStorage(needed: size, free: free) }
            }
            var request = URLRequest(url: spec.url)
            for (name, value) in spec.headers { request.setValue(value, forHTTPHeaderField: name) }
            let task = session.downloadTask(with: request)
            // iOS keeps the description with the task across launches: it says which spec it is.
            task.taskDescription = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
            task.resume()
        } catch {
            delegate.onStatus(spec, .failed(DownloadError(error)))
        }
    }

    /// Pass on the handler of `application(_:handleEventsForBackgroundURLSession:completionHandler:)`.
    public func handleEvents(completionHandler: @escaping @Sendable () -> Void) {
        delegate.finishedEvents.withLock { $0 = completionHandler }
    }

    private final class Delegate: NSObject, URLSessionDownloadDelegate, Sendable {
        let directory: URL
        let onStatus: @Sendable (ModelSpec, DownloadStatus) -> Void
        let finishedEvents = Locked<(@Sendable () -> Void)?>(nil)

        init(directory: URL, onStatus: @escaping @Sendable (ModelSpec, DownloadStatus) -> Void) {
            self.directory = directory
            self.onStatus = onStatus
        }

        private func spec(of task: URLSessionTask) -> ModelSpec? {
            task.taskDescription.flatMap { try? JSONDecoder().decode(ModelSpec.self, from: Data($0.utf8)) }
        }

        func urlSession(
            _ session: URLSession, downloadTask: URLSessionDownloadTask, didWriteData bytesWritten: Int64,
            totalBytesWritten: Int64, totalBytesExpectedToWrite: Int64
        ) {
            guard let spec = spec(of: downloadTask) else { return }
            let total = totalBytesExpectedToWrite >= 0 ? totalBytesExpectedToWrite : spec.sizeBytes
            onStatus(spec, .progress(DownloadProgress(bytes: totalBytesWritten, totalBytes: total, bytesPerSecond: 0, eta: nil)))
        }

        /// The file at `location` is deleted when this returns: it is moved or checked here.
        func urlSession(_ session: URLSession, downloadTask: URLSessionDownloadTask, didFinishDownloadingTo location: URL) {
            guard let spec = spec(of: downloadTask) else { return }
            let files = DownloadFiles(directory: directory, fileName: spec.fileName)
            do {
                let status = (downloadTask.response as? HTTPURLResponse)?.statusCode ?? 0
                switch status {
                case 200: break
                case 401, 403: throw DownloadError.unauthorized(status: status)
                default: throw DownloadError.http(status: status)
                }
                try files.removePart()
                try FileManager.default.moveItem(at: location, to: files.part)
                onStatus(spec, .verifying)
                let actual = try sha256File(path: files.part.path)
                try files.installPart(sha256: actual, expected: spec.expectedSHA256(recorded: files.readVerified()))
                onStatus(spec, .done(files.model, sha256: actual))
            } catch {
                onStatus(spec, .failed(DownloadError(error)))
            }
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
            guard let error, let spec = spec(of: task) else { return }
            onStatus(spec, .failed(DownloadError(error)))
        }

        func urlSessionDidFinishEvents(forBackgroundURLSession session: URLSession) {
            let handler = finishedEvents.withLock { handler in
                defer { handler = nil }
                return handler
            }
            DispatchQueue.main.async { handler?() }
        }
    }
}
#endif
