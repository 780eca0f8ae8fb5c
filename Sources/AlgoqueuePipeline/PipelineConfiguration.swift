import AlgoqueueFlowControl
import AlgoqueueResultsTopic

/// How the pipeline dispatches, limits and stops.
public struct PipelineConfiguration: Sendable {
    /// Calls in flight at once. Default: 8.
    public var concurrency: Int = 8
    /// `pipeline.concurrency: auto`: the limit starts at `concurrency` (within the bounds) and follows the
    /// endpoint (``AdaptiveLimit``) between `concurrencyMin` and `concurrencyMax`.
    public var adaptiveConcurrency = false
    public var concurrencyMin = 1
    public var concurrencyMax = 64

    /// The most calls that can be in flight: connection pools are sized for it.
    public var maxCallsInFlight: Int { adaptiveConcurrency ? max(concurrency, concurrencyMax) : concurrency }
    /// Which calls may overlap: `unordered`, per `key`, or per `partition`. Default: `.unordered`.
    public var ordering: Ordering = .unordered
    /// Micro-batching for batch-capable algorithms. Default: off.
    public var batch = BatchConfiguration()
    /// Message headers passed on to the algorithm, by name (case does not matter): as HTTP request headers, and in
    /// the worker protocol's `"headers"`. Names that describe the request itself (`Content-Type`, `Host`,
    /// `Authorization`, …) are refused. Default: none (headers may carry what an endpoint should not see).
    public var passHeaders: [String] = []
    /// The largest input accepted; a larger one gets an error row naming both sizes. Default: 10 MiB.
    public var maxInputBytes: Int = 10 << 20
    /// On SIGTERM, how long in-flight calls may take to finish before they are abandoned (and replayed
    /// on the next start). Default: 30 seconds.
    public var shutdownTimeout: Duration = .seconds(30)
    /// Stop once every partition is consumed to its end and everything is written: the assigned ones by this
    /// instance, the others by the group (``GroupIdleCheck``). Default: false.
    public var untilIdle: Bool = false
    /// With `untilIdle`: the most error rows the job may write and still succeed. Default: nil (no limit).
    public var maxErrors: Int?
    /// With `untilIdle`: the largest share of error rows among the job's rows (0...1) it may write and still
    /// succeed. Default: nil (no limit).
    public var maxErrorRatio: Double?
    /// The most rows one SQLite transaction holds. Default: 5000.
    public var maxRowsPerTransaction: Int = 5000
    /// Group commit: the least time between two SQLite transactions while fewer than `maxRowsPerTransaction`
    /// rows wait, so that rows finishing meanwhile share one commit (one fsync). Default: 50 ms: with calls of 20 ms
    /// at concurrency 64, 8-12% less CPU per message than 10 ms, and a row is durable at most 50 ms later. No pause
    /// follows a transaction of half `maxRowsPerTransaction` rows or more: rows then arrive as fast as they are
    /// written, and the next transaction starts at once.
    public var commitInterval: Duration = .milliseconds(50)
    /// How often progress is logged on long runs. Default: 10 seconds.
    public var progressInterval: Duration = .seconds(10)
    /// Which failures are retried, how often and how patiently.
    public var retry = RetryPolicy()
    /// When calls pause because the endpoint keeps failing.
    public var circuitBreaker = CircuitBreakerConfiguration()
    /// Where messages that end as error rows are also published, with the error in headers. Default: none.
    public var deadLetterTopic: String?
    /// The algorithms (by name) whose answers are computed once per input (`algorithm.cache: input`).
    public var cachedAlgorithms: Set<String> = []
    /// Calls per second allowed to each algorithm, by its name (none: as fast as concurrency allows).
    public var rateLimits: [String: RateLimit] = [:]
    /// Where every written row is also published (through an outbox in the store), for `algoqueue collect` or any
    /// Kafka consumer. Default: none.
    public var resultsTopic: String?
    /// What a results-topic message's value holds. Default: `.row`.
    public var resultsValue: ResultsValue = .row
    /// The most rows the results outbox holds before writing (and so consumption) waits. Default: 100 000.
    public var maxOutboxRows = 100_000
    /// The shortest retention of the results topic that passes without a warning at the start. Default: 7 days.
    public var minResultsRetention = ResultsRetention.defaultMinimum

    /// Batch messages (a list of inputs in one message). Default: off.
    public var batchMessages = BatchMessageConfiguration()
    /// Splitting large batch messages into chunks for the whole group. Default: off.
    public var split = SplitConfiguration()
    /// How fan-out calls to several algorithms relate.
    public var fanOut = FanOutConfiguration()
    /// File inputs and outputs.
    public var sideband = SidebandConfiguration()

    /// A configuration with every default.
    public init() {}
}

extension PipelineConfiguration {
    /// Why a job that wrote `errors` error rows out of `rows` fails `maxErrors` or `maxErrorRatio`; nil when it
    /// does not (or no limit is set).
    public func errorLimitExceeded(errors: Int, rows: Int) -> String? {
        if let maxErrors, errors > maxErrors {
            return "\(errors) error row(s) of \(rows), more than pipeline.max_errors (\(maxErrors))"
        }
        if let maxErrorRatio, rows > 0, Double(errors) / Double(rows) > maxErrorRatio {
            let share = (Double(errors) / Double(rows) * 1000).rounded() / 10
            return
                "\(errors) error row(s) of \(rows) (\(share)%), more than pipeline.max_error_ratio (\(maxErrorRatio))"
        }
        return nil
    }
}
