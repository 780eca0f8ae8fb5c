import AlgoqueueKafka

/// Per partition, which received offsets are still waiting for their rows, and so the durable watermark:
/// the offset of the first message not yet written. Completion may come in any order and offsets may have
/// gaps (compaction, transaction markers); the watermark only advances over a contiguous run of finished work.
///
/// Each assignment of a partition gets a new generation; completions from an older generation (work that
/// was in flight when the partition was revoked) no longer move offsets.
package struct OffsetTracker {
    package struct PartitionState {
        package var generation: Int
        /// Received offsets in ascending order; `head` is the first one still pending.
        package var received: [Int64] = []
        package var head = 0
        package var finished: Set<Int64> = []
        package var lastReceived: Int64?
        package var watermark: Int64?
        package var changed = false

        package mutating func receive(_ offset: Int64) -> Int? {
            if let last = lastReceived, offset <= last { return nil }
            received.append(offset)
            lastReceived = offset
            return generation
        }

        package mutating func finish(_ offset: Int64, generation: Int) {
            guard generation == self.generation else { return }
            finished.insert(offset)
            while head < received.count, finished.remove(received[head]) != nil {
                watermark = received[head] + 1
                changed = true
                head += 1
            }
            if head > 1024, head * 2 > received.count {
                received.removeFirst(head)
                head = 0
            }
        }
    }

    package private(set) var partitions: [TopicPartition: PartitionState] = [:]

    /// The partitions being tracked (assigned).
    package var assigned: [TopicPartition] { Array(partitions.keys) }
    private var nextGeneration = 1

    package init() {}

    /// Starts tracking a newly assigned partition that resumes at `start` (when known); returns its generation.
    /// A known start counts as changed: the first write stores it, so that the store knows where this group's
    /// rows begin even before a message completes (rows written ahead of it are then found after a restart).
    package mutating func assign(_ partition: TopicPartition, start: Int64? = nil) -> Int {
        defer { nextGeneration += 1 }
        partitions[partition] = PartitionState(generation: nextGeneration, watermark: start, changed: start != nil)
        return nextGeneration
    }

    /// The first offset of `partition` not yet durable, when known.
    package func watermark(_ partition: TopicPartition) -> Int64? {
        partitions[partition]?.watermark
    }

    /// Whether work received with `generation` still belongs to this instance (its partition was not revoked since).
    package func isCurrent(_ partition: TopicPartition, generation: Int) -> Bool {
        partitions[partition]?.generation == generation
    }

    /// Stops tracking a revoked partition.
    package mutating func revoke(_ partition: TopicPartition) {
        partitions[partition] = nil
    }

    /// Records a consumed offset. Returns the generation to complete it with, or nil when the partition is not
    /// assigned or the offset was already received (a redelivery after pause/resume).
    ///
    /// The state is changed where it lies in the dictionary: a copy taken out and stored back would copy its
    /// arrays and set on every message (their storage is shared with the dictionary's while both exist).
    package mutating func receive(_ partition: TopicPartition, offset: Int64) -> Int? {
        guard let index = partitions.index(forKey: partition) else { return nil }
        return partitions.values[index].receive(offset)
    }

    /// ``receive(_:offset:)`` for a run of one partition's offsets, with one look-up of the partition for all of
    /// them: `each` gets every offset's generation (nil where it is not to be called), in order.
    package mutating func receive(
        _ partition: TopicPartition, offsets: some Sequence<Int64>, _ each: (Int?) -> Void
    ) {
        guard let index = partitions.index(forKey: partition) else {
            for _ in offsets { each(nil) }
            return
        }
        for offset in offsets { each(partitions.values[index].receive(offset)) }
    }

    /// Records that the rows of `offset` are part of the write being prepared.
    package mutating func finish(_ partition: TopicPartition, generation: Int, offset: Int64) {
        guard let index = partitions.index(forKey: partition) else { return }
        partitions.values[index].finish(offset, generation: generation)
    }

    /// The watermarks that moved since the last call.
    package mutating func takeChangedWatermarks() -> [TopicPartition: Int64] {
        var result: [TopicPartition: Int64] = [:]
        for (partition, state) in partitions where state.changed {
            if let watermark = state.watermark { result[partition] = watermark }
            partitions[partition]?.changed = false
        }
        return result
    }

    /// How many received offsets of `partition` still wait for their rows.
    package func pendingCount(_ partition: TopicPartition) -> Int {
        guard let state = partitions[partition] else { return 0 }
        return state.received.count - state.head
    }

    /// Messages of `partition` from the durable watermark on whose rows are written (they finished out of order):
    /// a restart reads them again but calls nothing for them.
    package func writtenAhead(_ partition: TopicPartition) -> Int {
        partitions[partition]?.finished.count ?? 0
    }
}
