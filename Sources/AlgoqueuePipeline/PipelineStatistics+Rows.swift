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

    /// What one call of ``record(_:)-([[ResultRow]])`` counted, for the pipeline's totals.
    struct Counted {
        var rows = 0
        var ok = 0
        var cached = 0
    }

    @discardableResult
    func record(_ rows: [ResultRow]) -> Counted { record([rows]) }

    /// Counts durable rows, given in groups (one per message, as the writer hands them over), in order; returns the
    /// totals of the same walk, so that the pipeline's totals need no second pass over every row.
    @discardableResult
    func record(_ groups: [[ResultRow]]) -> Counted {
        // Through buffer pointers: reading a field of `rows[index]`, or `filter`, copied the whole row (a retain
        // and a release per string in it).
        var counted = Counted()
        let anyError = counts.withLock { counts in
            // Rows come in runs of one algorithm: one dictionary update per run, across groups.
            var run: (algorithm: String, ok: Int, errors: Int)?
            var anyError = false
            for group in groups {
                group.withUnsafeBufferPointer { rows in
                    counted.rows += rows.count
                    for index in rows.indices {
                        if rows[index].cachedFrom != nil { counted.cached += 1 }
                        if let current = run, current.algorithm != rows[index].algorithm {
                            counts[current.algorithm, default: (0, 0)].ok += current.ok
                            counts[current.algorithm, default: (0, 0)].errors += current.errors
                            run = nil
                        }
                        if run == nil { run = (rows[index].algorithm, 0, 0) }
                        if rows[index].status == .ok {
                            run!.ok += 1
                            counted.ok += 1
                        } else {
                            run!.errors += 1
                            anyError = true
                        }
                    }
                }
            }
            if let current = run {
                counts[current.algorithm, default: (0, 0)].ok += current.ok
                counts[current.algorithm, default: (0, 0)].errors += current.errors
            }
            return anyError
        }
        guard anyError else { return counted }
        let now = Date()
        // Newest first: the last error rows, from the end.
        var newest: [RecentError] = []
        for group in groups.reversed() where newest.count < Self.recentLimit {
            group.withUnsafeBufferPointer { rows in
                var index = rows.count - 1
                while index >= 0, newest.count < Self.recentLimit {
                    if rows[index].status == .error {
                        newest.append(
                            RecentError(
                                topic: rows[index].topic, partition: rows[index].partition,
                                offset: rows[index].offset, item: rows[index].item, algorithm: rows[index].algorithm,
                                error: rows[index].error ?? "", at: now))
                    }
                    index -= 1
                }
            }
        }
        recent.withLock { recent in
            recent = Array((newest + recent).prefix(Self.recentLimit))
        }
        return counted
    }
}
