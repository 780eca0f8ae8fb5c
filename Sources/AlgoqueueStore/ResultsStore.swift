import AlgoqueueSupport
import Foundation
import GRDB
import Logging

/// The SQLite results store: one writer, WAL so `sqlite3` can read while algoqueue writes.
///
/// Opening applies the migrations carried in the binary. ``write(rows:offsets:group:)`` puts rows and the
/// consumer's next offsets in one transaction, so offsets never run ahead of durable rows.
public final class ResultsStore: Sendable {
    let pool: DatabasePool
    let logger: Logger
    let closed = Locked(false)
    /// The configuration the store was opened with.
    public let configuration: StoreConfiguration

    private init(pool: DatabasePool, configuration: StoreConfiguration, logger: Logger) {
        self.pool = pool
        self.configuration = configuration
        self.logger = logger
    }

    /// Opens (creating if needed, mode 0640) the store and, unless `migrate` is false, brings its schema up to date.
    public static func open(
        _ configuration: StoreConfiguration, logger: Logger, migrate: Bool = true
    ) throws(StoreError) -> ResultsStore {
        let path = configuration.path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            throw StoreError(.open, "cannot create the results store \(path): directory \(directory) does not exist")
        }
        if !FileManager.default.fileExists(atPath: path) {
            let descriptor = Foundation.open(path, O_CREAT | O_WRONLY, 0o640)
            guard descriptor >= 0 else {
                throw StoreError(.open, "cannot create the results store \(path): \(String(cString: strerror(errno)))")
            }
            fchmod(descriptor, 0o640)
            Foundation.close(descriptor)
        }
        var grdb = Configuration()
        grdb.busyMode = .timeout(TimeInterval(configuration.busyTimeout.milliseconds) / 1000)
        let synchronous = configuration.synchronous.rawValue.uppercased()
        let maxSize = configuration.maxSize
        grdb.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            if maxSize > 0 {
                let pageSize = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
                try db.execute(sql: "PRAGMA max_page_count = \(max(1, maxSize / pageSize))")
            }
        }
        // Instances sharing a store may open a new file at the same moment: switching it to WAL takes a lock
        // that SQLite does not wait for, so a busy open is tried again for up to the busy timeout.
        var pool: DatabasePool?
        let deadline = ContinuousClock.now + configuration.busyTimeout
        while pool == nil {
            do {
                pool = try DatabasePool(path: path, configuration: grdb)
            } catch let error as DatabaseError
                where error.resultCode.primaryResultCode == .SQLITE_BUSY && ContinuousClock.now < deadline
            {
                usleep(50_000)
            } catch {
                throw StoreError(.open, "cannot open the results store \(path): \(Self.describe(error))")
            }
        }
        guard let pool else { throw StoreError(.open, "cannot open the results store \(path)") }
        let store = ResultsStore(pool: pool, configuration: configuration, logger: logger)
        if migrate { try store.migrate() }
        return store
    }

    /// Checkpoints the write-ahead log into the main file and truncates it, so that after a clean stop the `.db`
    /// file alone holds every row, then closes the file: the run is over when this returns, and a reader starting
    /// right after never meets the closing checkpoint. Safe to call more than once.
    public func close() {
        guard
            !closed.withLock({ closed in
                defer { closed = true }
                return closed
            })
        else { return }
        do {
            try pool.writeWithoutTransaction { db in
                _ = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
        } catch {
            logger.warning("checkpointing the results store: \(Self.describe(error))")
        }
        do {
            try pool.close()
        } catch {
            logger.warning("closing the results store: \(Self.describe(error))")
        }
    }

    /// The schema version the file is at.
    public func schemaVersion() throws(StoreError) -> Int {
        do {
            return try pool.read { db in
                guard try db.tableExists("schema_migrations") else { return 0 }
                return try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(version), 0) FROM schema_migrations") ?? 0
            }
        } catch {
            throw StoreError(.read, "cannot read the schema version of \(configuration.path): \(Self.describe(error))")
        }
    }

    /// Applies the migrations the file does not have yet, each in its own transaction. Returns the names applied.
    @discardableResult
    public func migrate() throws(StoreError) -> [String] {
        let current = try schemaVersion()
        if current > Migrations.latestVersion {
            throw StoreError(
                .newerSchema,
                "\(configuration.path) has schema version \(current), newer than this algoqueue knows "
                    + "(\(Migrations.latestVersion)); upgrade algoqueue to use it")
        }
        var applied: [String] = []
        for migration in Migrations.all where migration.version > current {
            do {
                // IMMEDIATE: of instances migrating one file at once, one applies each migration; the others see it done.
                let done = try pool.writeWithoutTransaction { db in
                    var done = false
                    try db.inTransaction(.immediate) {
                        try db.execute(
                            sql: """
                                CREATE TABLE IF NOT EXISTS schema_migrations (
                                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)
                                """)
                        let now =
                            try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(version), 0) FROM schema_migrations") ?? 0
                        done = now >= migration.version
                        if done { return .commit }
                        try db.execute(sql: migration.sql)
                        try db.execute(
                            sql: "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                            arguments: [migration.version, migration.name, Timestamp.now()])
                        return .commit
                    }
                    return done
                }
                if done { continue }
            } catch {
                throw StoreError(
                    .migration, "migration \(migration.name) failed on \(configuration.path): \(Self.describe(error))")
            }
            logger.info("applied migration \(migration.name)", metadata: ["database": "\(configuration.path)"])
            applied.append(migration.name)
        }
        return applied
    }

    /// Writes `rows` and the group's next `offsets` in one transaction. A row with the same
    /// (topic, partition, offset, item, algorithm) is replaced in place, keeping its `created_at`.
    /// `splits` records batches split into chunks and `writtenChunks` the chunks whose rows are in `rows`;
    /// returns the batches this transaction completed. With `outbox` (one entry per row: its split-batch facts, or
    /// nil), each row is also queued for the results topic in the same transaction (``ResultsStore/outbox(limit:)``).
    @discardableResult
    public func write(
        rows: [ResultRow], offsets: [StoredOffset], group: String, splits: [BatchSplit] = [],
        writtenChunks: [BatchChunk] = [], outbox: [SplitRowInfo?]? = nil
    ) async throws(StoreError) -> [CompletedBatch] {
        try await write(
            rowGroups: [rows], offsets: offsets, group: group, splits: splits, writtenChunks: writtenChunks,
            outbox: outbox)
    }

    /// ``write(rows:offsets:group:splits:writtenChunks:outbox:)`` with the rows in groups (one per message), written
    /// in order as they are: the pipeline's writer hands over each message's rows without first moving them all into
    /// one array (1.4-1.9 ms of the writer's time per 5000-row transaction, measured in a micro-batch run, and a
    /// second copy of every row in memory meanwhile). `outbox` has one entry per row, in the same order.
    @discardableResult
    public func write(
        rowGroups: [[ResultRow]], offsets: [StoredOffset], group: String, splits: [BatchSplit] = [],
        writtenChunks: [BatchChunk] = [], outbox: [SplitRowInfo?]? = nil
    ) async throws(StoreError) -> [CompletedBatch] {
        try await write(
            rowGroups: rowGroups, offsets: offsets, group: group, splits: splits, writtenChunks: writtenChunks,
            queueing: outbox
        ).completed
    }

    /// ``write(rowGroups:offsets:group:splits:writtenChunks:outbox:)`` that also returns what it queued in the outbox
    /// (with `queueing`, one entry per row: its split-batch facts or nil), as the store now holds it: the results
    /// publisher sends those rows without reading them back.
    public func write(
        rowGroups: [[ResultRow]], offsets: [StoredOffset], group: String, splits: [BatchSplit] = [],
        writtenChunks: [BatchChunk] = [], queueing outbox: [SplitRowInfo?]?
    ) async throws(StoreError) -> (completed: [CompletedBatch], queued: QueuedRows) {
        let rowCount = rowGroups.reduce(0) { $0 + $1.count }
        guard rowCount > 0 || !offsets.isEmpty || !splits.isEmpty || !writtenChunks.isEmpty else {
            return ([], QueuedRows())
        }
        let keepInputs = configuration.keepInputs
        do {
            return try await pool.write { db in
                let now = Timestamp.now()
                let insert = try db.cachedStatement(sql: Self.upsertRowSQL)
                let bytes = RowBytes()
                var inserted: [Bool] = []
                for rows in rowGroups {
                    inserted += try Self.upsert(
                        rows, keepInput: keepInputs, now: now, with: insert, bytes: bytes, in: db,
                        noteInserted: outbox != nil)
                }
                var queued = QueuedRows()
                if let outbox {
                    queued = try Self.queue(
                        rowGroups, splits: outbox, inserted: inserted, keepInput: keepInputs, now: now, bytes: bytes,
                        in: db)
                }
                let offset = try db.cachedStatement(sql: Self.upsertOffsetSQL)
                for stored in offsets {
                    try offset.execute(arguments: [group, stored.topic, stored.partition, stored.nextOffset, now])
                }
                guard !splits.isEmpty || !writtenChunks.isEmpty else { return ([], queued) }
                return (try Self.recordBatches(db, splits: splits, writtenChunks: writtenChunks, now: now), queued)
            }
        } catch {
            var reason = Self.describe(error)
            if configuration.maxSize > 0, let error = error as? DatabaseError,
                error.resultCode.primaryResultCode == .SQLITE_FULL
            {
                reason =
                    "the store reached store.max_size (\(configuration.maxSize) bytes) or the disk is full: "
                    + "free space or raise store.max_size"
            }
            throw StoreError(.write, "cannot write \(rowCount) result row(s) to \(configuration.path): \(reason)")
        }
    }

    /// The next offsets stored for `group`.
    public func offsets(group: String) throws(StoreError) -> [StoredOffset] {
        do {
            return try pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT topic, \"partition\", next_offset FROM consumer_offsets WHERE group_id = ?",
                    arguments: [group]
                ).map { StoredOffset(topic: $0[0], partition: $0[1], nextOffset: $0[2]) }
            }
        } catch {
            throw StoreError(.read, "cannot read stored offsets from \(configuration.path): \(Self.describe(error))")
        }
    }

    /// The consumer groups that have offsets stored in this file, with how many partitions each.
    public func offsetGroups() throws(StoreError) -> [(group: String, partitions: Int)] {
        do {
            return try pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT group_id, COUNT(*) FROM consumer_offsets GROUP BY group_id ORDER BY group_id"
                ).map { (group: $0[0], partitions: $0[1]) }
            }
        } catch {
            throw StoreError(.read, "cannot read stored offsets from \(configuration.path): \(Self.describe(error))")
        }
    }

    public static let upsertRowSQL = """
        INSERT INTO results (topic, "partition", "offset", item, algorithm, algorithm_version, "key", status, input,
            input_bytes, output, error, metadata, output_file, attempts, duration_ms, message_timestamp, created_at,
            updated_at, input_hash, cached_from, traceparent, http_status)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (topic, "partition", "offset", item, algorithm) DO UPDATE SET
            algorithm_version = excluded.algorithm_version, "key" = excluded."key", status = excluded.status,
            input = excluded.input, input_bytes = excluded.input_bytes, output = excluded.output,
            error = excluded.error, metadata = excluded.metadata, output_file = excluded.output_file,
            attempts = excluded.attempts, duration_ms = excluded.duration_ms,
            message_timestamp = excluded.message_timestamp, updated_at = excluded.updated_at,
            input_hash = excluded.input_hash, cached_from = excluded.cached_from,
            traceparent = excluded.traceparent, http_status = excluded.http_status
        """

    public static let upsertOffsetSQL = """
        INSERT INTO consumer_offsets (group_id, topic, "partition", next_offset, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (group_id, topic, "partition") DO UPDATE SET
            next_offset = MAX(next_offset, excluded.next_offset), updated_at = excluded.updated_at
        """

    /// A person-readable cause: SQLite's message without the SQL text or arguments.
    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            let message = error.message ?? "\(error.resultCode)"
            switch error.resultCode.primaryResultCode {
            case .SQLITE_READONLY: return "\(message) (the file or its directory is read-only: fix its permissions)"
            case .SQLITE_FULL: return "\(message) (the disk is full: free space)"
            case .SQLITE_CANTOPEN: return "\(message) (check that the directory exists and is writable)"
            case .SQLITE_BUSY: return "\(message) (another process holds a write lock too long)"
            default: return message
            }
        }
        return "\(error)"
    }
}
