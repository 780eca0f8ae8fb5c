import AlgoqueueSupport
import Logging

/// `pipeline.concurrency: auto`: the limit of calls in flight follows the endpoint, by additive increase and
/// multiplicative decrease (AIMD), as TCP does.
///
/// Why AIMD: the endpoints we call say plainly when they are full (429, 503, timeouts), so the loss signal is
/// clean, and AIMD converges to the most the endpoint takes with nothing else to tune. A gradient method
/// (watching latency alone) reacts before errors, but a model's latency varies with its inputs far more than
/// with load, which makes that signal noisy; latency is used here only as a brake: the limit does not grow
/// while the smoothed latency is above twice the best seen.
///
/// - Each success, with latency holding and the limit in use (calls in flight near it), adds 1/limit (one
///   step per limit's worth of successes); a limit nobody presses against is not raised.
/// - A throttle (429, 503, a timeout) multiplies the limit by 0.7, at most once per smoothed latency (the
///   calls already in flight when the endpoint filled up all report it; one cut answers all of them).
struct AdaptiveLimit: Sendable {
    let minimum: Int
    let maximum: Int
    private(set) var limit: Double
    private var latency: Double?
    private var best: Double?
    private var lastCut: ContinuousClock.Instant?

    init(minimum: Int, maximum: Int, start: Int) {
        self.minimum = max(1, minimum)
        self.maximum = max(self.minimum, maximum)
        limit = Double(min(self.maximum, max(self.minimum, start)))
    }

    var current: Int { Int(limit) }

    /// A call answered (not throttled) after `seconds`, with `inFlight` calls (itself included) running when it
    /// ended; returns the new limit when it moved.
    mutating func succeeded(after seconds: Double, inFlight: Int) -> Int? {
        let smoothed = latency.map { $0 * 0.9 + seconds * 0.1 } ?? seconds
        latency = smoothed
        best = min((best ?? smoothed) * 1.0005, smoothed)  // the best drifts up slowly, so it can recover
        guard smoothed <= 2 * (best ?? smoothed), Double(inFlight) >= limit.rounded(.down) * 0.9 else { return nil }
        let before = current
        limit = min(Double(maximum), limit + 1 / limit)
        return current != before ? current : nil
    }

    /// The endpoint said it is full; returns the new limit when it moved.
    mutating func throttled(now: ContinuousClock.Instant) -> Int? {
        let spacing = Duration.seconds(max(0.05, latency ?? 0.05))
        if let lastCut, now - lastCut < spacing { return nil }
        lastCut = now
        let before = current
        limit = max(Double(minimum), (limit * 0.7).rounded(.down))
        return current != before ? current : nil
    }
}

/// Moves a call limiter with an ``AdaptiveLimit``, and shows the limit in `/metrics` and the log.
final class AdaptiveConcurrency: Sendable {
    let slots: ConcurrencyLimiter
    let limit: Locked<AdaptiveLimit>
    let metrics: PipelineMetrics
    let health: PipelineHealth
    let logger: Logger

    init(
        slots: ConcurrencyLimiter, limit: AdaptiveLimit, metrics: PipelineMetrics, health: PipelineHealth,
        logger: Logger
    ) {
        self.slots = slots
        self.limit = Locked(limit)
        self.metrics = metrics
        self.health = health
        self.logger = logger
        slots.setLimit(limit.current)
        metrics.concurrencyLimit.record(limit.current)
        health.update { $0.concurrencyLimit = limit.current }
    }

    var current: Int { limit.withLock { $0.current } }

    /// A call ended: answered after `seconds`, or `throttled` (429, 503, a timeout).
    func record(throttled: Bool, seconds: Double) {
        let moved = limit.withLock { limit in
            throttled
                ? limit.throttled(now: ContinuousClock.now)
                : limit.succeeded(after: seconds, inFlight: slots.inFlight + 1)
        }
        guard let moved else { return }
        slots.setLimit(moved)
        metrics.concurrencyLimit.record(moved)
        health.update { $0.concurrencyLimit = moved }
        if throttled { logger.info("the endpoint is full: calls in flight limited to \(moved)") }
    }
}
