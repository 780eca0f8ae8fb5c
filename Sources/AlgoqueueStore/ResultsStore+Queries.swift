import GRDB

/// Which rows `algoqueue results` and `algoqueue replay` work on.
public struct ResultQuery: Sendable {
    /// Only `error` rows. Default: false.
    public var errorsOnly = false
    /// Only rows of this algorithm. Default: any.
    public var algorithm: String?
    /// Only rows from this topic. Default: any.
    public var topic: String?
    /// Only rows whose error contains this text (case-insensitive). Default: any.
    public var errorContains: String?
    /// Only rows written at or after this ISO 8601 time (`updated_at`). Default: any.
    public var since: String?
    /// Only rows written before this ISO 8601 time. Default: any.
    public var until: String?
    /// At most this many rows, newest first; nil for all. Default: 20.
    public var limit: Int? = 20

    /// A query with every default.
    public init() {}

    var whereClause: (sql: String, arguments: [String]) {
        let filters: [(condition: String, value: String?)] = [
            ("algorithm = ?", algorithm), ("topic = ?", topic), ("instr(lower(error), lower(?)) > 0", errorContains),
            ("updated_at >= ?", since), ("updated_at < ?", until),
        ]
        var conditions = errorsOnly ? ["status = 'error'"] : []
        var arguments: [String] = []
        for filter in filters {
            guard let value = filter.value else { continue }
            conditions.append(filter.condition)
            arguments.append(value)
        }
        return (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "), arguments)
    }
}

extension ResultsStore {
    /// Rows matching `query`, newest first.
    public func results(_ query: ResultQuery) async throws(StoreError) -> [ResultRow] {
        let (condition, arguments) = query.whereClause
        let sql =
            "SELECT * FROM results\(condition) ORDER BY updated_at DESC, topic, \"partition\", \"offset\" DESC, item"
            + (query.limit.map { " LIMIT \(max(0, $0))" } ?? "")
        do {
            return try await pool.read { db in
                try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map(Self.resultRow)
            }
        } catch {
            throw StoreError(.read, "cannot read results from \(configuration.path): \(Self.describe(error))")
        }
    }

    /// Row counts per status.
    public func statusCounts() throws(StoreError) -> [ResultStatus: Int] {
        do {
            return try pool.read { db in
                // Two counts that read indexes, not the rows: all of them, and the error rows (results_errors).
                let all = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM results") ?? 0
                let errors = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM results WHERE status = 'error'") ?? 0
                var counts: [ResultStatus: Int] = [:]
                if all > errors { counts[.ok] = all - errors }
                if errors > 0 { counts[.error] = errors }
                return counts
            }
        } catch {
            throw StoreError(.read, "cannot count results in \(configuration.path): \(Self.describe(error))")
        }
    }

    static func resultRow(_ row: Row) -> ResultRow {
        let input: DatabaseValue = row["input"]
        var result = ResultRow(
            topic: row["topic"], partition: row["partition"], offset: row["offset"], item: row["item"],
            algorithm: row["algorithm"], algorithmVersion: row["algorithm_version"], key: row["key"],
            status: ResultStatus(rawValue: row["status"]) ?? .error,
            inputBytes: row["input_bytes"], output: row["output"], error: row["error"], metadata: row["metadata"],
            outputFile: row["output_file"], attempts: row["attempts"],
            durationMilliseconds: row["duration_ms"], messageTimestamp: row["message_timestamp"],
            createdAt: row["created_at"], updatedAt: row["updated_at"])
        result.inputHash = row["input_hash"]
        result.cachedFrom = row["cached_from"]
        result.traceparent = row["traceparent"]
        result.httpStatus = row["http_status"]
        switch input.storage {
        case .string(let text): result.input = text
        case .blob(let data): result.rawInput = Array(data)
        default: break
        }
        return result
    }
}
