import AlgoqueueKafka
import AlgoqueueStore

/// Every row for one consumed message, ready to be written, with what is needed to move its offset.
struct CompletedMessage: Sendable {
    var partition: TopicPartition
    var generation: Int
    var offset: Int64
    var byteCount: Int
    var rows: [ResultRow]
}

/// What one durable write covered.
struct DurableBatch: Sendable {
    var messages: Int
    var bytes: Int
    var rows: [ResultRow]
    var offsets: [TopicPartition: Int64]
}
