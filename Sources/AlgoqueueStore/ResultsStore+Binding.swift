import GRDB
import GRDBSQLite

/// Writing a row binds its 23 values straight onto the prepared statement with SQLite's C API. Going through
/// GRDB's `StatementArguments` boxed every value in an existential and converted it to a `DatabaseValue`
/// first: measured with `algoqueue-bench` (`sqlite-only` against `sqlite-c`, the same rows through a plain C
/// loop), that layer made the store 0.61 of the C loop's rate.
///
/// A row's text and blob values are copied into one buffer that lives as long as the statement's bindings, and
/// bound from there without SQLite copying them again (`SQLITE_STATIC`). Bound as `SQLITE_TRANSIENT`, SQLite
/// allocated memory of its own for each value and freed it at the next row: eleven allocations and frees per
/// row, 8% of a micro-batch run's CPU (a profile of the writer thread).
extension ResultsStore {
    /// Runs ``upsertRowSQL`` (or a statement with the same parameters) for each of `rows` on `statement`, their
    /// text bound from `bytes` (one buffer for a whole transaction). With `noteInserted`, returns per row whether it
    /// was inserted (true) or replaced a row already stored (false: that row keeps its `created_at`).
    @discardableResult
    static func upsert(
        _ rows: [ResultRow], keepInput: Bool, now: String, with statement: Statement, bytes: RowBytes = RowBytes(),
        in db: Database, noteInserted: Bool = false
    ) throws(DatabaseError) -> [Bool] {
        let connection = db.sqliteConnection
        var inserted: [Bool] = []
        if noteInserted { inserted.reserveCapacity(rows.count) }
        // Each value is read through a pointer to the row: passing `rows[index]`, or a for-in loop's element, copied
        // the whole row first (a retain and a release per string in it).
        try rows.withUnsafeBufferPointer { buffer throws(DatabaseError) in
            guard let first = buffer.baseAddress else { return }
            for index in buffer.indices {
                // An upsert that updates leaves the last inserted rowid as it was; an insert sets it to the new row's
                // (never 0: SQLite gives rowids from 1).
                if noteInserted { sqlite3_set_last_insert_rowid(connection, 0) }
                try upsert(first + index, keepInput: keepInput, now: now, with: statement, bytes: bytes, in: db)
                if noteInserted { inserted.append(sqlite3_last_insert_rowid(connection) != 0) }
            }
        }
        return inserted
    }

    /// Runs ``upsertRowSQL`` (or a statement with the same parameters) for each of `rows` on `statement`: text in a
    /// message bound where it lies, kept text and blobs from `bytes`.
    static func upsert(
        _ rows: MessageRows, now: String, with statement: Statement, bytes: RowBytes = RowBytes(), in db: Database
    ) throws(DatabaseError) {
        let handle = statement.sqliteStatement
        let columns = ResultColumn.allCases
        for index in 0..<rows.count {
            bytes.startRow()
            try rows.messages[index].withUnsafeBufferPointer { (message) throws(DatabaseError) in
                // The bindings point into the message and `bytes`: they are cleared before either is let go.
                defer {
                    sqlite3_reset(handle)
                    sqlite3_clear_bindings(handle)
                }
                for column in columns {
                    let parameter = column.parameter
                    switch rows.value(column, ofRow: index) {
                    case .null: break
                    case .now: bytes.bind(now, parameter, handle)
                    case .text(let start, let count):
                        // SQLITE_STATIC (nil): the message outlives the binding.
                        let text = UnsafeRawPointer(message.baseAddress! + Int(start))
                        sqlite3_bind_text(handle, parameter, text.assumingMemoryBound(to: CChar.self), count, nil)
                    case .string(let kept): bytes.bind(rows.strings[Int(kept)], parameter, handle)
                    case .blob(let kept): bytes.bind(blob: rows.blobs[Int(kept)], parameter, handle)
                    case .integer(let integer): sqlite3_bind_int64(handle, parameter, integer)
                    case .double(let double): sqlite3_bind_double(handle, parameter, double)
                    }
                }
                try stepToEnd(handle, in: db.sqliteConnection)
            }
        }
    }

