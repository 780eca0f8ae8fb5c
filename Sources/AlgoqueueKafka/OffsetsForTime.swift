import AlgoqueueSupport
import CRdKafka
import Logging

/// The first offset of each partition whose message was written at or after a time, found by reading messages:
/// a binary search over the partition's offsets with a consumer of its own (assigned, never subscribed, never
/// committing), about log2(messages) reads per partition. Kafka's ListOffsets by timestamp answers the same, but
/// the development broker does not answer it; reading the messages' own timestamps works on any broker.
public enum OffsetsForTime {
    /// For each partition (with its first and next offsets), the first offset whose message timestamp is at or after
    /// `milliseconds` since the epoch; the partition's end when no message is. Each read waits at most `within`.
    public static func find(
        _ partitions: [TopicPartition: (low: Int64, high: Int64)], atOrAfter milliseconds: Int64,
        configuration: KafkaConsumerConfiguration, within: Duration = .seconds(10), logger: Logger
    ) throws(KafkaError) -> [TopicPartition: Int64] {
        let client = try RdKafkaClient(
            kind: .consumer, properties: configuration.librdkafkaProperties(),
            context: RdKafkaCallbackContext(logger: logger))
        defer { _ = rd_kafka_consumer_close(client.handle) }
        rd_kafka_poll_set_consumer(client.handle)
        var result: [TopicPartition: Int64] = [:]
        for (partition, marks) in partitions {
            // The answer lies in low...high: high when every message is older.
            var low = marks.low
            var high = marks.high
            while low < high {
                let middle = low + (high - low) / 2
                let (offset, timestamp) = try read(client, partition, at: middle, within: within)
                if timestamp >= milliseconds {
                    // No message lies between `middle` and `offset`: the answer is below `middle` or is `offset`.
                    high = middle
                    if low == high { low = offset }
                } else {
                    low = offset + 1
                }
            }
            result[partition] = min(max(low, marks.low), marks.high)
        }
        return result
    }

    /// The offset and timestamp (milliseconds since the epoch) of the first message of `partition` at or after
    /// `offset`.
    static func read(
        _ client: RdKafkaClient, _ partition: TopicPartition, at offset: Int64, within: Duration
    ) throws(KafkaError) -> (offset: Int64, timestamp: Int64) {
        let list = TopicPartitionList.make([partition], offsets: [partition: offset])
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let assigned = rd_kafka_assign(client.handle, list)
        guard assigned == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(
                .consumer, "cannot read \(partition) at \(offset): \(RdKafkaConfig.describe(assigned))",
                rdkafkaCode: Int(assigned.rawValue))
        }
        let clock = ContinuousClock()
        let deadline = clock.now + within
        while clock.now < deadline {
            guard let message = rd_kafka_consumer_poll(client.handle, 100) else { continue }
            defer { rd_kafka_message_destroy(message) }
            let raw = message.pointee
            guard raw.err == RD_KAFKA_RESP_ERR_NO_ERROR, raw.partition == partition.partition, raw.offset >= offset
            else { continue }
            var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            return (raw.offset, rd_kafka_message_timestamp(message, &type))
        }
        throw KafkaError(.consumer, "no message of \(partition) at offset \(offset) arrived within \(within.text)")
    }
}
