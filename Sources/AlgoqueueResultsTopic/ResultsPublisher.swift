import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import Foundation
import Logging

/// Publishes the rows queued in the store's outbox to the results topic, oldest first, with an idempotent
/// producer; an entry leaves the outbox only once the broker has acknowledged its row. After a crash, a restart
/// or a broker outage it goes on from what the outbox still holds, so a row is published at least once and,
/// because its key names the row, a collector keeps it once.
///
/// The writer hands each transaction's queued rows over in memory as well (the feed), so that in a calm run no
/// row is read back from the store: reading the outbox joined with `results` and decoding each row was the
/// largest part of publishing's CPU in a profile of the benchmark's results-topic run. The store is read for
/// what the feed does not hold: an earlier run's rows, rows over the feed's limits, a row that replaced a stored
/// one, and everything after a failed delivery.
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
    /// Signalled when published rows leave the outbox, and by the writer's close: the writer waiting for room in a
    /// full outbox looks again.
    package let room = WakeSignal()
    /// Deliveries a stop left unawaited, their rows still in the outbox: ``drain(until:)`` waits for them first, so
    /// that a row the broker takes after all is not published a second time.
    package let unsettled = Locked<[Delivery]>([])
    /// The rows the writer queued, as written; see ``Feed``.
    package let feed = Locked(Feed())

    package typealias Delivery = (id: Int64, delivery: PendingDelivery)

    /// Rows read from the outbox and handed to the producer at once.
    package static let batchSize = 2000
    /// The most bytes of rows the feed holds by default; a write beyond is read from the store.
    package static let feedBytes = 64 << 20
    /// The most rows, and bytes of rows, the feed holds (by default as many rows as the outbox may hold).
    package let feedLimit: (rows: Int, bytes: Int)

    /// Queued rows handed over by the writer, oldest first. Every outbox entry after `floor` is here or was taken
    /// from here; those up to `floor` are read from the store.
    package struct Feed {
        package var writes: [(entries: [OutboxEntry], bytes: Int)] = []
        package var rows = 0
        package var bytes = 0
        package var floor: Int64 = 0
    }
    /// Batches handed to the producer whose acknowledgements are not all in yet: the next batch is read and sent
    /// while the broker acknowledges the last, so publishing is not one round trip per batch.
    package static let batchesInFlight = 4

    package init(
        producer: KafkaProducer, topic: String, store: ResultsStore, group: String, limit: Int,
        value: ResultsValue = .row, logger: Logger, fullOutbox: @escaping @Sendable (Int?) -> Void = { _ in },
        feedLimit: (rows: Int, bytes: Int)? = nil
    ) {
        self.feedLimit = feedLimit ?? (max(1, limit), Self.feedBytes)
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

    /// Reads how many rows an earlier run left in the outbox (they are read from the store, not the feed).
    package func load() async {
        let count = (try? await store.outboxCount()) ?? 0
        let last = (try? await store.lastOutboxID()) ?? .max
        feed.withLock { $0.floor = max($0.floor, last) }
        queued.withLock { $0 = count }
        if count > 0 {
            logger.info(
                "results outbox holds rows from an earlier run; publishing them", metadata: ["rows": "\(count)"])
        }
    }

    /// The writer queued `rows` in the outbox (committed).
    package func written(_ rows: QueuedRows) {
        guard rows.count > 0 else { return }
        let bytes = rows.entries.reduce(0) { $0 + Self.size(of: $1.row) }
        feed.withLock { feed in
            feed.floor = max(feed.floor, rows.lastUnlisted)
            guard let last = rows.entries.last else { return }
            if feed.rows + rows.entries.count > feedLimit.rows || feed.bytes + bytes > feedLimit.bytes {
                // Left to the store.
                feed.floor = max(feed.floor, last.id)
            } else {
                feed.writes.append((rows.entries, bytes))
                feed.rows += rows.entries.count
                feed.bytes += bytes
            }
        }
        queued.withLock { $0 += rows.count }
        wake.signal()
    }

    /// About what a row takes in memory.
    private static func size(of row: ResultRow) -> Int {
        256 + (row.output?.utf8.count ?? 0) + (row.input?.utf8.count ?? 0) + (row.rawInput?.count ?? 0)
            + (row.metadata?.utf8.count ?? 0) + (row.error?.utf8.count ?? 0)
    }

    /// At least one batch of the feed's rows after outbox id `after` (whole writes, so more when a write was larger),
    /// or nil when the store holds entries after `after` that the feed does not.
    private func takeWritten(after: Int64) -> [OutboxEntry]? {
        feed.withLock { feed in
            guard after >= feed.floor else { return nil }
            var taken: [OutboxEntry] = []
            while taken.count < Self.batchSize, !feed.writes.isEmpty {
                let write = feed.writes.removeFirst()
                feed.rows -= write.entries.count
                feed.bytes -= write.bytes
                if taken.isEmpty, let first = write.entries.first, first.id > after {
                    // The write's array as it is, not its rows copied one by one.
                    taken = write.entries
                } else if let first = write.entries.first, first.id > after {
                    taken.append(contentsOf: write.entries)
                } else {
                    taken.append(contentsOf: write.entries.lazy.filter { $0.id > after })
                }
            }
            return taken
        }
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
        while isFull, !stopped() { await room.wait(atMost: .seconds(1)) }
        if !isFull { logger.info("the results outbox has room again; consuming") }
    }

    /// Lets ``run()`` return: at once when waiting, or without waiting for the broker to acknowledge the batch in
    /// hand (a broker that hangs would hold the stop for the whole delivery timeout).
    package func stop() {
        stopped.withLock { $0 = true }
        wake.signal()
        stopping.signal()
        room.signal()
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
                let (deliveries, failed, through) = await enqueueBatch(after: after)
                if !deliveries.isEmpty { inFlight.append(deliveries) }
                let moved = through > after
                after = max(after, through)
                if moved, !failed, inFlight.count < Self.batchesInFlight { continue }
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
                // Everything handed over so far is sent again from the store, oldest first.
                feed.withLock { $0.floor = max($0.floor, after) }
                after = 0
                await stopping.wait(atMost: .seconds(1))
            }
        }
        unsettled.withLock { $0 = inFlight.flatMap { $0 } }
    }

    /// Hands the next batch after outbox id `after` to the producer: from the feed when it holds every entry after
    /// `after`, else read from the store (up to the feed's floor). `failed` when the store or the producer refused
    /// (logged; what was handed over is returned); `through` is the outbox id the next batch starts after.
    package func enqueueBatch(after: Int64) async -> (deliveries: [Delivery], failed: Bool, through: Int64) {
        if let written = takeWritten(after: after) {
            let (deliveries, failed) = await enqueue(written)
            return (deliveries, failed, deliveries.last?.id ?? after)
        }
        let floor = feed.withLock { $0.floor }
        let (deliveries, failed, read) = await enqueueStored(after: after, through: floor)
        // Fewer than a batch and all handed over: nothing else is stored up to the floor.
        let through = !failed && read < Self.batchSize ? floor : deliveries.last?.id ?? after
        return (deliveries, failed, through)
    }

    /// Reads up to one batch of the outbox after id `after`, up to id `through`, and hands it to the producer; `read`
    /// is how many entries the store gave.
    package func enqueueStored(after: Int64, through: Int64) async -> (
        deliveries: [Delivery], failed: Bool, read: Int
    ) {
        let entries: [OutboxEntry]
        do {
            entries = try await store.outbox(limit: Self.batchSize, after: after, through: through)
        } catch {
            logger.error("cannot read the results outbox: \(error)")
            return ([], true, 0)
        }
        let (deliveries, failed) = await enqueue(entries)
        return (deliveries, failed, entries.count)
    }

    /// Hands `entries` to the producer, in order, until it refuses one (logged).
    private func enqueue(_ entries: [OutboxEntry]) async -> (deliveries: [Delivery], failed: Bool) {
        var deliveries: [Delivery] = []
        deliveries.reserveCapacity(entries.count)
        // By index: a for-in loop copied each entry (a retain and a release per string of its row).
        for index in entries.indices {
            do {
                let record = ResultMessage.record(
                    entries[index].row, split: entries[index].split, topic: topic, group: group, host: host,
                    value: value)
                deliveries.append((entries[index].id, try await producer.enqueue(record)))
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
        let (pending, refused, _) = await enqueueStored(after: 0, through: .max)
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
    /// `delivered` is a run of consecutive outbox entries (a batch's, or consecutive batches', acknowledged in
    /// order), so its first and last id name it.
    private func remove(_ delivered: [Int64]) async -> Bool {
        guard let first = delivered.first, let last = delivered.last else { return true }
        do {
            try await store.removeFromOutbox([first...last])
        } catch {
            logger.error("cannot update the results outbox (these rows will be published again): \(error)")
            return false
        }
        queued.withLock { $0 = max(0, $0 - delivered.count) }
        room.signal()
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
