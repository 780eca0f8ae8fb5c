import AlgoqueueStore
import Foundation
import Synchronization

/// Rows per algorithm, and the last error rows, for the status page. Counted as rows become durable.
public final class RowTally: Sendable {
    /// One error row as the status page lists it.
    public struct RecentError: Sendable, Equatable {
        public var topic: String
        public var partition: Int32
        public var offset: Int64
        public var item: Int
        public var algorithm: String
        public var error: String
        /// When it became durable.
        public var at: Date
    }

    /// How many of the last error rows are kept.
    static let recentLimit = 20
    let counts = Mutex<[String: (ok: Int, errors: Int)]>([:])
    let recent = Mutex<[RecentError]>([])

    init() {}

    /// Durable rows per algorithm (ok and error).
    public var perAlgorithm: [String: (ok: Int, errors: Int)] { counts.withLock { $0 } }

    /// The last error rows, newest first.
    public var recentErrors: [RecentError] { recent.withLock { $0 } }

    func record(_ rows: [ResultRow]) {
        guard !rows.isEmpty else { return }
        // Through a buffer pointer: reading a field of `rows[index]`, or `filter`, copied the whole row (a retain
        // and a release per string in it).
        rows.withUnsafeBufferPointer { rows in
            let anyError = counts.withLock { counts in
                // Rows come in runs of one algorithm: one dictionary update per run.
                var index = 0
                var anyError = false
                while index < rows.count {
                    let algorithm = rows[index].algorithm
                    var (ok, errors) = (0, 0)
                    while index < rows.count, rows[index].algorithm == algorithm {
                        if rows[index].status == .ok { ok += 1 } else { errors += 1 }
                        index += 1
                    }
                    counts[algorithm, default: (0, 0)].ok += ok
                    counts[algorithm, default: (0, 0)].errors += errors
                    anyError = anyError || errors > 0
                }
                return anyError
            }
            guard anyError else { return }
            let now = Date()
            // Newest first: the last error rows, from the end.
            var newest: [RecentError] = []
            var index = rows.count - 1
            while index >= 0, newest.count < Self.recentLimit {
                if rows[index].status == .error {
                    newest.append(
                        RecentError(
                            topic: rows[index].topic, partition: rows[index].partition, offset: rows[index].offset,
                            item: rows[index].item, algorithm: rows[index].algorithm, error: rows[index].error ?? "",
                            at: now))
                }
                index -= 1
            }
            recent.withLock { recent in
                recent = Array((newest + recent).prefix(Self.recentLimit))
            }
        }
    }
}
