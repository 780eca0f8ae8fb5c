import AlgoqueueKafka
import AlgoqueueStore

/// Every row for one consumed message, ready to be written, with what is needed to move its offset.
struct CompletedMessage: Sendable {
    var partition: TopicPartition
    var generation: Int
    var offset: Int64
    var byteCount: Int
    var rows: [ResultRow]
    /// All of the message's rows are written with this (or were before): its offset may move. False for the
    /// rows a stop left behind, and for a message skipped because its partition was revoked.
    var complete = true
    /// The batch this message split into chunks, recorded with its rows.
    var split: BatchSplit? = nil
    /// The chunk of a split batch whose rows these are.
    var chunk: BatchChunk? = nil
    /// For the rows of a split batch, what the results topic carries for a collector.
    var splitInfo: SplitRowInfo? = nil
}

extension CompletedMessage {
    /// `work`'s message with no rows yet and its offset not to move: what is written when nothing (or not all)
    /// of it could be called.
    init(unfinished work: OrderingLanes.Work) {
        self.init(
            partition: work.message.topicPartition, generation: work.generation, offset: work.message.offset,
            byteCount: work.message.byteCount, rows: [], complete: false)
    }
}

/// What one durable write covered.
struct DurableBatch: Sendable {
    var messages: Int
    var bytes: Int
    /// Each message's rows, in order.
    var rows: [[ResultRow]]
    var offsets: [TopicPartition: Int64]
    /// Split batches this write completed.
    var completed: [CompletedBatch]
}
