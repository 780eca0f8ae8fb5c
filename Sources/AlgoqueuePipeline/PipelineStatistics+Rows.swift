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
        counts.withLock { counts in
            // Rows come in runs of one algorithm: one dictionary update per run, no copy of a row.
            var index = rows.startIndex
            while index < rows.endIndex {
                let algorithm = rows[index].algorithm
                var (ok, errors) = (0, 0)
                while index < rows.endIndex, rows[index].algorithm == algorithm {
                    if rows[index].status == .ok { ok += 1 } else { errors += 1 }
                    index += 1
                }
                counts[algorithm, default: (0, 0)].ok += ok
                counts[algorithm, default: (0, 0)].errors += errors
            }
        }
        let errors = rows.filter { $0.status == .error }
        guard !errors.isEmpty else { return }
        let now = Date()
        let newest = errors.suffix(Self.recentLimit).reversed().map {
            RecentError(
                topic: $0.topic, partition: $0.partition, offset: $0.offset, item: $0.item, algorithm: $0.algorithm,
                error: $0.error ?? "", at: now)
        }
        recent.withLock { recent in
            recent = Array((newest + recent).prefix(Self.recentLimit))
        }
    }
}
