import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import Foundation
import Logging

/// Publishes the rows queued in the store's outbox to the results topic, oldest first, with an idempotent
/// producer; an entry leaves the outbox only once the broker has acknowledged its row. After a crash, a restart
/// or a broker outage it goes on from what the outbox still holds, so a row is published at least once and,
/// because its key names the row, a collector keeps it once.
package final class ResultsPublisher: Sendable {
    package let producer: KafkaProducer
    package let topic: String
    package let store: ResultsStore
    package let group: String
    package let host: String
    package let logger: Logger
    /// Told the outbox's row count while the outbox is full, and nil once it has room (the pipeline's readiness).
    package let fullOutbox: @Sendable (Int?) -> Void
    /// The most rows the outbox may hold before the writer waits (and so consumption pauses).
    package let limit: Int
    /// What each message's value holds (`results.value`).
    package let value: ResultsValue
    /// Rows in the outbox, as far as this process knows (read at start, then counted as written and published).
    package let queued = Locked(0)
    /// Set by ``stop()``: ``run()`` returns after the batch in hand. (Not task cancellation: a cancelled store
    /// update would leave published rows in the outbox, to be published twice.)
    package let stopped = Locked(false)
    package let wake = WakeSignal()
    /// Signalled by ``stop()``: ends the wait for the deliveries of the batch in hand.
    package let stopping = WakeSignal()
    /// Deliveries a stop left unawaited, their rows still in the outbox: ``drain(until:)`` waits for them first, so
    /// that a row the broker takes after all is not published a second time.
    package let unsettled = Locked<[Delivery]>([])

    package typealias Delivery = (id: Int64, delivery: PendingDelivery)

    /// Rows read from the outbox and handed to the producer at once.
    package static let batchSize = 2000
    /// Batches handed to the producer whose acknowledgements are not all in yet: the next batch is read and sent
    /// while the broker acknowledges the last, so publishing is not one round trip per batch.
    package static let batchesInFlight = 4

    package init(
        producer: KafkaProducer, topic: String, store: ResultsStore, group: String, limit: Int,
        value: ResultsValue = .row, logger: Logger, fullOutbox: @escaping @Sendable (Int?) -> Void = { _ in }
    ) {
        self.value = value
        self.fullOutbox = fullOutbox
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
    package static func make(
        topic: String, kafka: KafkaConsumerConfiguration, store: ResultsStore, group: String, limit: Int,
        value: ResultsValue = .row, logger: Logger, fullOutbox: @escaping @Sendable (Int?) -> Void = { _ in }
    ) async throws(KafkaError) -> ResultsPublisher {
        var settings = KafkaProducerConfiguration(sameClusterAs: kafka)
        settings.properties["enable.idempotence"] = "true"
        let publisher = ResultsPublisher(
            producer: try KafkaProducer(configuration: settings, logger: logger), topic: topic, store: store,
            group: group,
            limit: limit, value: value, logger: logger, fullOutbox: fullOutbox)
        await publisher.load()
        return publisher
    }

    /// Reads how many rows an earlier run left in the outbox.
    package func load() async {
        let count = (try? await store.outboxCount()) ?? 0
        queued.withLock { $0 = count }
        if count > 0 {
            logger.info(
                "results outbox holds rows from an earlier run; publishing them", metadata: ["rows": "\(count)"])
        }
    }

    /// The writer wrote `rows` rows into the outbox.
    package func queuedRows(_ rows: Int) {
        guard rows > 0 else { return }
        queued.withLock { $0 += rows }
        wake.signal()
    }

    /// Whether the outbox is over its limit (the writer then waits).
    package var isFull: Bool { queued.withLock { $0 } >= limit }

    /// Waits while the outbox is over its limit, saying so once; returns at once when it is not, or when `stop()`.
    package func waitForRoom(_ stopped: @Sendable () -> Bool) async {
        guard isFull else { return }
        fullOutbox(queued.withLock { $0 })
        defer { fullOutbox(nil) }
        logger.warning(
            "the results outbox is full: consumption pauses until the results topic takes rows again",
            metadata: ["rows": "\(queued.withLock { $0 })", "limit": "\(limit)", "topic": "\(topic)"])
        while isFull, !stopped() { try? await Task.sleep(for: .milliseconds(50)) }
        if !isFull { logger.info("the results outbox has room again; consuming") }
    }

    /// Lets ``run()`` return: at once when waiting, or without waiting for the broker to acknowledge the batch in
    /// hand (a broker that hangs would hold the stop for the whole delivery timeout).
    package func stop() {
        stopped.withLock { $0 = true }
        wake.signal()
        stopping.signal()
    }

    /// Publishes until ``stop()``: reads batches of the outbox, oldest first, and keeps up to ``batchesInFlight`` of
    /// them with the producer; an entry leaves the outbox once the broker has acknowledged it. At a stop, the
    /// deliveries not yet in are left to ``drain(until:)``.
    package func run() async {
        var inFlight: [[Delivery]] = []
        // The last outbox id handed to the producer: the next read starts after it.
        var after: Int64 = 0
        while !stopped.withLock({ $0 }) {
            if inFlight.count < Self.batchesInFlight {
                let (deliveries, failed) = await enqueueBatch(after: after)
                if let last = deliveries.last {
                    inFlight.append(deliveries)
                    after = last.id
                }
                if !deliveries.isEmpty, !failed, inFlight.count < Self.batchesInFlight { continue }
            }
            guard !inFlight.isEmpty else {
                // Nothing queued: only the writer has news, and it signals.
                await wake.wait(atMost: .seconds(5))
                continue
            }
            let oldest = inFlight.removeFirst()
            let settled = await settle(oldest, giveUp: { await self.untilStopped() })
            if !settled.unsettled.isEmpty || stopped.withLock({ $0 }) {
                // A stop: what the broker has not acknowledged yet is awaited by the drain, not published again.
                unsettled.withLock { $0 = settled.unsettled + inFlight.flatMap { $0 } }
                _ = await remove(settled.delivered)
                return
            }
            _ = await remove(settled.delivered)
            if let failure = settled.failure {
                warnNotPublished(failure)
                // Wait for what is still out, then read the outbox again from its oldest row.
                for batch in inFlight {
                    _ = await remove(await settle(batch, giveUp: { await self.untilStopped() }).delivered)
                }
                inFlight = []
                after = 0
                await stopping.wait(atMost: .seconds(1))
            }
        }
        unsettled.withLock { $0 = inFlight.flatMap { $0 } }
    }

    /// Reads up to one batch of the outbox after id `after` and hands it to the producer; `failed` when the store or
    /// the producer refused (logged; what was handed over is returned).
    package func enqueueBatch(after: Int64) async -> (deliveries: [Delivery], failed: Bool) {
        let entries: [(id: Int64, row: ResultRow, split: SplitRowInfo?)]
        do {
            entries = try await store.outbox(limit: Self.batchSize, after: after)
        } catch {
            logger.error("cannot read the results outbox: \(error)")
            return ([], true)
        }
        var deliveries: [Delivery] = []
        deliveries.reserveCapacity(entries.count)
        for entry in entries {
            do {
                deliveries.append(
                    (
                        entry.id,
                        try await producer.enqueue(
                            ResultMessage.record(
                                entry.row, split: entry.split, topic: topic, group: group, host: host, value: value))
                    ))
            } catch {
                warnNotPublished(error)
                return (deliveries, true)
            }
        }
        return (deliveries, false)
    }

    /// Publishes what is queued until the outbox is empty or `deadline`; what is left waits for the next start.
    /// The deliveries a stop left unawaited are waited for first.
    package func drain(until deadline: ContinuousClock.Instant) async {
        let waiting = unsettled.withLock { unsettled in
            defer { unsettled = [] }
            return unsettled
        }
        if !waiting.isEmpty, ContinuousClock.now < deadline {
            let settled = await settle(waiting) { try? await Task.sleep(until: deadline, clock: .continuous) }
            _ = await remove(settled.delivered)
        }
        var left = (try? await store.outboxCount()) ?? 0
        while left > 0, ContinuousClock.now < deadline {
            let published = await publishBatch { try? await Task.sleep(until: deadline, clock: .continuous) }
            if published == 0 { try? await Task.sleep(for: .milliseconds(200)) }
            left = (try? await store.outboxCount()) ?? left
        }
        if left > 0 {
            logger.warning(
                "rows are left in the results outbox; they are published at the next start",
                metadata: ["rows": "\(left)", "topic": "\(topic)"])
        }
    }

    /// Publishes up to one batch from the outbox; returns how many rows left it. Waiting for the broker's
    /// acknowledgements ends early when `giveUp` returns (a stop, or the drain's deadline): those not yet in are kept
    /// for ``drain(until:)``.
    package func publishBatch(giveUp: @escaping @Sendable () async -> Void) async -> Int {
        // `queued` is not reset here: rows the writer queues after this read are counted already.
        let (pending, refused) = await enqueueBatch(after: 0)
        let settled = await settle(pending, giveUp: giveUp)
        if !settled.unsettled.isEmpty { unsettled.withLock { $0 = settled.unsettled } }
        if let failure = settled.failure { warnNotPublished(failure) }
        guard await remove(settled.delivered) else { return 0 }
        if settled.failure != nil || refused, !stopped.withLock({ $0 }) {
            try? await Task.sleep(for: .seconds(1))
        }
        return settled.delivered.count
    }

    /// A row that could not be published stays in the outbox: said once per failure.
    private func warnNotPublished(_ error: any Error) {
        logger.warning(
            "cannot publish to the results topic; the rows stay in the outbox and are published again",
            metadata: ["topic": "\(topic)", "error": "\(error)"])
    }

    /// Takes delivered rows out of the outbox; false when the store refused (they will be published again).
    private func remove(_ delivered: [Int64]) async -> Bool {
        guard !delivered.isEmpty else { return true }
        do {
            try await store.removeFromOutbox(delivered)
        } catch {
            logger.error("cannot update the results outbox (these rows will be published again): \(error)")
            return false
        }
        queued.withLock { $0 = max(0, $0 - delivered.count) }
        return true
    }

    /// What waiting for a batch's deliveries came to.
    package struct Settled {
        /// The rows the broker acknowledged, in order.
        var delivered: [Int64] = []
        /// Why a record was not delivered: the wait stopped there.
        var failure: KafkaError?
        /// Not awaited: the wait was given up first.
        var unsettled: [Delivery] = []
    }

    /// Waits for `pending` in order until one fails, all are in, or `giveUp` returns.
    package func settle(_ pending: [Delivery], giveUp: @escaping @Sendable () async -> Void) async -> Settled {
        await withTaskGroup(of: Settled?.self) { group in
            group.addTask {
                var settled = Settled()
                for (index, entry) in pending.enumerated() {
                    do throws(KafkaError) {
                        _ = try await entry.delivery.delivery()
                        settled.delivered.append(entry.id)
                    } catch let error where error.code == .cancelled {
                        settled.unsettled = Array(pending[index...])
                        break
                    } catch {
                        settled.failure = error
                        break
                    }
                }
                return settled
            }
            group.addTask {
                await giveUp()
                return nil
            }
            var result = Settled()
            for await settled in group {
                group.cancelAll()
                if let settled { result = settled }
            }
            return result
        }
    }

    /// Returns once ``stop()`` was called (or the task is cancelled).
    private func untilStopped() async {
        while !stopped.withLock({ $0 }), !Task.isCancelled { await stopping.wait(atMost: .seconds(60)) }
    }
}
