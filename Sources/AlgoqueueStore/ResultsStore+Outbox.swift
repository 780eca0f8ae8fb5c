import GRDB

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

/// The outbox of the results topic: rows queued in the transaction that wrote them, taken out once published.
extension ResultsStore {
    static let queueOutboxSQL = """
        INSERT INTO results_outbox (topic, "partition", "offset", item, algorithm, queued_at, batch_items,
            chunk_first_item, chunk_items, algorithms)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// The oldest `limit` queued rows after outbox id `after`, each with its outbox id, as they are now in `results`
    /// (a row replaced since it was queued goes out as it is now).
    public func outbox(limit: Int, after: Int64 = 0) async throws(StoreError) -> [(
        id: Int64, row: ResultRow, split: SplitRowInfo?
    )] {
        do {
            return try await pool.read { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT o.id AS outbox_id, o.batch_items AS o_batch_items, o.chunk_first_item AS o_first_item,
                            o.chunk_items AS o_chunk_items, o.algorithms AS o_algorithms, r.*
                        FROM results_outbox o
                        JOIN results r USING (topic, "partition", "offset", item, algorithm)
                        WHERE o.id > ? ORDER BY o.id LIMIT ?
                        """, arguments: [after, limit])
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
                    return (id: row[0], row: Self.resultRow(row, columns), split: split)
                }
            }
        } catch {
            throw StoreError(.read, "cannot read the results outbox of \(configuration.path): \(Self.describe(error))")
        }
    }

    /// Takes published rows out of the outbox.
    public func removeFromOutbox(_ ids: [Int64]) async throws(StoreError) {
        guard !ids.isEmpty else { return }
        do {
            try await pool.write { db in
                let delete = try db.cachedStatement(sql: "DELETE FROM results_outbox WHERE id = ?")
                for id in ids { try delete.execute(arguments: [id]) }
            }
        } catch {
            throw StoreError(
                .write, "cannot update the results outbox of \(configuration.path): \(Self.describe(error))")
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
