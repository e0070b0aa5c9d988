/// One running job and everyone streaming its statuses. A caller who joins late first gets the
/// latest `started` and progress (or the end); when the last one stops listening, the job is
/// cancelled and its part kept.
final class Transfer: Sendable {
    let spec: ModelSpec
    private let state = Locked(State())

    private struct State {
        var listeners: [Int: AsyncStream<DownloadStatus>.Continuation] = [:]
        var nextID = 0
        var started: DownloadStatus?
        var latest: DownloadStatus?
        var end: DownloadStatus?
        var task: Task<Void, Never>?
        var abandoned = false
    }

    init(spec: ModelSpec) {
        self.spec = spec
    }

    /// Whether its listeners all left: new callers start a new transfer after it.
    var isAbandoned: Bool { state.withLock { $0.abandoned } }

    /// Ends when the job has stopped touching the files.
    var task: Task<Void, Never>? { state.withLock { $0.task } }

    /// Runs `job` after `previous` (work on the same files), then `ended`, then ends every
    /// listener's stream. `observe` sees each status before the listeners do, and is not one of
    /// them: it keeps no transfer going.
    func start(
        after previous: Task<Void, Never>?, job: DownloadJob, observe: @escaping @Sendable (DownloadStatus) -> Void,
        ended: @escaping @Sendable (Transfer) -> Void
    ) {
        let task = Task {
            await previous?.value
            if !Task.isCancelled {
                await job.run { status in
                    observe(status)
                    self.broadcast(status)
                }
            }
            ended(self)
            finishAll()
        }
        state.withLock { $0.task = task }
    }

    func listen() -> AsyncStream<DownloadStatus> {
        AsyncStream { continuation in
            let id: Int? = state.withLock { state in
                for status in [state.started, state.latest, state.end].compactMap({ $0 }) {
                    continuation.yield(status)
                }
                guard state.end == nil else { return nil }
                state.nextID += 1
                state.listeners[state.nextID] = continuation
                return state.nextID
            }
            guard let id else { return continuation.finish() }
            continuation.onTermination = { [weak self] _ in self?.stopListening(id) }
        }
    }

    /// Cancels the job, whoever listens.
    func abandon() {
        let task = state.withLock { state in
            state.abandoned = true
            return state.task
        }
        task?.cancel()
    }

    private func stopListening(_ id: Int) {
        let abandoned = state.withLock { state in
            guard state.listeners.removeValue(forKey: id) != nil, state.listeners.isEmpty else { return false }
            return state.end == nil
        }
        if abandoned { abandon() }
    }

    private func broadcast(_ status: DownloadStatus) {
        state.withLock { state in
            switch status {
            case .started: (state.started, state.latest) = (status, nil)
            case .progress, .verifying: state.latest = status
            case .done, .failed: state.end = status
            }
            for listener in state.listeners.values { listener.yield(status) }
        }
    }

    private func finishAll() {
        let listeners = state.withLock { state in
            defer { state.listeners = [:] }
            return Array(state.listeners.values)
        }
        for listener in listeners { listener.finish() }
    }
}
