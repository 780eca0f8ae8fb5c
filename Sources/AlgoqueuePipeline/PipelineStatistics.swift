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
