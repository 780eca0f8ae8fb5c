import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import Foundation
import Logging

/// Publishes the rows queued in the store's outbox to the results topic, oldest first, with an idempotent
/// producer; an entry leaves the outbox only once the broker has acknowledged its row. After a crash, a restart
/// or a broker outage it goes on from what the outbox still holds, so a row is published at least once and,
/// because its key names the row, a collector keeps it once.
final class ResultsPublisher: Sendable {
    let producer: KafkaProducer
    let topic: String
    let store: ResultsStore
    let group: String
    let host: String
    let logger: Logger
    let health: PipelineHealth
    /// The most rows the outbox may hold before the writer waits (and so consumption pauses).
    let limit: Int
    /// Rows in the outbox, as far as this process knows (read at start, then counted as written and published).
    let queued = Locked(0)
    /// Set by ``stop()``: ``run()`` returns after the batch in hand. (Not task cancellation: a cancelled store
    /// update would leave published rows in the outbox, to be published twice.)
    let stopped = Locked(false)
    let wake = WakeSignal()

    static let batchSize = 500

    init(
        producer: KafkaProducer, topic: String, store: ResultsStore, group: String, limit: Int, health: PipelineHealth,
        logger: Logger
    ) {
        self.health = health
        self.producer = producer
        self.topic = topic
        self.store = store
        self.group = group
        self.limit = max(1, limit)
        self.logger = logger
        host = ProcessInfo.processInfo.hostName
    }

    /// A publisher to `topic` with an idempotent producer of its own on `kafka`'s brokers, knowing what the outbox
    /// already holds.
    static func make(
        topic: String, kafka: KafkaConsumerConfiguration, store: ResultsStore, group: String, limit: Int,
        health: PipelineHealth, logger: Logger
    ) async throws(KafkaError) -> ResultsPublisher {
        var settings = KafkaProducerConfiguration(sameClusterAs: kafka)
        settings.properties["enable.idempotence"] = "true"
        let publisher = ResultsPublisher(
            producer: try KafkaProducer(configuration: settings, logger: logger), topic: topic, store: store,
            group: group,
            limit: limit, health: health, logger: logger)
        await publisher.load()
        return publisher
    }

    /// Reads how many rows an earlier run left in the outbox.
    func load() async {
        let count = (try? await store.outboxCount()) ?? 0
        queued.withLock { $0 = count }
        if count > 0 {
            logger.info(
                "results outbox holds rows from an earlier run; publishing them", metadata: ["rows": "\(count)"])
        }
    }

    /// The writer wrote `rows` rows into the outbox.
    func queuedRows(_ rows: Int) {
        guard rows > 0 else { return }
        queued.withLock { $0 += rows }
        wake.signal()
    }

    /// Whether the outbox is over its limit (the writer then waits).
    var isFull: Bool { queued.withLock { $0 } >= limit }

    /// Waits while the outbox is over its limit, saying so once; returns at once when it is not, or when `stop()`.
    func waitForRoom(_ stopped: @Sendable () -> Bool) async {
        guard isFull else { return }
        health.update { $0.fullOutbox = self.queued.withLock { $0 } }
        defer { health.update { $0.fullOutbox = nil } }
        logger.warning(
            "the results outbox is full: consumption pauses until the results topic takes rows again",
            metadata: ["rows": "\(queued.withLock { $0 })", "limit": "\(limit)", "topic": "\(topic)"])
        while isFull, !stopped() { try? await Task.sleep(for: .milliseconds(50)) }
        if !isFull { logger.info("the results outbox has room again; consuming") }
    }

    /// Lets ``run()`` return after the batch in hand.
    func stop() {
        stopped.withLock { $0 = true }
        wake.signal()
    }

    /// Publishes until ``stop()``.
    func run() async {
        while !stopped.withLock({ $0 }) {
            if await publishBatch() == 0 {
                // Nothing queued (or the broker refused): wait for the writer, or retry after a pause.
                // With nothing queued only the writer has news, and it signals; a refusal is retried sooner.
                await wake.wait(atMost: queued.withLock { $0 } == 0 ? .seconds(5) : .milliseconds(500))
            }
        }
    }

    /// Publishes what is queued until the outbox is empty or `deadline`; what is left waits for the next start.
    func drain(until deadline: ContinuousClock.Instant) async {
        var left = (try? await store.outboxCount()) ?? 0
        while left > 0, ContinuousClock.now < deadline {
            if await publishBatch() == 0 { try? await Task.sleep(for: .milliseconds(200)) }
            left = (try? await store.outboxCount()) ?? left
        }
        if left > 0 {
            logger.warning(
                "rows are left in the results outbox; they are published at the next start",
                metadata: ["rows": "\(left)", "topic": "\(topic)"])
        }
    }

    /// Publishes up to one batch from the outbox; returns how many rows left it.
    func publishBatch() async -> Int {
        let entries: [(id: Int64, row: ResultRow, split: SplitRowInfo?)]
        do {
            entries = try await store.outbox(limit: Self.batchSize)
        } catch {
            logger.error("cannot read the results outbox: \(error)")
            return 0
        }
        // `queued` is not reset here: rows the writer queues after this read are counted already.
        guard !entries.isEmpty else { return 0 }
        var delivered: [Int64] = []
        do {
            var pending: [(Int64, PendingDelivery)] = []
            for entry in entries {
                pending.append(
                    (
                        entry.id,
                        try await producer.enqueue(
                            ResultMessage.record(entry.row, split: entry.split, topic: topic, group: group, host: host))
                    ))
            }
            for (id, delivery) in pending {
                _ = try await delivery.delivery()
                delivered.append(id)
            }
        } catch {
            logger.warning(
                "cannot publish to the results topic; the rows stay in the outbox and are published again",
                metadata: ["topic": "\(topic)", "error": "\(error)"])
        }
        do {
            try await store.removeFromOutbox(delivered)
        } catch {
            logger.error("cannot update the results outbox (these rows will be published again): \(error)")
            return 0
        }
        queued.withLock { $0 = max(0, $0 - delivered.count) }
        if delivered.count < entries.count { try? await Task.sleep(for: .seconds(1)) }
        return delivered.count
    }
}
