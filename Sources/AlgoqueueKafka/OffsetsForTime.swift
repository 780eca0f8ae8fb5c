import AlgoqueueSupport
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
        defer { client.closeConsumer() }
        client.pollAsConsumer()
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
        try client.assign([partition], offsets: [partition: offset], what: "cannot read \(partition) at \(offset)")
        let clock = ContinuousClock()
        let deadline = clock.now + within
        while clock.now < deadline {
            guard let message = client.pollMessageCoordinates(milliseconds: 100),
                message.partition == partition.partition, message.offset >= offset
            else { continue }
            return (message.offset, message.timestamp)
        }
        throw KafkaError(.consumer, "no message of \(partition) at offset \(offset) arrived within \(within.text)")
    }
}
