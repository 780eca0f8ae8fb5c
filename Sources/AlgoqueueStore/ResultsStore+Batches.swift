import AlgoqueueSupport
import GRDB

/// The coordinates of the message that carried a batch: its rows, and the rows of all its chunks, carry them.
public struct BatchOrigin: Sendable, Hashable, CustomStringConvertible {
    /// The topic the batch message came from.
    public var topic: String
    /// Its partition.
    public var partition: Int32
    /// Its offset.
    public var offset: Int64

    /// Creates an origin.
    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }

    public var description: String { "\(topic)/\(partition)/\(offset)" }
}

/// One chunk of a split batch: `items` items from `firstItem` (a global item index).
public struct BatchChunk: Sendable, Hashable {
    /// The batch it belongs to.
    public var origin: BatchOrigin
    /// The global index of its first item.
    public var firstItem: Int
    /// How many items it holds.
    public var items: Int

    /// Creates a chunk.
    public init(origin: BatchOrigin, firstItem: Int, items: Int) {
        self.origin = origin
        self.firstItem = firstItem
        self.items = items
    }
}

/// A batch message split into chunks.
public struct BatchSplit: Sendable, Hashable {
    /// The batch.
    public var origin: BatchOrigin
    /// How many items it holds in all.
    public var items: Int
    /// Every chunk, the first (kept by the instance that split it) included.
    public var chunks: [BatchChunk]

    /// Creates a split record.
    public init(origin: BatchOrigin, items: Int, chunks: [BatchChunk]) {
        self.origin = origin
        self.items = items
        self.chunks = chunks
    }
}

/// A split batch whose chunks are all written.
public struct CompletedBatch: Sendable, Hashable {
    /// The batch.
    public var origin: BatchOrigin
    /// How many items it holds.
    public var items: Int
    /// How many chunks it was split into.
    public var chunks: Int
    /// Its `ok` and `error` rows.
    public var ok: Int
    public var errors: Int
    /// When it was completed (ISO 8601 UTC).
    public var completedAt: String

    /// The completion event published to `split.completion_topic`, as JSON.
    public var eventJSON: String {
        #"{"event":"batch_complete","topic":"# + JSONString.quoted(origin.topic)
            + #","partition":\#(origin.partition),"offset":\#(origin.offset),"items":\#(items),"chunks":\#(chunks),"#
            + #""ok":\#(ok),"errors":\#(errors),"completed_at":"\#(completedAt)"}"#
    }
}

extension ResultsStore {
    /// Whether the batch carried by `origin` was already split (its chunks published) by any instance.
    public func isSplit(_ origin: BatchOrigin) async throws(StoreError) -> Bool {
        do {
            return try await pool.read { db in
                try Bool.fetchOne(
                    db, sql: #"SELECT 1 FROM batches WHERE topic = ? AND "partition" = ? AND "offset" = ?"#,
                    arguments: [origin.topic, origin.partition, origin.offset]) ?? false
            }
        } catch {
            throw StoreError(.read, "cannot read split batches from \(configuration.path): \(Self.describe(error))")
        }
    }

