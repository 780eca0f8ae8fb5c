import CRdKafka

/// Conversions between Swift topic-partitions and `rd_kafka_topic_partition_list_t`.
enum TopicPartitionList {
    /// A new list the caller must destroy with `rd_kafka_topic_partition_list_destroy`.
    static func make(
        _ partitions: [TopicPartition], offsets: [TopicPartition: Int64] = [:]
    ) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list = rd_kafka_topic_partition_list_new(Int32(max(partitions.count, 1)))!
        for partition in partitions {
            let element = rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)!
            element.pointee.offset = offsets[partition] ?? Int64(RD_KAFKA_OFFSET_INVALID)
        }
        return list
    }

    /// A new list of `offsets`' partitions, each at its offset; the caller must destroy it.
    static func make(offsets: [TopicPartition: Int64]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        make(Array(offsets.keys), offsets: offsets)
    }

    /// The entries of a list: partition, offset (negative when unknown) and error code.
    static func entries(
        _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>
    ) -> [(partition: TopicPartition, offset: Int64, error: rd_kafka_resp_err_t)] {
        let count = Int(list.pointee.cnt)
        guard count > 0, let elements = list.pointee.elems else { return [] }
        return (0..<count).map { index in
            let element = elements[index]
            return (TopicPartition(String(cString: element.topic), element.partition), element.offset, element.err)
        }
    }
}
