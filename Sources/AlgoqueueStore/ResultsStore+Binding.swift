import GRDB
import GRDBSQLite

/// Writing a row binds its 23 values straight onto the prepared statement with SQLite's C API. Going through
/// GRDB's `StatementArguments` boxed every value in an existential and converted it to a `DatabaseValue`
/// first: measured with `algoqueue-bench` (`sqlite-only` against `sqlite-c`, the same rows through a plain C
/// loop), that layer made the store 0.61 of the C loop's rate.
extension ResultsStore {
    /// Runs ``upsertRowSQL`` (or a statement with the same parameters) for each of `rows` on `statement`.
    static func upsert(
        _ rows: [ResultRow], keepInput: Bool, now: String, with statement: Statement, in db: Database
    ) throws(DatabaseError) {
        // Each value is read through a pointer to the row: passing `rows[index]`, or a for-in loop's element, copied
        // the whole row first (a retain and a release per string in it).
        try rows.withUnsafeBufferPointer { buffer throws(DatabaseError) in
            guard let first = buffer.baseAddress else { return }
            for index in buffer.indices {
                try upsert(first + index, keepInput: keepInput, now: now, with: statement, in: db)
            }
        }
    }

    /// Runs ``upsertRowSQL`` (or a statement with the same parameters) for the row at `row` on `statement`.
    static func upsert(
        _ row: UnsafePointer<ResultRow>, keepInput: Bool, now: String, with statement: Statement, in db: Database
    ) throws(DatabaseError) {
        let handle = statement.sqliteStatement
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        bind(row.pointee.topic, 1, handle)
        sqlite3_bind_int64(handle, 2, Int64(row.pointee.partition))
        sqlite3_bind_int64(handle, 3, row.pointee.offset)
        sqlite3_bind_int64(handle, 4, Int64(row.pointee.item))
        bind(row.pointee.algorithm, 5, handle)
        bind(row.pointee.algorithmVersion, 6, handle)
        bind(row.pointee.key, 7, handle)
        bind(row.pointee.status.rawValue, 8, handle)
        if keepInput {  // the `input` column: the text, or the exact bytes as a BLOB
            if let input = row.pointee.input {
                bind(input, 9, handle)
            } else if let raw = row.pointee.rawInput {
                raw.withUnsafeBytes { bytes in
                    // An empty blob is still a blob, not NULL (SQLite reads a nil pointer as NULL).
                    if bytes.isEmpty {
                        sqlite3_bind_zeroblob(handle, 9, 0)
                    } else {
                        sqlite3_bind_blob(handle, 9, bytes.baseAddress, Int32(bytes.count), transient)
                    }
                }
            }
        }
        sqlite3_bind_int64(handle, 10, Int64(row.pointee.inputBytes))
        bind(row.pointee.output, 11, handle)
        bind(row.pointee.error, 12, handle)
        bind(row.pointee.metadata, 13, handle)
        bind(row.pointee.outputFile, 14, handle)
        sqlite3_bind_int64(handle, 15, Int64(row.pointee.attempts))
        sqlite3_bind_double(handle, 16, row.pointee.durationMilliseconds)
        bind(row.pointee.messageTimestamp, 17, handle)
        bind(row.pointee.createdAt ?? now, 18, handle)
        bind(row.pointee.updatedAt ?? now, 19, handle)
        bind(row.pointee.inputHash, 20, handle)
        bind(row.pointee.cachedFrom, 21, handle)
        bind(row.pointee.traceparent, 22, handle)
        if let status = row.pointee.httpStatus { sqlite3_bind_int64(handle, 23, Int64(status)) }
        let code = sqlite3_step(handle)
        guard code == SQLITE_DONE else {
            throw DatabaseError(
                resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
    }

    /// SQLITE_TRANSIENT: SQLite copies the bytes before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// Binds text by its UTF-8 bytes and their count (so a NUL inside is kept); nil leaves the parameter NULL.
    private static func bind(_ text: String?, _ index: Int32, _ handle: OpaquePointer) {
        guard let text else { return }
        // A native string's bytes are read in place; only another kind (bridged) is copied to be made contiguous.
        let bound = text.utf8.withContiguousStorageIfAvailable { bind(bytes: $0, index, handle) }
        if bound == nil {
            var copy = text
            copy.withUTF8 { bind(bytes: $0, index, handle) }
        }
    }

    private static func bind(bytes: UnsafeBufferPointer<UInt8>, _ index: Int32, _ handle: OpaquePointer) {
        // An empty string's buffer may have no address; SQLite reads a nil pointer as NULL, so give it one.
        if bytes.isEmpty {
            sqlite3_bind_text(handle, index, "", 0, transient)
        } else {
            bytes.withMemoryRebound(to: CChar.self) {
                _ = sqlite3_bind_text(handle, index, $0.baseAddress, Int32($0.count), transient)
            }
        }
    }
}
