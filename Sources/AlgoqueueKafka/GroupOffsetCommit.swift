import AlgoqueueSupport
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
        client.pollAsConsumer()
        defer { leave(client) }
        try client.subscribe(member.topics, what: "could not join group \(member.groupID)")
        let clock = ContinuousClock()
        let deadline = clock.now + within
        var assigned: Set<TopicPartition> = []
        while clock.now < deadline, assigned.isEmpty {
            // Messages fetched meanwhile are dropped: nothing is committed for them.
            client.pollAndDrop(milliseconds: 100)
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
        try client.commitSync(offsets, what: "cannot commit the group's offsets")
    }

    /// Leaves the group at once, so that the group's instances, started next, need not wait for this member's
    /// session to time out: unsubscribe, poll until the assignment is gone (at most 5 s), then close.
    static func leave(_ client: RdKafkaClient) {
        client.unsubscribe()
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while clock.now < deadline {
            client.pollAndDrop(milliseconds: 50)
            guard let assigned = client.assignment(), !assigned.isEmpty else { break }
        }
        client.closeConsumer()
    }
}
