import AlgoqueueSupport

/// How fast calls to one algorithm may start.
public struct RateLimit: Sendable, Equatable {
    /// Calls per second.
    public var perSecond: Double
    /// Calls that may start at once after a quiet spell. Default: a tenth of a second's worth (at least 1), so
    /// that no second sees much more than `perSecond` calls.
    public var burst: Int

    public init(perSecond: Double, burst: Int? = nil) {
        self.perSecond = perSecond
        self.burst = max(1, burst ?? Int((perSecond / 10).rounded(.up)))
    }
}

/// A token bucket shared by every call to one algorithm: messages, items, fan-out branches, micro-batches and
/// retries. Each caller reserves the next start time under the lock and waits for it outside, so callers start
/// in order, no earlier than the rate allows, and a late wake-up never lets more through. Waiting is not an
/// attempt and holds no call slot; a stop (the intake closing) ends the wait.
package final class RateLimiter: Sendable {
    package struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    package let limit: RateLimit
    package let bucket: Locked<Bucket>
    package let clock = ContinuousClock()

    package init(_ limit: RateLimit) {
        self.limit = limit
        bucket = Locked(Bucket(tokens: Double(limit.burst), updated: ContinuousClock.now))
    }

    /// How long the caller must wait before its call may start (zero: at once); the token is taken either way.
    package func reserve() -> Duration {
        let now = clock.now
        return bucket.withLock { bucket in
            let elapsed = (now - bucket.updated).seconds
            bucket.tokens = min(Double(limit.burst), bucket.tokens + elapsed * limit.perSecond)
            bucket.updated = now
            bucket.tokens -= 1
            return bucket.tokens >= 0 ? .zero : .seconds(-bucket.tokens / limit.perSecond)
        }
    }

    /// Waits for this caller's turn; false when the intake closed meanwhile (no call is to start).
    package func acquire(_ intake: Intake) async -> Bool {
        let wait = reserve()
        guard wait > .zero else { return !intake.isClosed }
        return await intake.sleep(for: wait)
    }
}