    /// Runs `handle` (an insert or update, its parameters bound) to its end; throws SQLite's error when it fails.
    static func stepToEnd(_ handle: OpaquePointer, in connection: OpaquePointer?) throws(DatabaseError) {
        let code = sqlite3_step(handle)
        guard code == SQLITE_DONE else {
            throw DatabaseError(
                resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)))
        }
    }

    /// The input a row is stored with: its text, else its exact bytes, and neither without `store.keep_inputs`.
    static func keptInput(_ input: String?, _ rawInput: [UInt8]?, keepInput: Bool) -> (
        input: String?, rawInput: [UInt8]?
    ) {
        guard keepInput else { return (nil, nil) }
        return input != nil ? (input, nil) : (nil, rawInput)
    }

    /// `row` as the store holds it once written as a new row at `now` (what a read of it would give).
    static func stored(_ row: ResultRow, keepInput: Bool, now: String) -> ResultRow {
        var stored = row
        (stored.input, stored.rawInput) = keptInput(row.input, row.rawInput, keepInput: keepInput)
        if stored.createdAt == nil { stored.createdAt = now }
        if stored.updatedAt == nil { stored.updatedAt = now }
        return stored
    }

    /// Runs ``upsertRowSQL`` (or a statement with the same parameters) for the row at `row` on `statement`, its
    /// text bound from `bytes`.
    private static func upsert(
        _ row: UnsafePointer<ResultRow>, keepInput: Bool, now: String, with statement: Statement,
        bytes: RowBytes, in db: Database
    ) throws(DatabaseError) {
        let handle = statement.sqliteStatement
        // The bindings point into `bytes`: they are cleared before the buffer is written again.
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        let (input, rawInput) = keptInput(row.pointee.input, row.pointee.rawInput, keepInput: keepInput)
        bytes.startRow()
        bytes.bind(row.pointee.topic, ResultColumn.topic.parameter, handle)
        sqlite3_bind_int64(handle, ResultColumn.partition.parameter, Int64(row.pointee.partition))
        sqlite3_bind_int64(handle, ResultColumn.offset.parameter, row.pointee.offset)
        sqlite3_bind_int64(handle, ResultColumn.item.parameter, Int64(row.pointee.item))
        bytes.bind(row.pointee.algorithm, ResultColumn.algorithm.parameter, handle)
        bytes.bind(row.pointee.algorithmVersion, ResultColumn.algorithmVersion.parameter, handle)
        bytes.bind(row.pointee.key, ResultColumn.key.parameter, handle)
        bytes.bind(row.pointee.status.rawValue, ResultColumn.status.parameter, handle)
        // The `input` column: the text, or the exact bytes as a BLOB.
        if let input {
            bytes.bind(input, ResultColumn.input.parameter, handle)
        } else if let rawInput {
            bytes.bind(blob: rawInput, ResultColumn.input.parameter, handle)
        }
        sqlite3_bind_int64(handle, ResultColumn.inputBytes.parameter, Int64(row.pointee.inputBytes))
        bytes.bind(row.pointee.output, ResultColumn.output.parameter, handle)
        bytes.bind(row.pointee.error, ResultColumn.error.parameter, handle)
        bytes.bind(row.pointee.metadata, ResultColumn.metadata.parameter, handle)
        bytes.bind(row.pointee.outputFile, ResultColumn.outputFile.parameter, handle)
        sqlite3_bind_int64(handle, ResultColumn.attempts.parameter, Int64(row.pointee.attempts))
        sqlite3_bind_double(handle, ResultColumn.durationMilliseconds.parameter, row.pointee.durationMilliseconds)
        bytes.bind(row.pointee.messageTimestamp, ResultColumn.messageTimestamp.parameter, handle)
        bytes.bind(row.pointee.createdAt ?? now, ResultColumn.createdAt.parameter, handle)
        bytes.bind(row.pointee.updatedAt ?? now, ResultColumn.updatedAt.parameter, handle)
        bytes.bind(row.pointee.inputHash, ResultColumn.inputHash.parameter, handle)
        bytes.bind(row.pointee.cachedFrom, ResultColumn.cachedFrom.parameter, handle)
        bytes.bind(row.pointee.traceparent, ResultColumn.traceparent.parameter, handle)
        if let status = row.pointee.httpStatus {
            sqlite3_bind_int64(handle, ResultColumn.httpStatus.parameter, Int64(status))
        }
        try stepToEnd(handle, in: db.sqliteConnection)
    }
}

/// One row's text and blob values, side by side in one buffer that outlives their bindings. SQLite reads a value
/// bound `SQLITE_STATIC` where it is, until the parameter is bound again or cleared; the buffer is reused for the
/// next row only after the row's bindings were cleared. A value that does not fit is bound `SQLITE_TRANSIENT`
/// (SQLite copies it), and the buffer grows before the next row to hold a row that large.
final class RowBytes {
    private var base: UnsafeMutableRawPointer
    private var capacity: Int
    private var used = 0
    /// The bytes the current row's values took, in the buffer or not.
    private var wanted = 0

    /// SQLITE_TRANSIENT: SQLite copies the bytes before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(capacity: Int = 4096) {
        self.capacity = capacity
        base = .allocate(byteCount: capacity, alignment: 1)
    }

    deinit { base.deallocate() }

    /// Starts a row; the previous row's bindings must be cleared by now.
    func startRow() {
        if wanted > capacity {
            base.deallocate()
            capacity = max(wanted, capacity * 2)
            base = .allocate(byteCount: capacity, alignment: 1)
        }
        used = 0
        wanted = 0
    }

    /// Binds text by its UTF-8 bytes and their count (so a NUL inside is kept); nil leaves the parameter NULL.
    func bind(_ text: String?, _ index: Int32, _ handle: OpaquePointer) {
        guard let text else { return }
        let count = text.utf8.count
        wanted += count
        guard used + count <= capacity else {
            var copy = text  // made contiguous if it is not; never empty here, so its bytes have an address
            copy.withUTF8 { utf8 in
                utf8.withMemoryRebound(to: CChar.self) {
                    _ = sqlite3_bind_text(handle, index, $0.baseAddress, Int32(count), Self.transient)
                }
            }
            return
        }
        let start = base + used
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { source in
            if let address = source.baseAddress { start.copyMemory(from: address, byteCount: source.count) }
        }
        if copied == nil {
            UnsafeMutableRawBufferPointer(start: start, count: count).copyBytes(from: text.utf8)
        }
        used += count
        // Never a nil pointer, even for an empty string: SQLite reads nil as NULL. The nil destructor is SQLITE_STATIC.
        sqlite3_bind_text(handle, index, start.assumingMemoryBound(to: CChar.self), Int32(count), nil)
    }

    /// Binds `blob` as a BLOB; an empty one is still a blob, not NULL.
    func bind(blob: [UInt8], _ index: Int32, _ handle: OpaquePointer) {
        guard !blob.isEmpty else {
            sqlite3_bind_zeroblob(handle, index, 0)
            return
        }
        wanted += blob.count
        guard used + blob.count <= capacity else {
            blob.withUnsafeBytes {
                _ = sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), Self.transient)
            }
            return
        }
        let start = base + used
        blob.withUnsafeBytes { start.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        used += blob.count
        sqlite3_bind_blob(handle, index, start, Int32(blob.count), nil)  // SQLITE_STATIC
    }
}