    /// Completed batches whose completion event has not been published yet.
    public func unpublishedCompletions() async throws(StoreError) -> [CompletedBatch] {
        do {
            return try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: #"""
                        SELECT topic, "partition", "offset" FROM batches
                        WHERE completed_at IS NOT NULL AND event_published_at IS NULL
                        """#
                ).compactMap { row in
                    try Self.completion(db, BatchOrigin(topic: row[0], partition: row[1], offset: row[2]))
                }
            }
        } catch {
            throw StoreError(.read, "cannot read completed batches from \(configuration.path): \(Self.describe(error))")
        }
    }

    /// Notes that the completion event of `origin` was published.
    public func markPublished(_ origin: BatchOrigin) async throws(StoreError) {
        do {
            try await pool.write { db in
                try db.execute(
                    sql:
                        #"UPDATE batches SET event_published_at = ? WHERE topic = ? AND "partition" = ? AND "offset" = ?"#,
                    arguments: [Timestamp.now(), origin.topic, origin.partition, origin.offset])
            }
        } catch {
            throw StoreError(.write, "cannot update batches in \(configuration.path): \(Self.describe(error))")
        }
    }

    /// Records splits and written chunks inside the caller's transaction; returns the batches it completed.
    /// Chunks may be written before the split that announces them is (another instance was quicker): the
    /// split then finds them written.
    static func recordBatches(
        _ db: Database, splits: [BatchSplit], writtenChunks: [BatchChunk], now: String
    ) throws -> [CompletedBatch] {
        var touched: [BatchOrigin] = []
        for split in splits {
            let origin = split.origin
            try db.execute(
                sql: #"""
                    INSERT INTO batches (topic, "partition", "offset", items, chunks, split_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT DO NOTHING
                    """#,
                arguments: [origin.topic, origin.partition, origin.offset, split.items, split.chunks.count, now])
            for chunk in split.chunks {
                try db.execute(
                    sql: #"""
                        INSERT INTO batch_chunks (topic, "partition", "offset", first_item, items) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT DO NOTHING
                        """#,
                    arguments: [origin.topic, origin.partition, origin.offset, chunk.firstItem, chunk.items])
            }
            touched.append(origin)
        }
        for chunk in writtenChunks {
            let origin = chunk.origin
            try db.execute(
                sql: #"""
                    INSERT INTO batch_chunks (topic, "partition", "offset", first_item, items, written_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT DO UPDATE SET written_at = excluded.written_at
                    """#,
                arguments: [origin.topic, origin.partition, origin.offset, chunk.firstItem, chunk.items, now])
            touched.append(origin)
        }
        var completed: [CompletedBatch] = []
        for origin in Set(touched) {
            let open = try Row.fetchOne(
                db,
                sql: #"""
                    SELECT b.chunks, (SELECT COUNT(*) FROM batch_chunks c WHERE c.topic = b.topic
                        AND c."partition" = b."partition" AND c."offset" = b."offset" AND c.written_at IS NOT NULL)
                    FROM batches b WHERE b.topic = ? AND b."partition" = ? AND b."offset" = ? AND b.completed_at IS NULL
                    """#,
                arguments: [origin.topic, origin.partition, origin.offset])
            guard let open, let chunks = open[0] as Int?, let written = open[1] as Int?, written >= chunks else {
                continue
            }
            try db.execute(
                sql: #"UPDATE batches SET completed_at = ? WHERE topic = ? AND "partition" = ? AND "offset" = ?"#,
                arguments: [now, origin.topic, origin.partition, origin.offset])
            if let batch = try completion(db, origin) { completed.append(batch) }
        }
        return completed
    }

    /// The completion record of a completed batch.
    static func completion(_ db: Database, _ origin: BatchOrigin) throws -> CompletedBatch? {
        let arguments: StatementArguments = [origin.topic, origin.partition, origin.offset]
        guard
            let batch = try Row.fetchOne(
                db,
                sql:
                    #"SELECT items, chunks, completed_at FROM batches WHERE topic = ? AND "partition" = ? AND "offset" = ?"#,
                arguments: arguments),
            let completedAt = batch[2] as String?
        else { return nil }
        let counts = try Row.fetchOne(
            db,
            sql: #"""
                SELECT COALESCE(SUM(status = 'ok'), 0), COALESCE(SUM(status = 'error'), 0) FROM results
                WHERE topic = ? AND "partition" = ? AND "offset" = ? AND item >= 0
                """#,
            arguments: arguments)
        return CompletedBatch(
            origin: origin, items: batch[0], chunks: batch[1], ok: counts?[0] ?? 0, errors: counts?[1] ?? 0,
            completedAt: completedAt)
    }
}
