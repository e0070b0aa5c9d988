import Foundation

/// Runs blocking work (a model load, a prefill, hashing a file) on `queue`, off Swift's
/// cooperative pool: its few threads must never wait on a lock or a long computation.
func runBlocking<T: Sendable>(on queue: DispatchQueue, _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        queue.async { continuation.resume(with: Result(catching: work)) }
    }
}
