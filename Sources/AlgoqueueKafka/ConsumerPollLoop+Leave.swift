import AlgoqueueSupport
import CRdKafka
import Logging

extension ConsumerPollLoop {
    /// Commits `offsets` a last time and leaves the group, all within the consumer's leave bound
    /// (``KafkaConsumer/close(within:)``); true when the consumer left cleanly.
    ///
    /// librdkafka 2.0.2 aborts in `rd_kafka_consumer_close` when the group is mid-rebalance as it terminates
    /// ("rd_kafka_cgrp_terminated: assert: !rd_kafka_assignment_in_progress", librdkafka issues 4027 and 4792; no
    /// release fixes it). What avoids it is never closing while subscribed in the middle of a rebalance:
    /// 1. the final commit, waited for within the bound;
    /// 2. unsubscribe, then keep polling: a revocation is answered with `assign(NULL)` (its offsets were committed in
    ///    step 1), an assignment that still comes is declined; nothing is committed any more; until the assignment,
    ///    ours and librdkafka's, has stayed empty for a few polls;
    /// 3. close on a queue of algoqueue's own, served until librdkafka says the consumer is closed.
    /// When the bound runs out first, the close is skipped and the client is never destroyed (a destroy would run
    /// the same close): the offsets are in the results store and in Kafka, the group frees the partitions when the
    /// session times out, and the process exits normally.
    func leaveGroup(committing offsets: [TopicPartition: Int64]) -> Bool {
        let deadline = ContinuousClock.now + consumer.leaveBound
        commitWaiting(offsets, until: deadline)
        leaving = true
        let unsubscribed = rd_kafka_unsubscribe(handle)
        if unsubscribed != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("Kafka: could not unsubscribe before leaving: \(RdKafkaConfig.describe(unsubscribed))")
        }
        var quietPolls = 0
        while quietPolls < 3, ContinuousClock.now < deadline {
            if let message = rd_kafka_consumer_poll(handle, 50) {
                // Fetched for a partition being given up and never handed over: read again by its next owner.
                rd_kafka_message_destroy(message)
            }
            quietPolls = assignment.isEmpty && librdkafkaAssignmentIsEmpty ? quietPolls + 1 : 0
        }
        guard quietPolls >= 3 else { return abandon("its partitions were not given up") }
        guard let queue = rd_kafka_queue_new(handle) else { return abandon("no queue to close on") }
        defer { rd_kafka_queue_destroy(queue) }
        if let error = rd_kafka_consumer_close_queue(handle, queue) {
            let text = String(cString: rd_kafka_error_string(error))
            rd_kafka_error_destroy(error)
            return abandon("the close was refused: \(text)")
        }
        while rd_kafka_consumer_closed(handle) == 0, ContinuousClock.now < deadline {
            _ = rd_kafka_queue_poll_callback(queue, 50)
        }
        guard rd_kafka_consumer_closed(handle) != 0 else { return abandon("the group coordinator did not answer") }
        logger.debug("Kafka: left the consumer group")
        return true
    }

    /// Whether librdkafka holds no partition assigned to this consumer.
    var librdkafkaAssignmentIsEmpty: Bool { consumer.client.assignment()?.isEmpty ?? false }

    /// Commits `offsets` (of assigned partitions) and waits for the answer at most until `deadline`: the last
    /// commit at a stop, and a revocation's. librdkafka's synchronous commit waits for the group coordinator without
    /// a bound of its own, so a broker that hangs would hold the poll thread, and the stop, for good.
    func commitWaiting(_ offsets: [TopicPartition: Int64], until deadline: ContinuousClock.Instant) {
        withAssigned(offsets) { list in commitWaiting(list, until: deadline) }
    }

    private func commitWaiting(
        _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>, until deadline: ContinuousClock.Instant
    ) {
        guard let queue = rd_kafka_queue_new(handle) else { return }
        defer { rd_kafka_queue_destroy(queue) }
        var result = rd_kafka_commit_queue(handle, list, queue, nil, nil)
        if result == RD_KAFKA_RESP_ERR_NO_ERROR {
            result = RD_KAFKA_RESP_ERR__TIMED_OUT
            while ContinuousClock.now < deadline {
                guard let event = rd_kafka_queue_poll(queue, 50) else { continue }
                let type = rd_kafka_event_type(event)
                let error = rd_kafka_event_error(event)
                rd_kafka_event_destroy(event)
                if type == RD_KAFKA_EVENT_OFFSET_COMMIT {
                    result = error
                    break
                }
            }
        }
        if result != RD_KAFKA_RESP_ERR_NO_ERROR, result != RD_KAFKA_RESP_ERR__NO_OFFSET {
            logger.warning(
                "Kafka offset commit failed; the offsets stay safe in the results store",
                metadata: ["error": "\(RdKafkaConfig.describe(result))"])
        }
    }

    /// Gives up leaving within the bound: says why, and keeps librdkafka from running the close again when the
    /// client goes away (see ``leaveGroup(committing:)``).
    func abandon(_ reason: String) -> Bool {
        consumer.client.abandonAtExit()
        logger.warning(
            """
            Kafka: the consumer did not leave its group within \(consumer.leaveBound.text) (\(reason)); stopping \
            without it: the rows and their offsets are in the results store, and the group frees the partitions when \
            the session times out
            """)
        return false
    }
}
