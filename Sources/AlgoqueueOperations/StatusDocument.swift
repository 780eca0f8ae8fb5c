import AlgoqueuePipeline
import AlgoqueueSupport
import Foundation

/// The last minutes of progress, sampled by the operations loop, for the status page's chart and rates.
final class StatusHistory: Sendable {
    struct Sample: Sendable {
        var at: Date
        var consumed: Int
        var written: Int
    }

    /// Ten minutes at one sample every two seconds.
    static let capacity = 300
    let samples = Locked([Sample]())

    func record(_ snapshot: PipelineStatistics.Snapshot, at: Date = Date()) {
        samples.withLock { samples in
            samples.append(Sample(at: at, consumed: snapshot.consumed, written: snapshot.ok + snapshot.errors))
            if samples.count > Self.capacity { samples.removeFirst(samples.count - Self.capacity) }
        }
    }

    /// Rows written per second between consecutive samples, oldest first, with the sample's time.
    var rates: [(at: Date, rowsPerSecond: Double)] {
        let samples = self.samples.withLock { $0 }
        return zip(samples, samples.dropFirst()).map { earlier, later in
            let seconds = max(later.at.timeIntervalSince(earlier.at), 0.001)
            return (later.at, Double(later.written - earlier.written) / seconds)
        }
    }
}

/// What `/api/status` answers, and what the status page shows.
struct StatusDocument: Encodable {
    struct Totals: Encodable {
        var consumed, ok, errors, durable, retried, cached, deadLettered, circuitOpenings: Int
    }
    struct Algorithm: Encodable {
        var name: String
        var version: String?
        var ok, errors: Int
        var circuit: String
        var circuitOpenSeconds: Double?
        /// While the circuit is not closed: the failure that keeps it open, and for how long it has been.
        var lastFailure: String?
        var openForSeconds: Double?
        var rateLimit: Double?
        var pausedSeconds: Double?
    }
    struct RecentError: Encodable {
        var topic: String
        var partition: Int32
        var offset: Int64
        var item: Int
        var algorithm: String
        var error: String
        var at: String
    }
    struct Point: Encodable {
        var at: String
        var rowsPerSecond: Double
    }

    var consumed: Int
    var totals: Totals
    var ready: Bool
    var reasons: [String]
    var stopping: Bool
    var lag: Int64
    var rowsPerSecond: Double
    var concurrencyLimit: Int?
    var callsInFlight: Int
    var oldestCallSeconds: Double?
    var version: String
    var group: String
    var topics: [String]
    var database: String
    var startedAt: String
    var uptimeSeconds: Double
    var partitions: [PipelineHealth.PartitionState]
    var algorithms: [Algorithm]
    var lastErrors: [RecentError]
    var history: [Point]
    var generatedAt: String

    init(pipeline: Pipeline, history: StatusHistory, stallTimeout: Duration) {
        let snapshot = pipeline.statistics.snapshot
        let report = pipeline.health.report(stallTimeout: stallTimeout)
        let counts = pipeline.tally.perAlgorithm
        let time = ISO8601DateFormatter()
        consumed = snapshot.consumed
        totals = Totals(
            consumed: snapshot.consumed, ok: snapshot.ok, errors: snapshot.errors, durable: snapshot.durable,
            retried: snapshot.retried, cached: snapshot.cached, deadLettered: snapshot.deadLettered,
            circuitOpenings: snapshot.circuitOpenings)
        ready = report.ready
        reasons = report.reasons
        stopping = pipeline.health.stopping
        lag = report.lag
        let rates = history.rates
        rowsPerSecond = rates.last?.rowsPerSecond ?? 0
        concurrencyLimit = pipeline.health.concurrencyLimit
        callsInFlight = pipeline.health.callsInFlight
        version = AlgoqueueVersion.current
        group = pipeline.groupID
        topics = pipeline.topics
        database = pipeline.store.configuration.path
        startedAt = time.string(from: pipeline.startedAt)
        uptimeSeconds = Date().timeIntervalSince(pipeline.startedAt)
        oldestCallSeconds = report.oldestCall?.seconds
        partitions = pipeline.health.partitions
        algorithms = pipeline.health.algorithms.map {
            let count = counts[$0.name] ?? (0, 0)
            return Algorithm(
                name: $0.name, version: $0.version, ok: count.ok, errors: count.errors, circuit: $0.circuit,
                circuitOpenSeconds: $0.circuitOpenSeconds, lastFailure: $0.lastFailure,
                openForSeconds: $0.openForSeconds,
                rateLimit: $0.rateLimit, pausedSeconds: $0.pausedSeconds)
        }
        lastErrors = pipeline.tally.recentErrors.map {
            RecentError(
                topic: $0.topic, partition: $0.partition, offset: $0.offset, item: $0.item, algorithm: $0.algorithm,
                error: $0.error, at: time.string(from: $0.at))
        }
        self.history = rates.map { Point(at: time.string(from: $0.at), rowsPerSecond: $0.rowsPerSecond) }
        generatedAt = time.string(from: Date())
    }

    var json: [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(self)) ?? Data("{}".utf8))
    }
}
