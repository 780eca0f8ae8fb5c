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

/// `algoqueue collect`: consumes results topics into one store with the same schema. Each event's rows go in one
/// transaction with the collector group's next offsets (so a crash resumes from the last durable row), upserted by
/// the row's key: a row published twice is one row, and a newer `updated_at` wins.
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
        var summary = CollectSummary()
        var assigned: Set<TopicPartition> = []
        var positions = CollectPositions()
        var firstMessage: ContinuousClock.Instant?
        let admin = try KafkaAdmin(configuration: kafka, logger: logger)
        func lost(_ gap: CollectPositions.Gap) {
            summary.lost += gap.count
            metrics.lost.increment(by: gap.count)
            if summary.gaps.count < 20 { summary.gaps.append(gap.description) }
            logger.warning(
                "\(gap.count) result message(s) were deleted by the broker before they were collected; their rows are not in this store (raise the results topic's retention, or collect more often)",
                metadata: ["lost": "\(gap)"])
        }
        // Partitions read to their end: the offset the next message will have.
        var ended: [TopicPartition: Int64] = [:]
        var lastProgress = ContinuousClock.now
        // One batch's write runs while the next batch is parsed; it is finished (offsets committed, messages
        // released, rows counted) before the next write starts, so batches become durable in order.
        var writing: CollectWrite?
        /// Waits for the write in hand (the one child of `writes`) and does what follows it.
        func finish(_ writes: inout ThrowingTaskGroup<[CompletedBatch], any Error>) async throws {
            guard let write = writing else { return }
            writing = nil
            let completed = try await writes.next() ?? []
            summary.completedBatches += completed.count
            metrics.completedBatches.increment(by: completed.count)
            for batch in completed {
                logger.info("batch complete", metadata: ["batch": "\(batch.origin)", "items": "\(batch.items)"])
            }
            completions?.publish(completed)
            consumer.commit(write.next)
            consumer.release(messages: write.messages, bytes: write.bytes)
            summary.rows += write.rows
            metrics.rows.increment(by: write.rows)
            if let firstMessage { summary.processing = ContinuousClock.now - firstMessage }
            if ContinuousClock.now - lastProgress >= .seconds(10) {
                lastProgress = ContinuousClock.now
                logger.info("collecting", metadata: ["rows": "\(summary.rows)"])
            }
        }
        // One child at a time: the write in hand, while the next batch is parsed.
        try await withThrowingTaskGroup(of: [CompletedBatch].self) { writes in
            do {
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
                                lost(gap)
                            }
                        }
                    case .revoked(let partitions):
                        try await finish(&writes)
                        assigned.subtract(partitions)
                        metrics.assignedPartitions.record(assigned.count)
                        for partition in partitions {
                            ended[partition] = nil
                            positions.revoked(partition)
                        }
                    case .messages(let messages):
                        let received = ContinuousClock.now
                        firstMessage = firstMessage ?? received
                        var rows: [ResultRow] = []
                        var splits: [BatchOrigin: Set<SplitRowInfo>] = [:]
                        var next: [TopicPartition: Int64] = [:]
                        let bytes = messages.reduce(0) { $0 + $1.byteCount }
                        for message in messages {
                            let partition = TopicPartition(message.topic, message.partition)
                            if let gap = positions.received(message.offset, in: partition) { lost(gap) }
                            next[partition] = max(next[partition] ?? 0, message.offset + 1)
                            if let end = ended[partition], message.offset >= end { ended[partition] = nil }
                            if let row = message.value.flatMap(ResultMessage.row) {
                                rows.append(row)
                                if row.item >= 0, let split = ResultMessage.split(message.headers) {
                                    splits[
                                        BatchOrigin(topic: row.topic, partition: row.partition, offset: row.offset),
                                        default: []
                                    ]
                                    .insert(split)
                                }
                            } else {
                                summary.malformed += 1
                                metrics.malformed.increment()
                                logger.warning(
                                    "not a result row (not written by algoqueue run --results-topic?); passed over",
                                    metadata: ["message": "\(message.topic)[\(message.partition)]@\(message.offset)"])
                            }
                        }
                        try await finish(&writes)
                        let (store, group, parsed, parsedSplits) = (self.store, kafka.groupID, rows, splits)
                        let offsets = next.map {
                            StoredOffset(topic: $0.key.topic, partition: $0.key.partition, nextOffset: $0.value)
                        }
                        writes.addTask {
                            try await store.writeCollected(
                                rows: parsed, splits: parsedSplits, offsets: offsets, group: group)
                        }
                        writing = CollectWrite(next: next, messages: messages.count, bytes: bytes, rows: rows.count)
                    case .endOfPartition(let partition, let nextOffset):
                        // Nothing more to parse for now: the write in hand is finished (committed, counted) at once,
                        // not when the next messages come.
                        try await finish(&writes)
                        ended[partition] = nextOffset
                    case .error(let error) where error.code == .fatal:
                        throw error
                    case .error(let error)
                    where untilIdle && assigned.isEmpty && error.rdkafkaCode == Self.unknownTopic:
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
                try await finish(&writes)
            } catch {
                // The write in hand ends before this returns (its rows and offsets are durable or not; either way the
                // next start resumes from the store).
                _ = try? await writes.next()
                throw error
            }
        }
        return summary
    }
}

/// A batch of collected rows being written (a child task of the collect), and what to do once it is durable.
package struct CollectWrite {
    package let next: [TopicPartition: Int64]
    package let messages: Int
    package let bytes: Int
    package let rows: Int
}
