import Logging

extension ConsumerPollLoop {
    /// Handles an assignment change inside librdkafka's poll, for both eager and cooperative protocols.
    func rebalance(_ event: RebalanceEvent) {
        let cooperative = client.rebalancesCooperatively
        switch event {
        case .assign(let partitions) where leaving:
            decline(cooperative: cooperative, partitions: partitions)
        case .assign(let partitions):
            let (starts, aheadOfGroup) = startOffsets(for: partitions)
            if let refusal = client.assign(partitions, starts: starts, cooperative: cooperative) {
                logger.error("Kafka assign failed: \(refusal)")
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
        case .revoke(let partitions):
            let pending = consumer.shared.withLock { state in
                let revoked = state.pendingCommits.filter { partitions.contains($0.key) }
                for partition in partitions { state.pendingCommits[partition] = nil }
                return revoked
            }
            // Waited for, so that the next owner starts where this one stopped; bounded, since a synchronous commit
            // waits for the group coordinator without a bound of its own. While leaving, the last commit is made.
            if !leaving { commitWaiting(pending, until: ContinuousClock.now + .seconds(10)) }
            consumer.continuation.yield(.revoked(partitions))
            client.unassign(partitions, cooperative: cooperative)
            assignment.subtract(partitions)
            logger.info("revoked \(partitions.count) partition(s)")
        case .failed(let reason):
            logger.error("Kafka rebalance failed: \(reason); dropping the assignment")
            consumer.continuation.yield(.revoked(Array(assignment)))
            client.unassignAll()
            assignment = []
        }
    }

    /// Answers an assignment that came while the consumer leaves its group (a rebalance under way when the stop
    /// came) with an empty one, as librdkafka does without a rebalance callback: nothing is read any more, and no
    /// offsets are looked up. It does not prevent librdkafka 2.0.2's rare abort in its close during a rebalance
    /// (its assertion "!assignment_in_progress" in cgrp_terminated, librdkafka issues 4027 and 4792),
    /// which was seen again with it in place (README, "Stopping with slow or dead models").
    func decline(cooperative: Bool, partitions: [TopicPartition]) {
        client.declineAssignment(cooperative: cooperative)
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
        do {
            let what = "could not read the group's committed offsets; resuming from the results store"
            for (partition, offset) in try client.committed(partitions, milliseconds: 10_000, what: what) {
                if let stored = stored[partition], offset >= stored { aheadOfGroup[partition] = nil }
                if offset > (result[partition] ?? -1) { result[partition] = offset }
            }
        } catch {
            logger.warning("\(error)")
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
