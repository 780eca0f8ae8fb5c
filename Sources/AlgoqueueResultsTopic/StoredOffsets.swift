import AlgoqueueKafka
import AlgoqueueStore
import Logging

extension ResultsStore {
    /// What a consumer of `group` asks when partitions are assigned: the next offsets stored beside the rows (read
    /// on its poll thread). A store that cannot be read gives none: Kafka's committed offsets are used instead.
    package func storedOffsets(group: String, logger: Logger) -> KafkaConsumer.StoredOffsets {
        { [self] partitions in
            let wanted = Set(partitions)
            var result: [TopicPartition: Int64] = [:]
            do {
                for stored in try offsets(group: group) {
                    let partition = TopicPartition(stored.topic, stored.partition)
                    if wanted.contains(partition) { result[partition] = stored.nextOffset }
                }
            } catch {
                logger.error("cannot read stored offsets, resuming from Kafka's committed offsets: \(error)")
                return [:]
            }
            return result
        }
    }
}
