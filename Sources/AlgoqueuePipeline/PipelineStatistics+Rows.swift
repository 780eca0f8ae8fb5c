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
            for row in rows {
                var count = counts[row.algorithm] ?? (0, 0)
                if row.status == .ok { count.ok += 1 } else { count.errors += 1 }
                counts[row.algorithm] = count
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
