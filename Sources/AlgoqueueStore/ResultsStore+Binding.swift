import GRDB
import GRDBSQLite

/// Writing a row binds its 23 values straight onto the prepared statement with SQLite's C API. Going through
/// GRDB's `StatementArguments` boxed every value in an existential and converted it to a `DatabaseValue`
/// first: measured with `algoqueue-bench` (`sqlite-only` against `sqlite-c`, the same rows through a plain C
/// loop), that layer made the store 0.61 of the C loop's rate.
extension ResultsStore {
    /// Runs ``upsertRowSQL`` (or a statement with the same parameters) for `row` on `statement`.
    static func upsert(_ row: ResultRow, keepInput: Bool, now: String, with statement: Statement, in db: Database)
        throws(DatabaseError)
    {
        let handle = statement.sqliteStatement
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        bind(row.topic, 1, handle)
        sqlite3_bind_int64(handle, 2, Int64(row.partition))
        sqlite3_bind_int64(handle, 3, row.offset)
        sqlite3_bind_int64(handle, 4, Int64(row.item))
        bind(row.algorithm, 5, handle)
        bind(row.algorithmVersion, 6, handle)
        bind(row.key, 7, handle)
        bind(row.status.rawValue, 8, handle)
        if keepInput {  // the `input` column: the text, or the exact bytes as a BLOB
            if let input = row.input {
                bind(input, 9, handle)
            } else if let raw = row.rawInput {
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
        sqlite3_bind_int64(handle, 10, Int64(row.inputBytes))
        bind(row.output, 11, handle)
        bind(row.error, 12, handle)
        bind(row.metadata, 13, handle)
        bind(row.outputFile, 14, handle)
        sqlite3_bind_int64(handle, 15, Int64(row.attempts))
        sqlite3_bind_double(handle, 16, row.durationMilliseconds)
        bind(row.messageTimestamp, 17, handle)
        bind(row.createdAt ?? now, 18, handle)
        bind(row.updatedAt ?? now, 19, handle)
        bind(row.inputHash, 20, handle)
        bind(row.cachedFrom, 21, handle)
        bind(row.traceparent, 22, handle)
        if let status = row.httpStatus { sqlite3_bind_int64(handle, 23, Int64(status)) }
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
