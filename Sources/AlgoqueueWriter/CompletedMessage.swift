import AlgoqueueKafka
import AlgoqueueStore

/// Every row for one consumed message, ready to be written, with what is needed to move its offset.
package struct CompletedMessage: Sendable {
    package var partition: TopicPartition
    package var generation: Int
    package var offset: Int64
    package var byteCount: Int
    package var rows: [ResultRow]
    /// All of the message's rows are written with this (or were before): its offset may move. False for the
    /// rows a stop left behind, and for a message skipped because its partition was revoked.
    package var complete = true
    /// The batch this message split into chunks, recorded with its rows.
    package var split: BatchSplit? = nil
    /// The chunk of a split batch whose rows these are.
    package var chunk: BatchChunk? = nil
    /// For the rows of a split batch, what the results topic carries for a collector.
    package var splitInfo: SplitRowInfo? = nil

    package init(
        partition: TopicPartition, generation: Int, offset: Int64, byteCount: Int, rows: [ResultRow],
        complete: Bool = true, split: BatchSplit? = nil, chunk: BatchChunk? = nil, splitInfo: SplitRowInfo? = nil
    ) {
        self.partition = partition
        self.generation = generation
        self.offset = offset
        self.byteCount = byteCount
        self.rows = rows
        self.complete = complete
        self.split = split
        self.chunk = chunk
        self.splitInfo = splitInfo
    }
}

/// What one durable write covered.
package struct DurableBatch: Sendable {
    package var messages: Int
    package var bytes: Int
    /// Each message's rows, in order.
    package var rows: [[ResultRow]]
    package var offsets: [TopicPartition: Int64]
    /// Split batches this write completed.
    package var completed: [CompletedBatch]
}
