/// How a download retries network errors and 5xx answers (never 4xx): after a pause that doubles
/// from `initialDelay` up to `maxDelay`. A failure after progress counts from one again, so a
/// flaky network slows a large download but does not end it.
public struct RetryPolicy: Sendable {
    /// Attempts after a failure, in a row without progress.
    public var maxRetries: Int
    public var initialDelay: Duration
    public var maxDelay: Duration

    public init(maxRetries: Int = 5, initialDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(30)) {
        self.maxRetries = maxRetries
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
    }

    func delay(afterFailures failures: Int) -> Duration {
        min(initialDelay * (1 << min(max(failures - 1, 0), 30)), maxDelay)
    }
}
