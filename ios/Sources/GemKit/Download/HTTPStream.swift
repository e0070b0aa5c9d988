import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

enum HTTPEvent: Sendable {
    case response(HTTPURLResponse)
    case body(Data)
}

/// One GET as a stream: its response, then its body in chunks as they arrive. Built on the data
/// delegate, since FoundationNetworking (Linux) has no `URLSession.bytes(for:)`. Ending the
/// stream early (the consumer cancelled) cancels the request. The buffer is unbounded: disk
/// writes and hashing outpace a phone's network.
func httpEvents(
    _ request: URLRequest, configuration: URLSessionConfiguration, privateHeaders: Set<String>
) -> AsyncThrowingStream<HTTPEvent, Error> {
    AsyncThrowingStream { continuation in
        let delegate = StreamingDelegate(continuation, privateHeaders: privateHeaders)
        // The session keeps its delegate until invalidated; a session for each request is cheap
        // next to a model's transfer.
        let session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
        let task = session.dataTask(with: request)
        continuation.onTermination = { _ in
            task.cancel()
            session.finishTasksAndInvalidate()
        }
        task.resume()
    }
}

private final class StreamingDelegate: NSObject, URLSessionDataDelegate, Sendable {
    private let continuation: AsyncThrowingStream<HTTPEvent, Error>.Continuation
    /// Header names lowercased, of the spec's own headers (such as a token): not sent on to
    /// another host after a redirect, as browsers and curl also do with credentials.
    private let privateHeaders: Set<String>

    init(_ continuation: AsyncThrowingStream<HTTPEvent, Error>.Continuation, privateHeaders: Set<String>) {
        self.continuation = continuation
        self.privateHeaders = Set(privateHeaders.map { $0.lowercased() })
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
    ) {
        guard let http = response as? HTTPURLResponse else {
            continuation.finish(throwing: DownloadError.invalidResponse("not an HTTP response"))
            return completionHandler(.cancel)
        }
        continuation.yield(.response(http))
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        continuation.yield(.body(data))
    }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        guard let target = request.url, target.isSecureForDownload else {
            continuation.finish(
                throwing: request.url.map(DownloadError.insecureURL)
                    ?? DownloadError.invalidResponse("a redirect without a location"))
            task.cancel()
            return completionHandler(nil)
        }
        var next = request
        if target.host?.lowercased() != task.originalRequest?.url?.host?.lowercased() {
            for (name, _) in next.allHTTPHeaderFields ?? [:] where privateHeaders.contains(name.lowercased()) {
                next.setValue(nil, forHTTPHeaderField: name)
            }
        }
        completionHandler(next)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        continuation.finish(throwing: error)
        session.finishTasksAndInvalidate()
    }
}
