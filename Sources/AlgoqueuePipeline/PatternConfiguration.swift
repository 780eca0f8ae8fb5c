/// Batch messages: a message holding a list of inputs, each called on its own with its own row.
public struct BatchMessageConfiguration: Sendable {
    /// Which messages are batches.
    public enum Mode: String, Sendable, CaseIterable {
        /// None: a list is one input like any other JSON (the default).
        case off
        /// A JSON list, or an object with an `inputs` list, is a batch; anything else is one input.
        case auto
        /// Every message must be a batch; anything else gets an error row.
        case required
    }

    /// Default: `.off`.
    public var mode = Mode.off
    /// The most items one batch message may hold. Default: 10 000.
    public var maxItems = 10_000
    /// Call a batch's items in parallel (sharing `pipeline.concurrency`) rather than one after another in
    /// order. Default: true.
    public var parallel = true

    /// Batch messages off.
    public init() {}
}

/// Recursion: batch messages above a size are split into chunks published back to Kafka, so that every
/// instance in the group shares the work.
public struct SplitConfiguration: Sendable {
    /// Split batches with more items than this; 0 never splits. Default: 0.
    public var maxItems = 0
    /// Where chunks are published. Default: the topic the batch came from.
    public var topic: String?
    /// Where a `batch_complete` event is published when every chunk of a split batch is written. Default: none.
    public var completionTopic: String?

    /// Splitting off.
    public init() {}

    /// Whether batches are split.
    public var enabled: Bool { maxItems > 0 }
}

/// Orchestration: how calls to several algorithms for one input relate.
public struct FanOutConfiguration: Sendable {
    /// The first failure for an input cancels that input's calls still running or waiting. Default: false.
    public var failFast = false

    /// Defaults.
    public init() {}
}

/// Sideband data: inputs read from files, outputs written to files.
public struct SidebandConfiguration: Sendable {
    /// The only directory `{"$file": "name"}` inputs are read from. Default: none (file inputs refused).
    public var inputDirectory: String?
    /// Where outputs larger than `maxInlineOutputBytes` are written. Default: none (every output in its row).
    public var outputDirectory: String?
    /// The largest output kept in the row when `outputDirectory` is set. Default: 1 MiB.
    public var maxInlineOutputBytes = 1 << 20

    /// Defaults.
    public init() {}
}
