// A TokenListener for tests: keeps every piece of text, then waits for the one last call.
import Foundation
import GemKit

/// Greedy decoding, so that every reply is reproducible.
func greedy(_ maxTokens: UInt32) -> GenerateOptions {
    GenerateOptions(maxTokens: maxTokens, sampling: Sampling(temperature: 0))
}

/// A signal that stays open once opened. Waiting longer than a slow CI machine could need is a
/// failure, not a measurement.
final class Latch: @unchecked Sendable {
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
    private let lock = NSLock()
    private var pieces: [String] = []
    private var lasts: [Last] = []
    private var calledOnMain = false
    private let lastCall = DispatchSemaphore(value: 0)
    private let onPiece: (Int, String) throws -> Void
    private let onLast: () throws -> Void
    let firstText = Latch()

    init(onPiece: @escaping (Int, String) throws -> Void = { _, _ in },
         onLast: @escaping () throws -> Void = {}) {
        self.onPiece = onPiece
        self.onLast = onLast
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    var text: String { locked { pieces.joined() } }
    var wasCalledOnMainThread: Bool { locked { calledOnMain } }

    func onText(text: String) throws {
        let index: Int = locked {
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
        locked { lasts.append(last) }
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
        return locked { lasts[0] }
    }
}
