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

    /// Creates empty totals.
    public init() {}

    /// The current totals.
    public var snapshot: Snapshot { totals.withLock { $0 } }

    func update(_ change: (inout Snapshot) -> Void) {
        totals.withLock { change(&$0) }
    }
}
