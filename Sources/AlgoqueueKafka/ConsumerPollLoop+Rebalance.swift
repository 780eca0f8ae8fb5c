import CRdKafka
import Logging

extension ConsumerPollLoop {
    /// Handles an assignment change inside `rd_kafka_consumer_poll`, for both eager and cooperative protocols.
    func rebalance(
        handle: OpaquePointer, code: rd_kafka_resp_err_t, list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>
    ) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE"
        let partitions = TopicPartitionList.entries(list).map(\.partition)
        switch code {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS where leaving:
            decline(handle: handle, cooperative: cooperative, partitions: partitions)
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            let (starts, aheadOfGroup) = startOffsets(for: partitions)
            if let elements = list.pointee.elems {
                for index in 0..<Int(list.pointee.cnt) {
                    let partition = TopicPartition(String(cString: elements[index].topic), elements[index].partition)
                    elements[index].offset = starts[partition] ?? Int64(RD_KAFKA_OFFSET_INVALID)
                }
            }
            if cooperative {
                if let error = rd_kafka_incremental_assign(handle, list) {
                    logger.error("Kafka incremental assign failed: \(String(cString: rd_kafka_error_string(error)))")
                    rd_kafka_error_destroy(error)
                }
            } else {
                rd_kafka_assign(handle, list)
            }
            // librdkafka keeps a partition's paused state across unassign/assign: while flow control holds the
            // assignment paused the new partitions are paused too, otherwise those that come back paused are
            // resumed; a partition never paused is never resumed (see ``PausedPartitions``).
            assignment.formUnion(partitions)
            let (pause, resume) = pauses.assigned(Set(partitions))
            apply(pause: true, pause)
            apply(pause: false, resume)
            logger.info(
                "assigned \(partitions.count) partition(s)",
                metadata: [
                    "partitions": "\(partitions.sorted().map { "\($0)@\(starts[$0].map(String.init) ?? "committed")" })"
                ])
            var event: [TopicPartition: Int64?] = [:]
            for partition in partitions { event[partition] = starts[partition] }
            consumer.continuation.yield(.assigned(event))
            // The group learns what the results store already holds (a commit that failed before a restart or a
            // rebalance): otherwise it would look behind to other members, and to the next owner.
            consumer.commit(aheadOfGroup)
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let pending = consumer.shared.withLock { state in
                let revoked = state.pendingCommits.filter { partitions.contains($0.key) }
                for partition in partitions { state.pendingCommits[partition] = nil }
                return revoked
            }
            // Waited for, so that the next owner starts where this one stopped; bounded, since a synchronous commit
            // waits for the group coordinator without a bound of its own. While leaving, the last commit is made.
            if !leaving { commitWaiting(pending, until: ContinuousClock.now + .seconds(10)) }
            consumer.continuation.yield(.revoked(partitions))
            if cooperative {
                if let error = rd_kafka_incremental_unassign(handle, list) {
                    rd_kafka_error_destroy(error)
                }
            } else {
                rd_kafka_assign(handle, nil)
            }
            assignment.subtract(partitions)
            logger.info("revoked \(partitions.count) partition(s)")
        default:
            logger.error("Kafka rebalance failed: \(RdKafkaConfig.describe(code)); dropping the assignment")
            consumer.continuation.yield(.revoked(Array(assignment)))
            rd_kafka_assign(handle, nil)
            assignment = []
        }
    }

    /// Answers an assignment that came while the consumer leaves its group (a rebalance under way when the stop
    /// came) with an empty one, as librdkafka does without a rebalance callback: nothing is read any more, and no
    /// offsets are looked up. It does not prevent librdkafka 2.0.2's rare abort in its close during a rebalance
    /// ("rd_kafka_cgrp_terminated: assert: !rd_kafka_assignment_in_progress", librdkafka issues 4027 and 4792),
    /// which was seen again with it in place (README, "Stopping with slow or dead models").
    func decline(handle: OpaquePointer, cooperative: Bool, partitions: [TopicPartition]) {
        if cooperative {
            let empty = rd_kafka_topic_partition_list_new(0)
            defer { rd_kafka_topic_partition_list_destroy(empty) }
            if let error = rd_kafka_incremental_assign(handle, empty) { rd_kafka_error_destroy(error) }
        } else {
            rd_kafka_assign(handle, nil)
        }
        logger.info("leaving the group: declined \(partitions.count) partition(s) assigned meanwhile")
    }

    /// Where each newly assigned partition resumes: the larger of the offset stored with the results and the
    /// group's committed offset; with neither, the start position (`earliest`/`latest`) read from the broker's
    /// watermarks. A partition whose start cannot be resolved is left to librdkafka (nil). `aheadOfGroup` holds
    /// the stored offsets beyond what the group has committed.
    func startOffsets(for partitions: [TopicPartition]) -> (
        starts: [TopicPartition: Int64], aheadOfGroup: [TopicPartition: Int64]
    ) {
        let stored = consumer.storedOffsets(partitions).filter { $0.value >= 0 }
        var result = stored
        var aheadOfGroup = stored
        let list = TopicPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let status = rd_kafka_committed(handle, list, 10_000)
        if status == RD_KAFKA_RESP_ERR_NO_ERROR {
            for entry in TopicPartitionList.entries(list) where entry.error == RD_KAFKA_RESP_ERR_NO_ERROR {
                if let offset = stored[entry.partition], entry.offset >= offset { aheadOfGroup[entry.partition] = nil }
                if entry.offset >= 0, entry.offset > (result[entry.partition] ?? -1) {
                    result[entry.partition] = entry.offset
                }
            }
        } else {
            logger.warning(
                "could not read the group's committed offsets; resuming from the results store",
                metadata: ["error": "\(RdKafkaConfig.describe(status))"])
        }
        // Bounded by algoqueue, not by librdkafka (issue 4460); a partition not answered for is left to librdkafka,
        // which starts it at the same start position (auto.offset.reset).
        let unresolved = partitions.filter { result[$0] == nil }
        for (partition, marks) in BoundedWatermarks.query(consumer.client, unresolved, within: .seconds(10)) {
            result[partition] = consumer.configuration.startPosition == .earliest ? marks.low : marks.high
        }
        return (result, aheadOfGroup)
    }
}
