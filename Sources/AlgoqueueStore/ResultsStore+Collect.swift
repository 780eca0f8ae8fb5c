import GRDB

/// Writing what `algoqueue collect` reads from results topics.
extension ResultsStore {
    /// Writes rows collected from results topics and the collector group's next `offsets` in one transaction. A row
    /// already stored is replaced only by one at least as new (`updated_at`): a row published twice stays one row,
    /// and an older copy never overwrites a newer one. Rows keep the `created_at` and `updated_at` they came with.
    /// `splits` holds, for rows of split batches, what their messages said of the batch: batches and chunks are
    /// recorded, and a batch completes once it has items × algorithms rows. Returns the batches this completed.
    @discardableResult
    public func writeCollected(
        rows: [ResultRow], splits: [BatchOrigin: Set<SplitRowInfo>] = [:], offsets: [StoredOffset], group: String
    ) async throws(StoreError) -> [CompletedBatch] {
        guard !rows.isEmpty || !offsets.isEmpty else { return [] }
        return try await writeCollected(
            count: rows.count, splits: splits, offsets: offsets, group: group
        ) { insert, now, db throws(DatabaseError) in
            try Self.upsert(rows, keepInput: true, now: now, with: insert, in: db)
        }
    }

    /// ``writeCollected(rows:splits:offsets:group:)`` for rows as they came in their messages (see ``MessageRows``).
    @discardableResult
    public func writeCollected(
        _ rows: MessageRows, splits: [BatchOrigin: Set<SplitRowInfo>] = [:], offsets: [StoredOffset], group: String
    ) async throws(StoreError) -> [CompletedBatch] {
        guard !rows.isEmpty || !offsets.isEmpty else { return [] }
        return try await writeCollected(
            count: rows.count, splits: splits, offsets: offsets, group: group
        ) { insert, now, db throws(DatabaseError) in
            try Self.upsert(rows, now: now, with: insert, in: db)
        }
    }

    /// The transaction both forms share: `upsert` runs the rows on the collect statement.
    private func writeCollected(
        count: Int, splits: [BatchOrigin: Set<SplitRowInfo>], offsets: [StoredOffset], group: String,
        upsert: @escaping @Sendable (Statement, String, Database) throws(DatabaseError) -> Void
    ) async throws(StoreError) -> [CompletedBatch] {
        do {
            return try await pool.write { db in
                let now = Timestamp.now()
                let insert = try db.cachedStatement(
                    sql: Self.upsertRowSQL + "\nWHERE excluded.updated_at >= results.updated_at")
                try upsert(insert, now, db)
                let offset = try db.cachedStatement(sql: Self.upsertOffsetSQL)
                for stored in offsets {
                    try offset.execute(arguments: [group, stored.topic, stored.partition, stored.nextOffset, now])
                }
                var completed: [CompletedBatch] = []
                for (origin, infos) in splits {
                    if let batch = try Self.recordCollectedBatch(db, origin, infos, now: now) {
                        completed.append(batch)
                    }
                }
                return completed
            }
        } catch {
            throw StoreError(
                .write, "cannot write \(count) collected row(s) to \(configuration.path): \(Self.describe(error))")
        }
    }

    /// Records the batch and chunks `infos` describe, marks chunks whose rows are all there as written, and
    /// completes the batch once every item has a row for every algorithm.
    static func recordCollectedBatch(
        _ db: Database, _ origin: BatchOrigin, _ infos: Set<SplitRowInfo>, now: String
    ) throws -> CompletedBatch? {
        guard let first = infos.first else { return nil }
        let at: StatementArguments = [origin.topic, origin.partition, origin.offset]
        let rowsBetween = #"""
            SELECT COUNT(*) FROM results WHERE topic = ? AND "partition" = ? AND "offset" = ? AND item >= ? AND item < ?
            """#
        try db.execute(
            sql: #"""
                INSERT INTO batches (topic, "partition", "offset", items, chunks, split_at) VALUES (?, ?, ?, ?, 0, ?)
                ON CONFLICT DO NOTHING
                """#,
            arguments: at + [first.batchItems, now])
        for info in infos {
            try db.execute(
                sql: #"""
                    INSERT INTO batch_chunks (topic, "partition", "offset", first_item, items) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT DO NOTHING
                    """#,
                arguments: at + [info.chunkFirstItem, info.chunkItems])
            let rows =
                try Int.fetchOne(
                    db, sql: rowsBetween, arguments: at + [info.chunkFirstItem, info.chunkFirstItem + info.chunkItems])
                ?? 0
            if rows >= info.chunkItems * info.algorithms {
                try db.execute(
                    sql: #"""
                        UPDATE batch_chunks SET written_at = ?
                        WHERE topic = ? AND "partition" = ? AND "offset" = ? AND first_item = ? AND written_at IS NULL
                        """#,
                    arguments: [now] + at + [info.chunkFirstItem])
            }
        }
        try db.execute(
            sql: #"""
                UPDATE batches SET chunks = MAX(chunks, (SELECT COUNT(*) FROM batch_chunks c
                    WHERE c.topic = batches.topic AND c."partition" = batches."partition" AND c."offset" = batches."offset"))
                WHERE topic = ? AND "partition" = ? AND "offset" = ?
                """#,
            arguments: at)
        let open =
            try Bool.fetchOne(
                db,
                sql: #"SELECT completed_at IS NULL FROM batches WHERE topic = ? AND "partition" = ? AND "offset" = ?"#,
                arguments: at) ?? false
        let rows = try Int.fetchOne(db, sql: rowsBetween, arguments: at + [0, first.batchItems]) ?? 0
        guard open, rows >= first.batchItems * first.algorithms else { return nil }
        try db.execute(
            sql: #"UPDATE batches SET completed_at = ? WHERE topic = ? AND "partition" = ? AND "offset" = ?"#,
            arguments: [now] + at)
        return try completion(db, origin)
    }
}
