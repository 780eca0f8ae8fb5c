import AlgoqueueSupport
import CRdKafka
import Logging

/// Moves a stopped consumer group's committed offsets (`algoqueue group reset`): it joins the group as a member,
/// and commits only when the group gave it every partition to move, which says no other member is there. Kafka
/// takes a commit from a member; one from outside an existing group is refused by some brokers and overwritten by the
/// members' next commit on others.
public enum GroupOffsetCommit {
    /// Joins `configuration.groupID` on the topics of `offsets`, waits up to `within` for the assignment, commits
    /// `offsets` and leaves. Throws, committing nothing, when another member holds some of the partitions.
    public static func commit(
        _ offsets: [TopicPartition: Int64], configuration: KafkaConsumerConfiguration, within: Duration = .seconds(30),
        logger: Logger
    ) throws(KafkaError) {
        var member = configuration
        member.topics = Array(Set(offsets.keys.map(\.topic))).sorted()
        let client = try RdKafkaClient(
            kind: .consumer, properties: member.librdkafkaProperties(), context: RdKafkaCallbackContext(logger: logger))
        rd_kafka_poll_set_consumer(client.handle)
        let topics = rd_kafka_topic_partition_list_new(Int32(member.topics.count))!
        for topic in member.topics { rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA) }
        let subscribed = rd_kafka_subscribe(client.handle, topics)
        rd_kafka_topic_partition_list_destroy(topics)
        defer { leave(client) }
        guard subscribed == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(
                .subscription, "could not join group \(member.groupID): \(RdKafkaConfig.describe(subscribed))",
                rdkafkaCode: Int(subscribed.rawValue))
        }
        let clock = ContinuousClock()
        let deadline = clock.now + within
        var assigned: Set<TopicPartition> = []
        while clock.now < deadline, assigned.isEmpty {
            // Messages fetched meanwhile are dropped: nothing is committed for them.
            if let message = rd_kafka_consumer_poll(client.handle, 100) { rd_kafka_message_destroy(message) }
            assigned = client.assignment() ?? []
        }
        let wanted = Set(offsets.keys)
        guard !assigned.isEmpty else {
            throw KafkaError(
                .subscription, "group \(member.groupID) gave no partition within \(within.text): is it rebalancing?")
        }
        guard wanted.isSubset(of: assigned) else {
            throw KafkaError(
                .subscription,
                "group \(member.groupID) has other members: they hold \(wanted.subtracting(assigned).count) of the "
                    + "\(wanted.count) partition(s); stop its instances first")
        }
        let list = TopicPartitionList.make(Array(wanted), offsets: offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let result = rd_kafka_commit(client.handle, list, 0)
        let failed = TopicPartitionList.entries(list).first { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR, failed == nil else {
            let error = failed?.error ?? result
            throw KafkaError(
                .consumer, "cannot commit the group's offsets: \(RdKafkaConfig.describe(error))",
                rdkafkaCode: Int(error.rawValue))
        }
    }

    /// Leaves the group at once, so that the group's instances, started next, need not wait for this member's
    /// session to time out: unsubscribe, poll until the assignment is gone (at most 5 s), then close.
    static func leave(_ client: RdKafkaClient) {
        _ = rd_kafka_unsubscribe(client.handle)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while clock.now < deadline {
            if let message = rd_kafka_consumer_poll(client.handle, 50) { rd_kafka_message_destroy(message) }
            guard let assigned = client.assignment(), !assigned.isEmpty else { break }
        }
        _ = rd_kafka_consumer_close(client.handle)
    }
}
