// A TokenListener for tests: keeps every piece of text, then waits for the one last call.
import Foundation
import GemKit

/// A signal that stays open once opened. Waiting longer than a slow CI machine could need is a
/// failure, not a measurement.
final class Latch: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    func open() { semaphore.signal() }

    func wait(for what: String) throws {
        if semaphore.wait(timeout: .now() + 120) == .timedOut {
            throw Failure(description: "timed out waiting for \(what)")
        }
        semaphore.signal()
    }
}

enum Last {
    case reply(Reply)
    case error(GemKitError)
}

/// Keeps the streamed text; `onPiece(index, text)` runs after each piece is kept and may block
/// or throw (a throw is the listener throwing). `onLast` runs in the last call and may throw.
final class Collector: TokenListener, @unchecked Sendable {
    // @unchecked: the mutable state is only touched under `lock`.
    private let lock = NSLock()
    private var pieces: [String] = []
    private var lasts: [Last] = []
    private var calledOnMain = false
    private let lastCall = DispatchSemaphore(value: 0)
    private let onPiece: @Sendable (Int, String) throws -> Void
    private let onLast: @Sendable () throws -> Void
    let firstText = Latch()

    init(onPiece: @escaping @Sendable (Int, String) throws -> Void = { _, _ in },
         onLast: @escaping @Sendable () throws -> Void = {}) {
        self.onPiece = onPiece
        self.onLast = onLast
    }

    var text: String { lock.withLock { pieces.joined() } }
    var wasCalledOnMainThread: Bool { lock.withLock { calledOnMain } }

    func onText(text: String) throws {
        let index: Int = lock.withLock {
            pieces.append(text)
            calledOnMain = calledOnMain || Thread.isMainThread
            return pieces.count - 1
        }
        if index == 0 { firstText.open() }
        try onPiece(index, text)
    }

    func onComplete(reply: Reply) throws {
        finish(.reply(reply))
        try onLast()
    }

    func onError(error: GemKitError) throws {
        finish(.error(error))
        try onLast()
    }

    private func finish(_ last: Last) {
        lock.withLock { lasts.append(last) }
        lastCall.signal()
    }

    /// The reply; fails if the request failed instead.
    func reply() throws -> Reply {
        switch try awaitLast() {
        case .reply(let reply): return reply
        case .error(let error): throw Failure(description: "expected a reply, got \(error)")
        }
    }

    /// The error; fails if a reply came instead.
    func error() throws -> GemKitError {
        switch try awaitLast() {
        case .reply(let reply): throw Failure(description: "expected an error, got \(reply)")
        case .error(let error): return error
        }
    }

    private func awaitLast() throws -> Last {
        if lastCall.wait(timeout: .now() + 120) == .timedOut {
            throw Failure(description: "no last call")
        }
        if lastCall.wait(timeout: .now() + 0.1) == .success {
            throw Failure(description: "a second last call")
        }
        return lock.withLock { lasts[0] }
    }
}
