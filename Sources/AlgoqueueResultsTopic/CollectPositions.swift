import AlgoqueueKafka

/// Per partition of a results topic, the offset a collector reads next. A message beyond it, or a partition whose
/// first available offset lies beyond it, means result messages the broker deleted (retention) before they were
/// collected: a ``Gap``. Results topics are written by idempotent, non-transactional producers, so their offsets
/// have no holes of their own.
package struct CollectPositions {
    /// Messages `from..<to` of `partition` were never read.
    package struct Gap: Equatable, CustomStringConvertible {
        package var partition: TopicPartition
        package var from: Int64
        package var to: Int64
        package var count: Int64 { to - from }
        package var description: String { "\(partition.topic)[\(partition.partition)] offsets \(from)..<\(to)" }
    }

    package private(set) var expected: [TopicPartition: Int64] = [:]

    /// `partition` is assigned; this collector's group had read it up to `next` (0: never read).
    package mutating func assigned(_ partition: TopicPartition, next: Int64) {
        expected[partition] = next
    }

    package mutating func revoked(_ partition: TopicPartition) {
        expected[partition] = nil
    }

    /// The first offset `partition` still holds is `low`.
    package mutating func available(from low: Int64, in partition: TopicPartition) -> Gap? {
        guard let next = expected[partition], low > next else { return nil }
        expected[partition] = low
        return Gap(partition: partition, from: next, to: low)
    }

    /// A message at `offset` of `partition` was read.
    package mutating func received(_ offset: Int64, in partition: TopicPartition) -> Gap? {
        guard let next = expected[partition] else { return nil }
        expected[partition] = max(next, offset + 1)
        return offset > next ? Gap(partition: partition, from: next, to: offset) : nil
    }
}
