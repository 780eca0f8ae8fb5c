import GRDB

/// What `algoqueue results` asks for.
public struct ResultQuery: Sendable {
    /// Only `error` rows. Default: false.
    public var errorsOnly = false
    /// At most this many rows, newest first. Default: 20.
    public var limit = 20

    /// A query with every default.
    public init() {}
}

extension ResultsStore {
    /// Rows matching `query`, newest first.
    public func results(_ query: ResultQuery) throws(StoreError) -> [ResultRow] {
        var sql = "SELECT * FROM results"
        if query.errorsOnly { sql += " WHERE status = 'error'" }
        sql += " ORDER BY updated_at DESC, topic, \"partition\", \"offset\" DESC, item LIMIT ?"
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: sql, arguments: [query.limit]).map(Self.resultRow)
            }
        } catch {
            throw StoreError(.read, "cannot read results from \(configuration.path): \(Self.describe(error))")
        }
    }

    /// Row counts per status.
    public func statusCounts() throws(StoreError) -> [ResultStatus: Int] {
        do {
            return try pool.read { db in
                var counts: [ResultStatus: Int] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) FROM results GROUP BY status") {
                    if let status = ResultStatus(rawValue: row[0]) { counts[status] = row[1] }
                }
                return counts
            }
        } catch {
            throw StoreError(.read, "cannot count results in \(configuration.path): \(Self.describe(error))")
        }
    }

    static func resultRow(_ row: Row) -> ResultRow {
        ResultRow(
            topic: row["topic"], partition: row["partition"], offset: row["offset"], item: row["item"],
            algorithm: row["algorithm"], algorithmVersion: row["algorithm_version"], key: row["key"],
            status: ResultStatus(rawValue: row["status"]) ?? .error, input: row["input"],
            inputBytes: row["input_bytes"], output: row["output"], error: row["error"], attempts: row["attempts"],
            durationMilliseconds: row["duration_ms"], messageTimestamp: row["message_timestamp"],
            createdAt: row["created_at"], updatedAt: row["updated_at"])
    }
}
