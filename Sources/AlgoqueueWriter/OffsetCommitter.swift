import AlgoqueueKafka
import AlgoqueueSupport

/// Commits to Kafka only what is durable. For each transaction the writer asks which offsets its finished messages
/// move (per partition, the offset below which every received message has its rows, ``OffsetTracker``); those are
/// stored in the same SQLite transaction as the rows, and committed to Kafka once that transaction is durable. A
/// message still in a call holds its partition's offset back, however many after it are written.
package final class OffsetCommitter: Sendable {
    /// Where each partition stands: received, finished, the durable watermark.
    package let tracker: Locked<OffsetTracker>
    /// Commits offsets to Kafka (the consumer's commit; a test's recorder).
    package let commitToKafka: @Sendable ([TopicPartition: Int64]) -> Void

    package init(tracker: Locked<OffsetTracker>, commit: @escaping @Sendable ([TopicPartition: Int64]) -> Void) {
        self.tracker = tracker
        commitToKafka = commit
    }

    /// Marks the complete messages of `batch` finished; returns the offsets that moved, to store with its rows.
    package func offsetsToStore(_ batch: [CompletedMessage]) -> [TopicPartition: Int64] {
        tracker.withLock { tracker in
            for message in batch where message.complete {
                tracker.finish(message.partition, generation: message.generation, offset: message.offset)
            }
            return tracker.takeChangedWatermarks()
        }
    }

    /// The transaction that stored `offsets` is durable: they go to Kafka.
    package func durable(_ offsets: [TopicPartition: Int64]) {
        commitToKafka(offsets)
    }
}
