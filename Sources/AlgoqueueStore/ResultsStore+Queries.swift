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
                let rows = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments))
                guard let first = rows.first else { return [] }
                let columns = ResultColumns(first)
                return rows.map { Self.resultRow($0, columns) }
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
        resultRow(row, ResultColumns(row))
    }

    /// A row of `results` read by column index (`columns`, found once per query): a look-up by name costs a
    /// case-insensitive search of the column names per field, which a profile of the outbox read showed.
    static func resultRow(_ row: Row, _ columns: ResultColumns) -> ResultRow {
        func value<T: DatabaseValueConvertible>(_ index: Int) -> T? { index < 0 ? nil : row[index] }
        let input: DatabaseValue = columns.input < 0 ? .null : row[columns.input]
        var result = ResultRow(
            topic: value(columns.topic) ?? "", partition: value(columns.partition) ?? 0,
            offset: value(columns.offset) ?? 0, item: value(columns.item) ?? 0,
            algorithm: value(columns.algorithm) ?? "", algorithmVersion: value(columns.algorithmVersion),
            key: value(columns.key),
            status: ResultStatus(rawValue: value(columns.status) ?? "") ?? .error,
            inputBytes: value(columns.inputBytes) ?? 0, output: value(columns.output), error: value(columns.error),
            metadata: value(columns.metadata), outputFile: value(columns.outputFile),
            attempts: value(columns.attempts) ?? 0, durationMilliseconds: value(columns.duration) ?? 0,
            messageTimestamp: value(columns.messageTimestamp), createdAt: value(columns.createdAt),
            updatedAt: value(columns.updatedAt))
        result.inputHash = value(columns.inputHash)
        result.cachedFrom = value(columns.cachedFrom)
        result.traceparent = value(columns.traceparent)
        result.httpStatus = value(columns.httpStatus)
        switch input.storage {
        case .string(let text): result.input = text
        case .blob(let data): result.rawInput = Array(data)
        default: break
        }
        return result
    }
}

/// Where each field of a `results` row is among a query's columns (-1: not selected).
struct ResultColumns {
    let topic, partition, offset, item, algorithm, algorithmVersion, key, status, input, inputBytes: Int
    let output, error, metadata, outputFile, attempts, duration, messageTimestamp, createdAt, updatedAt: Int
    let inputHash, cachedFrom, traceparent, httpStatus: Int

    init(_ row: Row) {
        let names = Array(row.columnNames)
        // The last column of a name: `r.*` comes after the outbox's own columns.
        func index(_ name: String) -> Int { names.lastIndex(of: name) ?? -1 }
        topic = index("topic")
        partition = index("partition")
        offset = index("offset")
        item = index("item")
        algorithm = index("algorithm")
        algorithmVersion = index("algorithm_version")
        key = index("key")
        status = index("status")
        input = index("input")
        inputBytes = index("input_bytes")
        output = index("output")
        error = index("error")
        metadata = index("metadata")
        outputFile = index("output_file")
        attempts = index("attempts")
        duration = index("duration_ms")
        messageTimestamp = index("message_timestamp")
        createdAt = index("created_at")
        updatedAt = index("updated_at")
        inputHash = index("input_hash")
        cachedFrom = index("cached_from")
        traceparent = index("traceparent")
        httpStatus = index("http_status")
    }
}
