/// Progress for the status stream: at most every 100 ms (a model arrives in many thousands of
/// chunks), with the speed over the last five seconds.
struct ProgressMeter {
    private(set) var bytes: Int64
    private let total: Int64?
    private var samples: [(at: ContinuousClock.Instant, bytes: Int64)]
    private let clock = ContinuousClock()

    init(bytes: Int64, total: Int64?) {
        self.bytes = bytes
        self.total = total
        samples = [(clock.now, bytes)]
    }

    /// Counts `count` more bytes; the progress to report, if it is time to.
    mutating func add(_ count: Int) -> DownloadProgress? {
        bytes += Int64(count)
        let now = clock.now
        guard now - samples[samples.count - 1].at >= .milliseconds(100) else { return nil }
        samples.append((now, bytes))
        while samples.count > 2, now - samples[0].at > .seconds(5) { samples.removeFirst() }
        return current
    }

    /// The progress now.
    var current: DownloadProgress {
        let (first, last) = (samples[0], samples[samples.count - 1])
        let seconds = (last.at - first.at) / .seconds(1)
        let speed = seconds > 0 ? Double(last.bytes - first.bytes) / seconds : 0
        let eta = total.flatMap { speed > 0 ? Duration.seconds(Double($0 - bytes) / speed) : nil }
        return DownloadProgress(bytes: bytes, totalBytes: total, bytesPerSecond: speed, eta: eta)
    }
}
