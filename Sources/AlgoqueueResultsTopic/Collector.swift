import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import Logging
import ServiceLifecycle

/// What a collector did.
public struct CollectSummary: Sendable {
    /// Row messages written (a row published twice counts twice; it is one row in the store).
    public var rows = 0
    /// Messages that were not result rows (logged with their coordinates, then passed over).
    public var malformed = 0
    /// Split batches this collector saw complete (each announced on the completion topic, when given).
    public var completedBatches = 0
    /// Result messages never read: the broker deleted them (retention) before this collector got to them.
    public var lost: Int64 = 0
    /// Where they were, such as `results[2] offsets 0..<1234` (at most 20 listed).
    public var gaps: [String] = []
    /// From the first message received to the last rows written (the group join and the wait for the end left out).
    public var processing: Duration?

    public init() {}
}

/// `algoqueue collect`: consumes results topics into one store with the same schema. Rows go in transactions with
/// the collector group's next offsets (so a crash resumes from the last durable row), written by ``CollectWriter``
/// while the next messages are read, upserted by the row's key: a row published twice is one row, and a newer
/// `updated_at` wins.
public final class Collector: Sendable {
    package let kafka: KafkaConsumerConfiguration
    package let store: ResultsStore
    package let logger: Logger
    /// Where a `batch_complete` event goes when a split batch becomes whole in the collected store.
    package let completionTopic: String?
    package let metrics = CollectMetrics()

    public init(kafka: KafkaConsumerConfiguration, store: ResultsStore, completionTopic: String? = nil, logger: Logger)
    {
        self.kafka = kafka
        self.store = store
        self.completionTopic = completionTopic
        self.logger = logger
    }

    /// Collects until SIGTERM/SIGINT or, with `untilIdle`, until every assigned partition is read to its end.
    public func run(untilIdle: Bool) async throws -> CollectSummary {
        let group = kafka.groupID
        let store = self.store
        let logger = self.logger
        let consumer = try KafkaConsumer(
            configuration: kafka, storedOffsets: store.storedOffsets(group: group, logger: logger), logger: logger)
        try consumer.start()
        logger.info(
            "collecting",
            metadata: ["topics": "\(kafka.topics)", "group": "\(group)", "database": "\(store.configuration.path)"])
        var completions: CompletionPublisher?
        if let completionTopic {
            completions = CompletionPublisher(
                producer: try KafkaProducer(
                    configuration: KafkaProducerConfiguration(sameClusterAs: kafka), logger: logger),
                topic: completionTopic,
                store: store,
                logger: logger)
        }
        var summary = CollectSummary()
        var failure: (any Error)?
        // Events are published beside collecting (an earlier run's first), and finished before this returns.
        let brokerAnswered = await CompletionPublisher.publishing(completions) {
            await withGracefulShutdownHandler {
                do {
                    summary = try await collect(consumer, untilIdle: untilIdle, completions: completions)
                } catch {
                    failure = error
                }
            } onGracefulShutdown: {
                consumer.requestClose()
            }
            let brokerAnswered = await consumer.close(within: KafkaConsumer.closeTimeout)
            return (brokerAnswered, giveUp: !brokerAnswered)
        }
        await completions?.producer.close(timeout: KafkaProducer.closeTimeout(brokerAnswered: brokerAnswered))
        if let failure { throw failure }
        return summary
    }

    /// librdkafka's RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART.
    package static let unknownTopic = 3

