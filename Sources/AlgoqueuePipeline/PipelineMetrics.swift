import AlgoqueueKafka
import AlgoqueueSupport
import Metrics

/// The pipeline's instruments, through swift-metrics (whatever backend the process bootstrapped; none in tests).
///
/// Counters follow ``PipelineStatistics`` on each tick; latencies are recorded where they happen.
final class PipelineMetrics: Sendable {
    let consumed = Counter(label: "algoqueue_messages_consumed_total")
    let okRows = Counter(label: "algoqueue_rows_total", dimensions: [("status", "ok")])
    let errorRows = Counter(label: "algoqueue_rows_total", dimensions: [("status", "error")])
    let retried = Counter(label: "algoqueue_retries_total")
    /// Rows answered from the store without a call (`algorithm.cache: input`).
    let cacheHits = Counter(label: "algoqueue_cache_hits_total")
    let circuitOpenings = Counter(label: "algoqueue_circuit_openings_total")
    let deadLettered = Counter(label: "algoqueue_dead_lettered_total")
    let inFlight = Gauge(label: "algoqueue_calls_in_flight")
    /// The limit of calls in flight (moves with `pipeline.concurrency: auto`).
    let concurrencyLimit = Gauge(label: "algoqueue_concurrency_limit")
    let callDuration = Timer(label: "algoqueue_call_duration_seconds")
    let commitDuration = Timer(label: "algoqueue_store_commit_duration_seconds")
    /// How long calls waited for their algorithm's rate limit (only calls that had to wait).
    let rateLimitWait = Timer(label: "algoqueue_rate_limit_wait_seconds")
    let lastSynced = Locked(PipelineStatistics.Snapshot())
    let lagGauges = Locked([TopicPartition: Gauge]())

    /// Brings the counters up to `snapshot`.
    func sync(_ snapshot: PipelineStatistics.Snapshot, inFlight calls: Int) {
        let last = lastSynced.withLock { last in
            defer { last = snapshot }
            return last
        }
        if snapshot.consumed > last.consumed { consumed.increment(by: snapshot.consumed - last.consumed) }
        if snapshot.ok > last.ok { okRows.increment(by: snapshot.ok - last.ok) }
        if snapshot.errors > last.errors { errorRows.increment(by: snapshot.errors - last.errors) }
        if snapshot.retried > last.retried { retried.increment(by: snapshot.retried - last.retried) }
        if snapshot.cached > last.cached { cacheHits.increment(by: snapshot.cached - last.cached) }
        if snapshot.circuitOpenings > last.circuitOpenings {
            circuitOpenings.increment(by: snapshot.circuitOpenings - last.circuitOpenings)
        }
        if snapshot.deadLettered > last.deadLettered {
            deadLettered.increment(by: snapshot.deadLettered - last.deadLettered)
        }
        inFlight.record(calls)
    }

    /// Sets the lag gauge of each assigned partition.
    func setLag(_ lag: [TopicPartition: Int64]) {
        let gauges = lagGauges.withLock { gauges in
            for partition in lag.keys where gauges[partition] == nil {
                gauges[partition] = Gauge(
                    label: "algoqueue_partition_lag",
                    dimensions: [("topic", partition.topic), ("partition", String(partition.partition))])
            }
            return gauges
        }
        for (partition, value) in lag { gauges[partition]?.record(value) }
    }
}
