import AlgoqueueKafka
import AlgoqueueStore
import Logging

/// Which rows of a message consumed again are in the store already, so that a restart calls only what is
/// missing: nothing is called twice after a clean stop, whatever the ordering or the batch size.
///
/// Looked up only where rows can be: between a partition's stored offset and the last offset with rows at
/// the start of the run (read once), and for every chunk of a split batch (its rows carry the batch's coordinates).
package final class WrittenRows: Sendable {
    package let store: ResultsStore
    package let ranges: [TopicPartition: ClosedRange<Int64>]
    package let logger: Logger

    /// Reads where the group's rows run ahead of its offsets.
    package init(store: ResultsStore, group: String, logger: Logger) async {
        self.store = store
        self.logger = logger
        var ranges: [TopicPartition: ClosedRange<Int64>] = [:]
        do {
            for range in try await store.writtenRanges(group: group) where range.through >= range.from {
                ranges[TopicPartition(range.topic, range.partition)] = range.from...range.through
            }
        } catch {
            logger.warning(
                "cannot tell which rows are written ahead of the offsets; such inputs are called again: \(error)")
        }
        self.ranges = ranges
        if !ranges.isEmpty {
            logger.info(
                "rows are written ahead of the stored offsets; those inputs are not called again",
                metadata: ["partitions": "\(ranges.map { "\($0.key)@\($0.value)" }.sorted().joined(separator: ","))"])
        }
    }

    /// Per item (-1 for a whole message), the algorithms that have a row for the message `base` stands for.
    package func rows(of base: ResultRow, isChunk: Bool) async -> [Int: Set<String>] {
        guard
            isChunk
                || (!ranges.isEmpty
                    && ranges[TopicPartition(base.topic, base.partition)]?.contains(base.offset) == true)
        else { return [:] }
        do {
            var done: [Int: Set<String>] = [:]
            for row in try await store.writtenRows(topic: base.topic, partition: base.partition, offset: base.offset) {
                done[row.item, default: []].insert(row.algorithm)
            }
            return done
        } catch {
            logger.warning(
                "cannot read the rows written for \(base.topic)/\(base.partition)/\(base.offset); calling it again: \(error)"
            )
            return [:]
        }
    }
}
