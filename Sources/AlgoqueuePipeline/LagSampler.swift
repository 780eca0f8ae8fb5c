import AlgoqueueKafka
import AlgoqueueSupport

/// Every second, beside the dispatch loop (which a backlog keeps busy): the lag and position of each assigned
/// partition, the algorithms' state and the metrics. A partition's end is the fetcher's (librdkafka's cached high
/// watermark) or, while it has none, asked of the broker every 3 seconds.
struct LagSampler: Sendable {
    let statistics: PipelineStatistics
    let health: PipelineHealth
    let metrics: PipelineMetrics

    /// Samples until cancelled.
    func run(_ consumer: KafkaConsumer, _ dispatch: Dispatch) async {
        var queried: [TopicPartition: Int64] = [:]
        var lastQuery = ContinuousClock.now - .seconds(10)
        while !Task.isCancelled {
            // Counted before the watermarks are read: rows made durable in between are left out of the lag and
            // counted after this, so the lag shown later may be a little low, never above what is left.
            let durable = statistics.snapshot.durable
            let assigned = dispatch.tracker.withLock { $0.assigned }
            var lag: [TopicPartition: Int64] = [:]
            var positions: [PipelineHealth.PartitionState] = []
            let mayQuery = ContinuousClock.now - lastQuery >= .seconds(3)
            for partition in assigned {
                var high = consumer.highWatermark(partition)
                if high == nil, mayQuery {
                    lastQuery = ContinuousClock.now
                    if let answer = await consumer.queryHighWatermark(partition) { queried[partition] = answer }
                }
                high = high ?? queried[partition]
                guard let high else { continue }
                let durable = dispatch.tracker.withLock { $0.watermark(partition) } ?? high
                lag[partition] = max(0, high - durable)
                positions.append(
                    .init(
                        topic: partition.topic, partition: partition.partition, position: durable, end: high,
                        lag: max(0, high - durable)))
            }
            let algorithms = dispatch.processor.targets.map(\.state)
            health.update {
                $0.lag = lag
                $0.lagDurable = durable
                $0.partitions = positions.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
                $0.algorithms = algorithms
            }
            metrics.setLag(lag)
            metrics.sync(statistics.snapshot, inFlight: dispatch.callSlots.inFlight)
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
