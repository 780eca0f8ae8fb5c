import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import Logging

/// Publishes a `batch_complete` event when every chunk of a split batch is written, and notes it in the store.
/// An event not published (broker down, crash) is published at the next start: at least once.
package final class CompletionPublisher: Sendable {
    package let producer: KafkaProducer
    package let topic: String
    package let store: ResultsStore
    package let logger: Logger
    package let sending = Locked<[Task<Void, Never>]>([])

    package init(producer: KafkaProducer, topic: String, store: ResultsStore, logger: Logger) {
        self.producer = producer
        self.topic = topic
        self.store = store
        self.logger = logger
    }

    /// Publishes the events of `batches` in the background.
    package func publish(_ batches: [CompletedBatch]) {
        guard !batches.isEmpty else { return }
        let task = Task {
            // Cancelled by a stop no broker answered: the rest are published at the next start.
            for batch in batches where !Task.isCancelled { await self.send(batch) }
        }
        sending.withLock { $0.append(task) }
    }

    /// Publishes the events left unpublished by an earlier run.
    package func publishPending() async {
        do {
            for batch in try await store.unpublishedCompletions() { await send(batch) }
        } catch {
            logger.warning("cannot read completed batches to publish their events: \(error)")
        }
    }

    package func send(_ batch: CompletedBatch) async {
        do {
            _ = try await producer.send(
                KafkaRecord(topic: topic, key: Array(batch.origin.description.utf8), value: Array(batch.eventJSON.utf8))
            )
            try await store.markPublished(batch.origin)
            logger.info(
                "batch complete",
                metadata: ["batch": "\(batch.origin)", "items": "\(batch.items)", "errors": "\(batch.errors)"])
        } catch {
            logger.warning(
                "cannot publish the completion of batch \(batch.origin) (published at the next start): \(error)")
        }
    }

    /// Waits for the events being published. With `giveUp` (no broker answered the stop) it does not wait for the
    /// broker: those events are published at the next start.
    package func finish(giveUp: Bool) async {
        let tasks = sending.withLock { $0 }
        if giveUp { for task in tasks { task.cancel() } }
        for task in tasks { await task.value }
    }
}
