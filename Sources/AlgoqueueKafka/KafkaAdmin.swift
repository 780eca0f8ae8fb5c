import AlgoqueueSupport
import Logging

/// Questions for the cluster that need no subscription: which topics exist, where a group stands, how far a
/// partition reaches. The synchronous calls block up to the timeout; from async code the `async` forms run them
/// on ``BlockingWork``'s queue, off the cooperative threads, and stop waiting when their task is cancelled.
public final class KafkaAdmin: Sendable {
    let client: RdKafkaClient
    let timeoutMilliseconds: Int32

    /// Connects as a member-less client of `group` (nothing is joined).
    public init(configuration: KafkaConsumerConfiguration, timeout: Duration = .seconds(10), logger: Logger)
        throws(KafkaError)
    {
        client = try RdKafkaClient(
            kind: .consumer, properties: configuration.librdkafkaProperties(),
            context: RdKafkaCallbackContext(logger: logger))
        timeoutMilliseconds = Int32(clamping: timeout.milliseconds)
    }

    /// Every topic on the cluster with its partition count (no topic is created by asking).
    public func topics() throws(KafkaError) -> [String: Int] {
        let counts = client.partitionCounts(milliseconds: timeoutMilliseconds)
        guard let topics = counts.topics else {
            throw KafkaError(
                .consumer, "cannot read the cluster's topics: \(RdKafkaConfig.describe(counts.result))",
                rdkafkaCode: Int(counts.result.rawValue))
        }
        return topics
    }

    /// The group's committed offsets (missing where it has committed nothing).
    public func committedOffsets(_ partitions: [TopicPartition]) throws(KafkaError) -> [TopicPartition: Int64] {
        try client.committed(partitions, milliseconds: timeoutMilliseconds, what: "cannot read committed offsets")
    }

    /// The offset the next message produced to `partition` will get.
    public func highWatermark(_ partition: TopicPartition) throws(KafkaError) -> Int64 {
        try watermarks(partition).high
    }

    /// The first offset `partition` still holds and the offset its next message will get.
    public func watermarks(_ partition: TopicPartition) throws(KafkaError) -> (low: Int64, high: Int64) {
        try client.queryWatermarks(
            partition, milliseconds: timeoutMilliseconds, what: "cannot read the end of \(partition)")
    }

    /// ``topics()`` off the cooperative threads.
    public func topics() async throws(KafkaError) -> [String: Int] {
        try await BlockingWork.run(orOnCancel: KafkaError.stoppedWaiting) { () throws(KafkaError) in try self.topics() }
    }

    /// ``committedOffsets(_:)`` off the cooperative threads.
    public func committedOffsets(_ partitions: [TopicPartition]) async throws(KafkaError) -> [TopicPartition: Int64] {
        try await BlockingWork.run(orOnCancel: KafkaError.stoppedWaiting) { () throws(KafkaError) in
            try self.committedOffsets(partitions)
        }
    }

    /// ``watermarks(_:)`` off the cooperative threads.
    public func watermarks(_ partition: TopicPartition) async throws(KafkaError) -> (low: Int64, high: Int64) {
        try await BlockingWork.run(orOnCancel: KafkaError.stoppedWaiting) { () throws(KafkaError) in
            try self.watermarks(partition)
        }
    }

    /// ``highWatermark(_:)`` off the cooperative threads.
    public func highWatermark(_ partition: TopicPartition) async throws(KafkaError) -> Int64 {
        try await BlockingWork.run(orOnCancel: KafkaError.stoppedWaiting) { () throws(KafkaError) in
            try self.highWatermark(partition)
        }
    }
}
