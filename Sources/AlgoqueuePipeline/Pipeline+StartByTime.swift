import AlgoqueueKafka
import AlgoqueueSupport

extension Pipeline {
    /// With `kafka.startTime`: for each partition of the topics that has neither a committed offset nor one stored
    /// with the rows, the first offset written at or after that time (``OffsetsForTime``). Empty without a start
    /// time, or when the cluster cannot be asked (then the start position applies, and a warning says so).
    func startsByTime(_ kafka: KafkaConsumerConfiguration) async -> [TopicPartition: Int64] {
        guard let time = kafka.startTime else { return [:] }
        let group = kafka.groupID
        do {
            let admin = try KafkaAdmin(configuration: kafka, logger: logger)
            let counts = try await admin.topics()
            let partitions = kafka.topics.flatMap { topic in
                (0..<(counts[topic] ?? 0)).map { TopicPartition(topic, Int32($0)) }
            }
            let committed = try await admin.committedOffsets(partitions)
            let stored = Set(try store.offsets(group: group).map { TopicPartition($0.topic, $0.partition) })
            var marks: [TopicPartition: (low: Int64, high: Int64)] = [:]
            for partition in partitions where committed[partition] == nil && !stored.contains(partition) {
                marks[partition] = try await admin.watermarks(partition)
            }
            guard !marks.isEmpty else { return [:] }
            let (wanted, logger) = (marks, self.logger)
            let starts = try await BlockingWork.run { () throws(KafkaError) in
                try OffsetsForTime.find(wanted, atOrAfter: time, configuration: kafka, logger: logger)
            }
            logger.info(
                "starting \(starts.count) partition(s) without offsets at the first message written since the given time",
                metadata: [
                    "starts":
                        "\(starts.sorted { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }.map { "\($0.key)@\($0.value)" })"
                ])
            return starts
        } catch {
            logger.warning(
                "cannot find where the given start time lies; partitions without offsets start at \(kafka.startPosition.rawValue): \(error)"
            )
            return [:]
        }
    }
}
