import GRDB

/// The outbox of the results topic: rows queued in the transaction that wrote them, taken out once published.
extension ResultsStore {
    static let queueOutboxSQL = """
        INSERT INTO results_outbox (topic, "partition", "offset", item, algorithm, queued_at) VALUES (?, ?, ?, ?, ?, ?)
        """

    /// The oldest `limit` queued rows, each with its outbox id, as they are now in `results` (a row replaced since
    /// it was queued goes out as it is now).
    public func outbox(limit: Int) async throws(StoreError) -> [(id: Int64, row: ResultRow)] {
        do {
            return try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT o.id AS outbox_id, r.* FROM results_outbox o
                        JOIN results r USING (topic, "partition", "offset", item, algorithm)
                        ORDER BY o.id LIMIT ?
                        """, arguments: [limit]
                ).map { (id: $0["outbox_id"], row: Self.resultRow($0)) }
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

    /// Writes rows collected from results topics and the collector group's next `offsets` in one transaction. A row
    /// already stored is replaced only by one at least as new (`updated_at`): a row published twice stays one row,
    /// and an older copy never overwrites a newer one. Rows keep the `created_at` and `updated_at` they came with.
    public func writeCollected(rows: [ResultRow], offsets: [StoredOffset], group: String) async throws(StoreError) {
        guard !rows.isEmpty || !offsets.isEmpty else { return }
        do {
            try await pool.write { db in
                let now = Timestamp.now()
                let insert = try db.cachedStatement(
                    sql: Self.upsertRowSQL + "\nWHERE excluded.updated_at >= results.updated_at")
                for row in rows {
                    try insert.execute(arguments: [
                        row.topic, row.partition, row.offset, row.item, row.algorithm, row.algorithmVersion, row.key,
                        row.status.rawValue, row.storedInput, row.inputBytes, row.output, row.error, row.metadata,
                        row.outputFile, row.attempts, row.durationMilliseconds, row.messageTimestamp,
                        row.createdAt ?? now, row.updatedAt ?? now,
                    ])
                }
                let offset = try db.cachedStatement(sql: Self.upsertOffsetSQL)
                for stored in offsets {
                    try offset.execute(arguments: [group, stored.topic, stored.partition, stored.nextOffset, now])
                }
            }
        } catch {
            throw StoreError(
                .write, "cannot write \(rows.count) collected row(s) to \(configuration.path): \(Self.describe(error))")
        }
    }
}
