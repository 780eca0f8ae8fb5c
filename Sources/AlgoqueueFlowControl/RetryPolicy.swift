import AlgoqueueAlgorithms

/// When and how often a failed call is tried again.
///
/// Connection errors, timeouts, HTTP 5xx and 429 are retried with exponential backoff and full jitter,
/// waiting at least what a `Retry-After` header asks; any other 4xx, answers that are not usable and bad
/// input are not retried: trying again would give the same answer.
public struct RetryPolicy: Sendable {
    /// Calls per input, the first included; 1 turns retries off. Default: 3.
    public var maxAttempts = 3
    /// No new attempt starts once this much time has gone by since the first. Default: 5 minutes.
    public var maxElapsed: Duration = .seconds(300)
    /// The backoff before the second attempt; it doubles each time. Default: 200 ms.
    public var initialBackoff: Duration = .milliseconds(200)
    /// The longest backoff (a `Retry-After` may ask for more). Default: 30 seconds.
    public var maxBackoff: Duration = .seconds(30)

    /// The default policy.
    public init() {}

    /// Whether trying again could give a different answer.
    public func isRetryable(_ failure: AlgorithmFailure) -> Bool {
        switch failure.kind {
        case .timeout, .transport: return true
        case .status:
            guard let code = failure.statusCode else { return false }
            return code >= 500 || code == 429
        default: return false
        }
    }

    /// How long to wait after attempt number `attempt` (from 1) failed: a random time up to
    /// `initialBackoff × 2^(attempt−1)` capped at `maxBackoff`, and never less than `retryAfter`.
    public func delay(afterAttempt attempt: Int, retryAfter: Duration? = nil) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let ceiling = min(maxBackoff, initialBackoff * (1 << exponent))
        let jitter = Duration.milliseconds(Int64.random(in: 0...max(0, ceiling.milliseconds)))
        guard let retryAfter else { return jitter }
        return max(jitter, retryAfter)
    }
}
