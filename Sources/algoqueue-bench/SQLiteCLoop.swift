import AlgoqueueStore
import ArgumentParser
import Foundation
import GRDBSQLite

/// Reference for the store itself: the same rows as `sqlite-only`, written by a plain loop over SQLite's C API
/// (one prepared statement reused, bound and stepped, one transaction per batch), into a store with the same
/// schema and settings. `sqlite-only` against this says what the store layer (GRDB, argument arrays) costs.
struct SQLiteCLoop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sqlite-c", abstract: "Reference: the rows of sqlite-only through SQLite's C API, nothing else.")

    @Option var database: String
    @Option var rows: Int
    @Option var batch: Int

    func run() async throws {
        // The schema, WAL and pragmas exactly as algoqueue makes them.
        let store = try ResultsStore.open(StoreConfiguration(path: database), logger: quietLogger())
        store.close()
        var db: OpaquePointer?
        guard sqlite3_open_v2(database, &db, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK, let db else {
            throw BenchError("cannot open \(database)")
        }
        defer { sqlite3_close_v2(db) }
        try Self.execute(db, "PRAGMA synchronous = FULL")
        let insert = try Self.prepare(db, ResultsStore.upsertRowSQL)
        let offset = try Self.prepare(db, ResultsStore.upsertOffsetSQL)
        defer {
            sqlite3_finalize(insert)
            sqlite3_finalize(offset)
        }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)  // SQLITE_TRANSIENT: SQLite copies
        let output = #"{"doubled": 42}"#
        let started = ContinuousClock.now
        for start in stride(from: 0, to: rows, by: batch) {
            let now = Timestamp.now()
            try Self.execute(db, "BEGIN IMMEDIATE")
            for n in start..<min(start + batch, rows) {
                // Columns as in ResultsStore.upsertRowSQL; the ones sqlite-only leaves empty stay NULL.
                sqlite3_bind_text(insert, 1, "bench", -1, transient)
                sqlite3_bind_int64(insert, 2, Int64(n % 8))
                sqlite3_bind_int64(insert, 3, Int64(n))
                sqlite3_bind_int64(insert, 4, -1)
                sqlite3_bind_text(insert, 5, "bench", -1, transient)
                sqlite3_bind_text(insert, 8, "ok", -1, transient)
                sqlite3_bind_text(insert, 9, #"{"n": \#(n)}"#, -1, transient)
                sqlite3_bind_int64(insert, 10, 10)
                sqlite3_bind_text(insert, 11, output, -1, transient)
                sqlite3_bind_int64(insert, 15, 1)
                sqlite3_bind_double(insert, 16, 1)
                sqlite3_bind_text(insert, 18, now, -1, transient)
                sqlite3_bind_text(insert, 19, now, -1, transient)
                guard sqlite3_step(insert) == SQLITE_DONE else { throw Self.failure(db) }
                sqlite3_reset(insert)
                sqlite3_clear_bindings(insert)
            }
            sqlite3_bind_text(offset, 1, "bench", -1, transient)
            sqlite3_bind_text(offset, 2, "bench", -1, transient)
            sqlite3_bind_int64(offset, 3, 0)
            sqlite3_bind_int64(offset, 4, Int64(min(start + batch, rows)))
            sqlite3_bind_text(offset, 5, now, -1, transient)
            guard sqlite3_step(offset) == SQLITE_DONE else { throw Self.failure(db) }
            sqlite3_reset(offset)
            try Self.execute(db, "COMMIT")
        }
        print("seconds=\((ContinuousClock.now - started).seconds)")
    }

    static func prepare(_ db: OpaquePointer, _ sql: String) throws -> OpaquePointer {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw failure(db)
        }
        return statement
    }

    static func execute(_ db: OpaquePointer, _ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw failure(db) }
    }

    static func failure(_ db: OpaquePointer) -> BenchError {
        BenchError("SQLite: \(String(cString: sqlite3_errmsg(db)))")
    }
}
