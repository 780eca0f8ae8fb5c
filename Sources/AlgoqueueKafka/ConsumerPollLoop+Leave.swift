import AlgoqueueSupport
import Logging

extension ConsumerPollLoop {
    /// Commits `offsets` a last time and leaves the group, all within the consumer's leave bound
    /// (``KafkaConsumer/close(within:)``); true when the consumer left cleanly.
    ///
    /// librdkafka 2.0.2 aborts in its consumer close when the group is mid-rebalance as it terminates
    /// (its assertion "!assignment_in_progress" in cgrp_terminated, librdkafka issues 4027 and 4792; no
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
        if let refusal = client.unsubscribe() {
            logger.warning("Kafka: could not unsubscribe before leaving: \(refusal)")
        }
        var quietPolls = 0
        while quietPolls < 3, ContinuousClock.now < deadline {
            // A message fetched for a partition being given up is never handed over: its next owner reads it.
            client.pollAndDrop(milliseconds: 50)
            quietPolls = assignment.isEmpty && librdkafkaAssignmentIsEmpty ? quietPolls + 1 : 0
        }
        guard quietPolls >= 3 else { return abandon("its partitions were not given up") }
        if let reason = client.closeConsumer(until: deadline) { return abandon(reason) }
        logger.debug("Kafka: left the consumer group")
        return true
    }

    /// Whether librdkafka holds no partition assigned to this consumer.
    var librdkafkaAssignmentIsEmpty: Bool { consumer.client.assignment()?.isEmpty ?? false }

    /// Commits `offsets` (of assigned partitions) and waits for the answer at most until `deadline`: the last
    /// commit at a stop, and a revocation's. librdkafka's synchronous commit waits for the group coordinator without
    /// a bound of its own, so a broker that hangs would hold the poll thread, and the stop, for good.
    func commitWaiting(_ offsets: [TopicPartition: Int64], until deadline: ContinuousClock.Instant) {
        let owned = assigned(offsets)
        guard !owned.isEmpty, let failure = client.commit(owned, waitingUntil: deadline) else { return }
        logger.warning(
            "Kafka offset commit failed; the offsets stay safe in the results store", metadata: ["error": "\(failure)"])
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
