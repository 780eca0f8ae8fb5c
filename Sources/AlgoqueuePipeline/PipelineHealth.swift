import AlgoqueueKafka
import AlgoqueueSupport
import Foundation

/// Whether the pipeline is alive and making progress, for `/readyz`, `/healthz` and the systemd watchdog.
public final class PipelineHealth: Sendable {
    struct State {
        var joined = false
        var stopping = false
        var lastProgress = ContinuousClock.now
        var lastTick = ContinuousClock.now
        var callsStarted: [Int: ContinuousClock.Instant] = [:]
        var nextCall = 0
        var lag: [TopicPartition: Int64] = [:]
        /// Messages durable when `lag` was measured.
        var lagDurable = 0
        /// Rows waiting in a full results outbox (consumption paused), or nil.
        var fullOutbox: Int?
        /// The limit of calls in flight when it follows the endpoint (`concurrency: auto`), or nil.
        var concurrencyLimit: Int?
        var partitions: [PartitionState] = []
        var algorithms: [AlgorithmState] = []
    }

    /// An assigned partition: the next offset whose rows are not yet durable, and the broker's end.
    public struct PartitionState: Sendable, Equatable, Encodable {
        public var topic: String
        public var partition: Int32
        public var position: Int64
        public var end: Int64
        public var lag: Int64
    }

    /// What stands between an algorithm and its next call.
    public struct AlgorithmState: Sendable, Equatable {
        public var name: String
        public var version: String?
        /// `closed`, `open` (calls wait) or `half-open` (one probe call).
        public var circuit: String
        /// Seconds until an open circuit lets a probe through.
        public var circuitOpenSeconds: Double?
        /// The failure that opened the circuit or keeps it open, while it is not closed.
        public var lastFailure: String?
        /// How long the circuit has been open or half-open, in seconds.
        public var openForSeconds: Double?
        /// Calls per second allowed (`algorithm.rate_limit`), or nil.
        public var rateLimit: Double?
        /// Seconds the endpoint asked callers to wait (429/503 with Retry-After), or nil.
        public var pausedSeconds: Double?
    }

    /// The assigned partitions, as of the last tick (every second).
    public var partitions: [PartitionState] { state.withLock { $0.partitions } }

    /// The algorithms' circuit breakers, rate limits and pauses, as of the last tick.
    public var algorithms: [AlgorithmState] { state.withLock { $0.algorithms } }

    /// What `/readyz` reports.
    public struct Report: Sendable {
        /// Ready: joined the group and not stalled.
        public var ready: Bool
        /// Why not, when not ready.
        public var reasons: [String]
        /// Messages not yet written, summed over the assigned partitions.
        public var lag: Int64
        /// How long the oldest call in flight has been running.
        public var oldestCall: Duration?
    }

    let state = Locked(State())
    let clock = ContinuousClock()

    /// Creates the health of a pipeline that has not started.
    public init() {}

    /// The pipeline joined its group (its first assignment arrived).
    public var joined: Bool { state.withLock { $0.joined } }

    /// The limit of calls in flight when it follows the endpoint (`concurrency: auto`), or nil.
    public var concurrencyLimit: Int? { state.withLock { $0.concurrencyLimit } }

    /// The lag as of now: the last measurement (every second) less the messages made durable since, so that it
    /// agrees with `durable`, a count taken now (a line showing both never shows a backlog already written).
    public func lag(durableNow durable: Int) -> Int64 {
        state.withLock { state in
            max(0, state.lag.values.reduce(0, +) - Int64(max(0, durable - state.lagDurable)))
        }
    }

    /// Calls to the algorithms in flight now (not counting those waiting for a slot, the circuit or a backoff).
    public var callsInFlight: Int { state.withLock { $0.callsStarted.count } }

    /// The pipeline has stopped fetching and is finishing.
    public var stopping: Bool { state.withLock { $0.stopping } }

    /// Time since the dispatch loop last ticked; the watchdog is fed only while this stays short.
    public var sinceLastTick: Duration { clock.now - state.withLock { $0.lastTick } }

    /// The state for `/readyz`: not ready before joining, or when stalled: lag with no progress for
    /// `stallTimeout`, or a call running for longer than that.
    public func report(stallTimeout: Duration) -> Report {
        let now = clock.now
        return state.withLock { state in
            let lag = state.lag.values.reduce(0, +)
            let oldest = state.callsStarted.values.min().map { now - $0 }
            var reasons: [String] = []
            if !state.joined { reasons.append("not yet joined the consumer group") }
            if lag > 0, now - state.lastProgress > stallTimeout {
                reasons.append(
                    "\(lag) message(s) waiting and nothing written for \(Self.seconds(now - state.lastProgress))")
            }
            if let rows = state.fullOutbox {
                reasons.append(
                    "the results outbox is full (\(rows) rows wait for the results topic): consumption is paused")
            }
            if let oldest, oldest > stallTimeout {
                reasons.append("a call has been running for \(Self.seconds(oldest))")
            }
            return Report(ready: reasons.isEmpty, reasons: reasons, lag: lag, oldestCall: oldest)
        }
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.1fs", duration.seconds)
    }

    func callStarted() -> Int {
        let now = clock.now
        return state.withLock { state in
            defer { state.nextCall += 1 }
            state.callsStarted[state.nextCall] = now
            return state.nextCall
        }
    }

    func callFinished(_ id: Int) {
        _ = state.withLock { $0.callsStarted.removeValue(forKey: id) }
    }

    func update(_ change: (inout State) -> Void) {
        state.withLock { change(&$0) }
    }
}
