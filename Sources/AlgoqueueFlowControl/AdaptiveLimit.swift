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
package struct AdaptiveLimit: Sendable {
    package let minimum: Int
    package let maximum: Int
    private(set) var limit: Double
    private var latency: Double?
    private var best: Double?
    private var lastCut: ContinuousClock.Instant?

    package init(minimum: Int, maximum: Int, start: Int) {
        self.minimum = max(1, minimum)
        self.maximum = max(self.minimum, maximum)
        limit = Double(min(self.maximum, max(self.minimum, start)))
    }

    package var current: Int { Int(limit) }

    /// A call answered (not throttled) after `seconds`, with `inFlight` calls (itself included) running when it
    /// ended; returns the new limit when it moved.
    package mutating func succeeded(after seconds: Double, inFlight: Int) -> Int? {
        let smoothed = latency.map { $0 * 0.9 + seconds * 0.1 } ?? seconds
        latency = smoothed
        best = min((best ?? smoothed) * 1.0005, smoothed)  // the best drifts up slowly, so it can recover
        guard smoothed <= 2 * (best ?? smoothed), Double(inFlight) >= limit.rounded(.down) * 0.9 else { return nil }
        let before = current
        limit = min(Double(maximum), limit + 1 / limit)
        return current != before ? current : nil
    }

    /// The endpoint said it is full; returns the new limit when it moved.
    package mutating func throttled(now: ContinuousClock.Instant) -> Int? {
        let spacing = Duration.seconds(max(0.05, latency ?? 0.05))
        if let lastCut, now - lastCut < spacing { return nil }
        lastCut = now
        let before = current
        limit = max(Double(minimum), (limit * 0.7).rounded(.down))
        return current != before ? current : nil
    }
}

/// Moves a call limiter with an ``AdaptiveLimit``, says each new limit to `moved` (the pipeline shows it in
/// `/metrics` and on the status page) and logs a cut.
package final class AdaptiveConcurrency: Sendable {
    package let slots: ConcurrencyLimiter
    package let limit: Locked<AdaptiveLimit>
    package let moved: @Sendable (Int) -> Void
    package let logger: Logger

    package init(
        slots: ConcurrencyLimiter, limit: AdaptiveLimit, logger: Logger, moved: @escaping @Sendable (Int) -> Void
    ) {
        self.slots = slots
        self.limit = Locked(limit)
        self.moved = moved
        self.logger = logger
        slots.setLimit(limit.current)
        moved(limit.current)
    }

    package var current: Int { limit.withLock { $0.current } }

    /// A call ended: answered after `seconds`, or `throttled` (429, 503, a timeout).
    package func record(throttled: Bool, seconds: Double) {
        let moved = limit.withLock { limit in
            throttled
                ? limit.throttled(now: ContinuousClock.now)
                : limit.succeeded(after: seconds, inFlight: slots.inFlight + 1)
        }
        guard let moved else { return }
        slots.setLimit(moved)
        self.moved(moved)
        if throttled { logger.info("the endpoint is full: calls in flight limited to \(moved)") }
    }
}
