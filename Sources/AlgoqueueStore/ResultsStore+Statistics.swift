import GRDB

/// Totals of the store, for `algoqueue stats`.
public struct StoreStatistics: Sendable, Equatable {
    /// Rows per algorithm and status.
    public struct Count: Sendable, Equatable {
        /// The algorithm's name.
        public var algorithm: String
        /// `ok` or `error`.
        public var status: String
        /// How many rows.
        public var rows: Int
    }

    /// Rows per algorithm and status.
    public var counts: [Count] = []
    /// All rows counted.
    public var total = 0
    /// Rows written per second between the first and the last write counted.
    public var rowsPerSecond: Double = 0
    /// Median call duration of `ok` rows, in milliseconds.
    public var p50Milliseconds: Double?
    /// 99th percentile call duration of `ok` rows, in milliseconds.
    public var p99Milliseconds: Double?
    /// Rows answered from the cache (`algorithm.cache`), with no call.
    public var cached = 0
}

extension ResultsStore {
    /// Counts, throughput and latency percentiles of the rows written since `since` (ISO 8601), or all.
    public func statistics(since: String? = nil) throws(StoreError) -> StoreStatistics {
        let filter = since == nil ? "" : " WHERE updated_at >= ?"
        let arguments: StatementArguments = since.map { [$0] } ?? []
        do {
            return try pool.read { db in
                var stats = StoreStatistics()
                for row in try Row.fetchAll(
                    db,
                    sql:
                        "SELECT algorithm, status, COUNT(*) FROM results\(filter) GROUP BY algorithm, status ORDER BY algorithm, status",
                    arguments: arguments)
                {
                    stats.counts.append(.init(algorithm: row[0], status: row[1], rows: row[2]))
                }
                stats.total = stats.counts.reduce(0) { $0 + $1.rows }
                let cachedFilter =
                    filter.isEmpty ? " WHERE cached_from IS NOT NULL" : filter + " AND cached_from IS NOT NULL"
                stats.cached =
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM results\(cachedFilter)", arguments: arguments) ?? 0
                if let span = try Row.fetchOne(
                    db,
                    sql:
                        "SELECT (julianday(MAX(updated_at)) - julianday(MIN(updated_at))) * 86400.0 FROM results\(filter)",
                    arguments: arguments), let seconds = span[0] as Double?, seconds > 0
                {
                    stats.rowsPerSecond = Double(stats.total) / seconds
                }
                let okFilter = filter.isEmpty ? " WHERE status = 'ok'" : filter + " AND status = 'ok'"
                let okCount =
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM results\(okFilter)", arguments: arguments) ?? 0
                func percentile(_ fraction: Double) throws -> Double? {
                    guard okCount > 0 else { return nil }
                    let offset = min(okCount - 1, Int((Double(okCount) * fraction).rounded(.up)) - 1)
                    return try Double.fetchOne(
                        db,
                        sql:
                            "SELECT duration_ms FROM results\(okFilter) ORDER BY duration_ms LIMIT 1 OFFSET \(max(0, offset))",
                        arguments: arguments)
                }
                stats.p50Milliseconds = try percentile(0.50)
                stats.p99Milliseconds = try percentile(0.99)
                return stats
            }
        } catch {
            throw StoreError(.read, "cannot compute statistics from \(configuration.path): \(Self.describe(error))")
        }
    }
}
