import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import Logging

/// Recursion: splits a batch message above `split.max_items` into chunks. The instance that consumed it keeps
/// the first chunk; the others are published (to the batch's topic or `split.topic`), spread over the topic's
/// partitions, with headers naming the batch and the chunk's first item, so that every instance in the group
/// shares them. A batch the store already records as split is not published again.
final class BatchSplitter: Sendable {
    let configuration: SplitConfiguration
    let producer: KafkaProducer
    let admin: KafkaAdmin
    let store: ResultsStore
    let logger: Logger
    let partitionCounts = Locked<[String: Int]>([:])
    /// Told where chunks went (partition → offset after the last chunk), so that idle detection waits for them.
    let onPublished: @Sendable ([TopicPartition: Int64]) -> Void

    init(
        configuration: SplitConfiguration, producer: KafkaProducer, admin: KafkaAdmin, store: ResultsStore,
        logger: Logger, onPublished: @escaping @Sendable ([TopicPartition: Int64]) -> Void
    ) {
        self.configuration = configuration
        self.producer = producer
        self.admin = admin
        self.store = store
        self.logger = logger
        self.onPublished = onPublished
    }

    var maxItems: Int { configuration.maxItems }

    /// Publishes every chunk but the first (unless the store says this batch was split before) and returns the
    /// split; nil when cancelled before every chunk was delivered (the message is then consumed again).
    func split(_ message: KafkaMessage, bytes: [UInt8], ranges: [Range<Int>]) async -> BatchSplit? {
        let origin = BatchOrigin(topic: message.topic, partition: message.partition, offset: message.offset)
        let chunks = stride(from: 0, to: ranges.count, by: maxItems).map {
            BatchChunk(origin: origin, firstItem: $0, items: min(maxItems, ranges.count - $0))
        }
        let split = BatchSplit(origin: origin, items: ranges.count, chunks: chunks)
        if (try? await store.isSplit(origin)) == true {
            logger.info("batch already split; its chunks are not published again", metadata: ["batch": "\(origin)"])
            return split
        }
        let topic = configuration.topic ?? message.topic
        let partitions = await partitionCount(topic)
        var records: [KafkaRecord] = []
        for (number, chunk) in chunks.enumerated().dropFirst() {
            let value = bytes.jsonList(ranges[chunk.firstItem..<(chunk.firstItem + chunk.items)])
            let partition = partitions.map { Int32((Int(message.partition) + number) % $0) }
            records.append(
                KafkaRecord(
                    topic: topic, partition: partition, key: message.key, value: value,
                    headers: ChunkHeaders.headers(chunk, batchItems: ranges.count)))
        }
        var delivered: [TopicPartition: Int64] = [:]
        let producer = self.producer
        let logger = self.logger
        let deliveries = await withTaskGroup(of: KafkaDelivery?.self) { group in
            for record in records {
                group.addTask {
                    while !Task.isCancelled {
                        do {
                            return try await producer.send(record)
                        } catch let error as KafkaError where error.code == .cancelled {
                            return nil  // stopping: the batch message is consumed again
                        } catch {
                            logger.warning("could not publish a chunk of batch \(origin), trying again: \(error)")
                            try? await Task.sleep(for: .seconds(1))
                        }
                    }
                    return nil
                }
            }
            var deliveries: [KafkaDelivery?] = []
            for await delivery in group { deliveries.append(delivery) }
            return deliveries
        }
        guard !deliveries.contains(where: { $0 == nil }) else { return nil }
        for case let delivery? in deliveries {
            let partition = TopicPartition(delivery.topic, delivery.partition)
            delivered[partition] = max(delivered[partition] ?? 0, delivery.offset + 1)
        }
        onPublished(delivered)
        logger.info(
            "split a batch into chunks",
            metadata: [
                "batch": "\(origin)", "items": "\(ranges.count)", "chunks": "\(chunks.count)", "topic": "\(topic)",
            ])
        return split
    }

    /// The topic's partition count (asked once), or nil when it cannot be known (librdkafka then picks).
    func partitionCount(_ topic: String) async -> Int? {
        if let known = partitionCounts.withLock({ $0[topic] }) { return known }
        guard let count = (try? await admin.topics())?[topic], count > 0 else { return nil }
        partitionCounts.withLock { $0[topic] = count }
        return count
    }
}
