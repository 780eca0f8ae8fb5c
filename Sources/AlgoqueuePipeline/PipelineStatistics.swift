import Synchronization

/// Running totals of a pipeline, safe to read from any thread.
public final class PipelineStatistics: Sendable {
    /// A snapshot of the totals.
    public struct Snapshot: Sendable, Equatable {
        /// Messages consumed.
        public var consumed = 0
        /// Rows written with status `ok`.
        public var ok = 0
        /// Rows written with status `error`.
        public var errors = 0
        /// `ok` rows answered from the store (`algorithm.cache: input`), without a call.
        public var cached = 0
        /// Messages whose rows are durable.
        public var durable = 0
        /// Calls tried again after a retryable failure.
        public var retried = 0
        /// Times the circuit breaker opened.
        public var circuitOpenings = 0
        /// Messages published to the dead-letter topic.
        public var deadLettered = 0
    }

    let totals = Mutex(Snapshot())
    let span = Mutex<(first: ContinuousClock.Instant?, last: ContinuousClock.Instant?)>((nil, nil))

    /// Creates empty totals.
    public init() {}

    /// From the first message consumed to the last rows made durable: the processing time of a batch job,
    /// without start-up (joining the group) or shutdown.
    public var processingDuration: Duration? {
        span.withLock { span in
            guard let first = span.first, let last = span.last else { return nil }
            return last - first
        }
    }

    func markConsumed() {
        let now = ContinuousClock.now
        span.withLock { if $0.first == nil { $0.first = now } }
    }

    func markDurable() {
        let now = ContinuousClock.now
        span.withLock { $0.last = now }
    }

    /// The current totals.
    public var snapshot: Snapshot { totals.withLock { $0 } }

    func update(_ change: (inout Snapshot) -> Void) {
        totals.withLock { change(&$0) }
    }
}
