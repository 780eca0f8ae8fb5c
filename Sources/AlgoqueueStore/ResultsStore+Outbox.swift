import GRDB
import GRDBSQLite

/// What a row of a split batch tells a collector: the batch's size, the row's chunk, and how many algorithms
/// each item goes to (the batch is whole when it has items × algorithms rows).
public struct SplitRowInfo: Sendable, Hashable {
    public var batchItems: Int
    public var chunkFirstItem: Int
    public var chunkItems: Int
    public var algorithms: Int

    public init(batchItems: Int, chunkFirstItem: Int, chunkItems: Int, algorithms: Int) {
        self.batchItems = batchItems
        self.chunkFirstItem = chunkFirstItem
        self.chunkItems = chunkItems
        self.algorithms = algorithms
    }
}

/// A row waiting in the outbox: its outbox id, the row as the store holds it, and its split-batch facts.
public struct OutboxEntry: Sendable {
    public var id: Int64
    public var row: ResultRow
    public var split: SplitRowInfo?

    public init(id: Int64, row: ResultRow, split: SplitRowInfo?) {
        self.id = id
        self.row = row
        self.split = split
    }
}

/// What one write queued in the outbox, for a publisher to send without reading the rows back.
public struct QueuedRows: Sendable {
    /// The rows as the store now holds them, in outbox order.
    public var entries: [OutboxEntry] = []
    /// How many rows the write queued, in `entries` or not.
    public var count = 0
    /// The highest outbox id the write queued whose row is not in `entries` (0: none). A row that replaced one
    /// already stored kept that row's `created_at`, which only a read of the store tells.
    public var lastUnlisted: Int64 = 0

    public init() {}
}

/// The outbox of the results topic: rows queued in the transaction that wrote them, taken out once published.
extension ResultsStore {
    static let queueOutboxSQL = """
        INSERT INTO results_outbox (topic, "partition", "offset", item, algorithm, queued_at, batch_items,
            chunk_first_item, chunk_items, algorithms)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// Queues `rowGroups` (their rows in order, `splits` one entry per row) in the outbox, in the transaction that
    /// wrote them; `inserted` says per row whether the write inserted it. Returns the inserted rows as stored.
    static func queue(
        _ rowGroups: [[ResultRow]], splits: [SplitRowInfo?], inserted: [Bool], keepInput: Bool, now: String,
        bytes: RowBytes, in db: Database
    ) throws(DatabaseError) -> QueuedRows {
        let statement: Statement
        do {
            statement = try db.cachedStatement(sql: queueOutboxSQL)
        } catch {
            throw error as? DatabaseError ?? DatabaseError(message: "\(error)")
        }
        let handle = statement.sqliteStatement
        let connection = db.sqliteConnection
        var queued = QueuedRows()
        queued.entries.reserveCapacity(inserted.count)
        var index = 0
        for rows in rowGroups {
            for row in rows {
                let split = index < splits.count ? splits[index] : nil
                bytes.startRow()
                bytes.bind(row.topic, 1, handle)
                sqlite3_bind_int64(handle, 2, Int64(row.partition))
                sqlite3_bind_int64(handle, 3, row.offset)
                sqlite3_bind_int64(handle, 4, Int64(row.item))
                bytes.bind(row.algorithm, 5, handle)
                bytes.bind(now, 6, handle)
                if let split {
                    sqlite3_bind_int64(handle, 7, Int64(split.batchItems))
                    sqlite3_bind_int64(handle, 8, Int64(split.chunkFirstItem))
                    sqlite3_bind_int64(handle, 9, Int64(split.chunkItems))
                    sqlite3_bind_int64(handle, 10, Int64(split.algorithms))
                }
                do {
                    defer {
                        sqlite3_reset(handle)
                        sqlite3_clear_bindings(handle)
                    }
                    try stepToEnd(handle, in: connection)
                }
                let id = sqlite3_last_insert_rowid(connection)
                if index < inserted.count, inserted[index] {
                    queued.entries.append(
                        OutboxEntry(id: id, row: stored(row, keepInput: keepInput, now: now), split: split))
                } else {
                    queued.lastUnlisted = id
                }
                index += 1
            }
        }
        queued.count = index
        return queued
    }

    /// The oldest `limit` queued rows after outbox id `after` (and up to `through`), as they are now in `results`
    /// (a row replaced since it was queued goes out as it is now).
    public func outbox(limit: Int, after: Int64 = 0, through: Int64 = .max) async throws(StoreError) -> [OutboxEntry] {
        do {
            return try await pool.read { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT o.id AS outbox_id, o.batch_items AS o_batch_items, o.chunk_first_item AS o_first_item,
                            o.chunk_items AS o_chunk_items, o.algorithms AS o_algorithms, r.*
                        FROM results_outbox o
                        JOIN results r USING (topic, "partition", "offset", item, algorithm)
                        WHERE o.id > ? AND o.id <= ? ORDER BY o.id LIMIT ?
                        """, arguments: [after, through, limit])
                guard let first = rows.first else { return [] }
                // Columns 0-4 are the outbox's own, in the order selected; the row's are found once by name.
                let columns = ResultColumns(first)
                return rows.map { row in
                    var split: SplitRowInfo?
                    if let items = row[1] as Int?, let first = row[2] as Int?, let chunkItems = row[3] as Int?,
                        let algorithms = row[4] as Int?
                    {
                        split = SplitRowInfo(
                            batchItems: items, chunkFirstItem: first, chunkItems: chunkItems, algorithms: algorithms)
                    }
                    return OutboxEntry(id: row[0], row: Self.resultRow(row, columns), split: split)
                }
            }
        } catch {
            throw StoreError(.read, "cannot read the results outbox of \(configuration.path): \(Self.describe(error))")
        }
    }

    /// Takes published rows out of the outbox: every entry in each of `ranges` of outbox ids (a publisher reads
    /// and sends the outbox in runs of consecutive entries, so that a run's first and last id name it whole).
    public func removeFromOutbox(_ ranges: [ClosedRange<Int64>]) async throws(StoreError) {
        guard !ranges.isEmpty else { return }
        do {
            try await pool.write { db in
                let delete = try db.cachedStatement(sql: "DELETE FROM results_outbox WHERE id BETWEEN ? AND ?")
                for range in ranges { try delete.execute(arguments: [range.lowerBound, range.upperBound]) }
            }
        } catch {
            throw StoreError(
                .write, "cannot update the results outbox of \(configuration.path): \(Self.describe(error))")
        }
    }

    /// The newest entry's outbox id (0 when the outbox is empty).
    public func lastOutboxID() async throws(StoreError) -> Int64 {
        do {
            return try await pool.read { db in
                try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM results_outbox") ?? 0
            }
        } catch {
            throw StoreError(.read, "cannot read the results outbox of \(configuration.path): \(Self.describe(error))")
        }
    }

    /// How many rows wait in the outbox.
    public func outboxCount() async throws(StoreError) -> Int {
        do {
            return try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM results_outbox") ?? 0 }
        } catch {
            throw StoreError(.read, "cannot read the results outbox of \(configuration.path): \(Self.describe(error))")
        }
    }
}
