import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import Logging

/// Publishes a `batch_complete` event when every chunk of a split batch is written, and notes it in the store.
/// An event not published (broker down, crash) is published at the next start: at least once.
///
/// The events are sent by ``run()``, a child task of whoever owns the publisher (see
/// ``publishing(_:during:)``): nothing is sent after its owner returns.
package final class CompletionPublisher: Sendable {
    package let producer: KafkaProducer
    package let topic: String
    package let store: ResultsStore
    package let logger: Logger
    let queued: AsyncStream<[CompletedBatch]>
    let queue: AsyncStream<[CompletedBatch]>.Continuation

    package init(producer: KafkaProducer, topic: String, store: ResultsStore, logger: Logger) {
        self.producer = producer
        self.topic = topic
        self.store = store
        self.logger = logger
        (queued, queue) = AsyncStream.makeStream(of: [CompletedBatch].self)
    }

    /// Queues the events of `batches` for ``run()``.
    package func publish(_ batches: [CompletedBatch]) {
        guard !batches.isEmpty else { return }
        queue.yield(batches)
    }

    /// Publishes the events an earlier run left unpublished, then each queued batch's, until ``finish()`` and the
    /// queue is empty. Cancelled (a stop no broker answered), it stops sending: the rest go at the next start.
    package func run() async {
        await publishPending()
        for await batches in queued {
            for batch in batches where !Task.isCancelled { await send(batch) }
        }
    }

    /// No more batches come: ``run()`` returns once the queued ones are sent.
    package func finish() {
        queue.finish()
    }

    /// Runs `body` with `publisher` (if any) sending events beside it, then lets the publisher finish what is queued
    /// and waits for it; when `body` says `giveUp` (no broker answered the stop), it does not wait for the broker:
    /// those events are published at the next start.
    package static func publishing<Value>(
        _ publisher: CompletionPublisher?, during body: () async -> (value: Value, giveUp: Bool)
    ) async -> Value {
        guard let publisher else { return await body().value }
        return await withTaskGroup(of: Void.self) { sending in
            sending.addTask { await publisher.run() }
            let (value, giveUp) = await body()
            publisher.finish()
            if giveUp { sending.cancelAll() }
            await sending.waitForAll()
            return value
        }
    }

    /// Publishes the events left unpublished by an earlier run.
    package func publishPending() async {
        do {
            for batch in try await store.unpublishedCompletions() where !Task.isCancelled { await send(batch) }
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
}
