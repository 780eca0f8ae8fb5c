/// Which partitions algoqueue has paused, and what to pause or resume when flow control or an assignment changes.
///
/// librdkafka keeps a partition's paused state across unassign and assign, so a partition paused before a
/// rebalance comes back paused. And librdkafka before 2.4 can restart a resumed partition that was never paused
/// from a stale offset and deliver messages twice (librdkafka issue 4636). So only partitions recorded here as
/// paused are ever resumed. Each method returns what the caller passes to librdkafka; nothing here calls it.
struct PausedPartitions: Equatable {
    /// Whether flow control holds the assignment paused.
    private(set) var isPaused = false
    /// Partitions paused by algoqueue and not resumed since, assigned or not.
    private(set) var paused: Set<TopicPartition> = []

    /// Flow control pauses: every assigned partition.
    mutating func pause(_ assignment: Set<TopicPartition>) -> Set<TopicPartition> {
        isPaused = true
        paused.formUnion(assignment)
        return assignment
    }

    /// Flow control resumes: the assigned partitions that were paused, and no other.
    mutating func resume(_ assignment: Set<TopicPartition>) -> Set<TopicPartition> {
        isPaused = false
        let resumed = assignment.intersection(paused)
        paused.subtract(resumed)
        return resumed
    }

    /// Partitions were assigned. While paused, the new ones are paused too (those paused before still are);
    /// otherwise those that come back paused from before are resumed.
    mutating func assigned(_ partitions: Set<TopicPartition>) -> (
        pause: Set<TopicPartition>, resume: Set<TopicPartition>
    ) {
        if isPaused {
            let newlyPaused = partitions.subtracting(paused)
            paused.formUnion(partitions)
            return (newlyPaused, [])
        }
        let resumed = partitions.intersection(paused)
        paused.subtract(resumed)
        return ([], resumed)
    }
}