    package func collect(_ consumer: KafkaConsumer, untilIdle: Bool, completions: CompletionPublisher?) async throws
        -> CollectSummary
    {
        let progress = Locked(CollectProgress())
        let writer = CollectWriter(store: store, group: kafka.groupID)
        let (metrics, logger) = (self.metrics, self.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                do {
                    try await writer.run { batch, completed in
                        metrics.completedBatches.increment(by: completed.count)
                        for batch in completed {
                            logger.info(
                                "batch complete", metadata: ["batch": "\(batch.origin)", "items": "\(batch.items)"])
                        }
                        completions?.publish(completed)
                        consumer.commit(batch.next)
                        consumer.release(messages: batch.messages, bytes: batch.bytes)
                        metrics.rows.increment(by: batch.rows.count)
                        let rows = progress.withLock { $0.written(batch.rows.count, completing: completed.count) }
                        if let rows { logger.info("collecting", metadata: ["rows": "\(rows)"]) }
                    }
                } catch {
                    // The reading stops too: its events end.
                    consumer.requestClose()
                    throw error
                }
            }
            do {
                try await read(consumer, untilIdle: untilIdle, into: writer, progress: progress)
            } catch {
                // What was read is still written (its rows and offsets are durable or not; either way the next
                // start resumes from the store).
                writer.close()
                try? await tasks.waitForAll()
                throw error
            }
            writer.close()
            try await tasks.waitForAll()
        }
        return progress.withLock { $0.summary }
    }

    /// Reads the results topics into `writer` until the consumer's events end or, with `untilIdle`, every assigned
    /// partition is read to its end.
    func read(_ consumer: KafkaConsumer, untilIdle: Bool, into writer: CollectWriter, progress: Locked<CollectProgress>)
        async throws
    {
        var assigned: Set<TopicPartition> = []
        var positions = CollectPositions()
        let admin = try KafkaAdmin(configuration: kafka, logger: logger)
        // One row's values while its message is read: one scratch space for every message.
        var scratch = MessageRows.Builder()
        // Partitions read to their end: the offset the next message will have.
        var ended: [TopicPartition: Int64] = [:]
        for await event in consumer.events {
            switch event {
            case .assigned(let partitions):
                assigned.formUnion(partitions.keys)
                metrics.assignedPartitions.record(assigned.count)
                // Where this group had read to: the offsets stored with the rows, or committed; else never read (0).
                let stored = Dictionary(
                    (try? store.offsets(group: kafka.groupID))?.map {
                        (TopicPartition($0.topic, $0.partition), $0.nextOffset)
                    } ?? [], uniquingKeysWith: { max($0, $1) })
                let committed = (try? await admin.committedOffsets(Array(partitions.keys))) ?? [:]
                for partition in partitions.keys {
                    positions.assigned(partition, next: max(stored[partition] ?? 0, committed[partition] ?? 0))
                    if let low = try? await admin.watermarks(partition).low,
                        let gap = positions.available(from: low, in: partition)
                    {
                        lost(gap, progress)
                    }
                }
            case .revoked(let partitions):
                // What was read from them is written (its offsets stored and committed) before they go.
                try await writer.drain()
                assigned.subtract(partitions)
                metrics.assignedPartitions.record(assigned.count)
                for partition in partitions {
                    ended[partition] = nil
                    positions.revoked(partition)
                }
            case .messages(let messages):
                progress.withLock { $0.started = $0.started ?? ContinuousClock.now }
                var batch = CollectBatch()
                batch.messages = messages.count
                for message in messages {
                    batch.bytes += message.byteCount
                    let partition = TopicPartition(message.topic, message.partition)
                    if let gap = positions.received(message.offset, in: partition) { lost(gap, progress) }
                    batch.next[partition] = max(batch.next[partition] ?? 0, message.offset + 1)
                    if let end = ended[partition], message.offset >= end { ended[partition] = nil }
                    if let value = message.value, ResultMessage.append(value, to: &batch.rows, using: &scratch) {
                        if let split = ResultMessage.split(message.headers),
                            let (origin, item) = batch.rows.source(ofRow: batch.rows.count - 1), item >= 0
                        {
                            batch.splits[origin, default: []].insert(split)
                        }
                    } else {
                        progress.withLock { $0.summary.malformed += 1 }
                        metrics.malformed.increment()
                        logger.warning(
                            "not a result row (not written by algoqueue run --results-topic?); passed over",
                            metadata: ["message": "\(message.topic)[\(message.partition)]@\(message.offset)"])
                    }
                }
                writer.submit(batch)
            case .endOfPartition(let partition, let nextOffset):
                ended[partition] = nextOffset
            case .error(let error) where error.code == .fatal:
                throw error
            case .error(let error) where untilIdle && assigned.isEmpty && error.rdkafkaCode == Self.unknownTopic:
                // Nothing has been published there yet: with --until-idle there is nothing to wait for.
                throw KafkaError(
                    .subscription,
                    "\(error.message): no results topic to collect yet (is run given --results-topic?)",
                    rdkafkaCode: error.rdkafkaCode)
            case .error:
                continue
            }
            if untilIdle, !assigned.isEmpty, assigned.allSatisfy({ ended[$0] != nil }) { break }
        }
    }

    /// Counts and reports result messages the broker deleted before they were read.
    func lost(_ gap: CollectPositions.Gap, _ progress: Locked<CollectProgress>) {
        progress.withLock {
            $0.summary.lost += gap.count
            if $0.summary.gaps.count < 20 { $0.summary.gaps.append(gap.description) }
        }
        metrics.lost.increment(by: gap.count)
        logger.warning(
            "\(gap.count) result message(s) were deleted by the broker before they were collected; their rows are not in this store (raise the results topic's retention, or collect more often)",
            metadata: ["lost": "\(gap)"])
    }
}

/// What a collect has done so far: the reading and the writer both count.
package struct CollectProgress: Sendable {
    var summary = CollectSummary()
    /// When the first messages came.
    var started: ContinuousClock.Instant?
    var lastLog = ContinuousClock.now

    /// Counts a transaction's rows; gives the rows so far when it is time to log them (every 10 s).
    mutating func written(_ rows: Int, completing batches: Int) -> Int? {
        summary.rows += rows
        summary.completedBatches += batches
        let now = ContinuousClock.now
        if let started { summary.processing = now - started }
        guard now - lastLog >= .seconds(10) else { return nil }
        lastLog = now
        return summary.rows
    }
}
