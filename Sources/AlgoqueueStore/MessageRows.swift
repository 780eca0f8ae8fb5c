/// The parameters of the `results` upsert (``ResultsStore/upsertRowSQL``), in order: each row written binds one
/// value to each.
public enum ResultColumn: Int, CaseIterable, Sendable {
    case topic, partition, offset, item, algorithm, algorithmVersion, key, status, input, inputBytes, output, error
    case metadata, outputFile, attempts, durationMilliseconds, messageTimestamp, createdAt, updatedAt, inputHash
    case cachedFrom, traceparent, httpStatus

    /// SQLite's index of the parameter (from 1).
    var parameter: Int32 { Int32(rawValue + 1) }
}

/// Rows given as their upsert's values, their text where it lies in the messages that carried them: `collect`
/// writes what it reads without making a ``ResultRow`` (up to a dozen strings) of each message. Text in a message
/// is bound in place (`SQLITE_STATIC`); the messages are kept until the write ends.
public struct MessageRows: Sendable {
    /// One parameter's value.
    public enum Value: Sendable, Equatable {
        case null
        /// The time of the write: `created_at` and `updated_at` of a row that came without them.
        case now
        /// UTF-8 text at `start..<start + count` of the row's message.
        case text(start: Int32, count: Int32)
        /// Text kept beside the messages (a string that came escaped): its index in `strings`.
        case string(Int32)
        /// Bytes kept beside the messages (an input that is not text): the index in `blobs`.
        case blob(Int32)
        case integer(Int64)
        case double(Double)
    }

    /// Each row's message.
    public private(set) var messages: [[UInt8]] = []
    /// ``ResultColumn/allCases``.count values for each row, in column order.
    private(set) var values: [Value] = []
    private(set) var strings: [String] = []
    private(set) var blobs: [[UInt8]] = []

    public init() {}

    /// How many rows there are.
    public var count: Int { messages.count }
    public var isEmpty: Bool { messages.isEmpty }

    /// Adds the row `message` carries, with `row`'s values (every column, in order).
    public mutating func append(message: [UInt8], _ row: Builder) {
        messages.append(message)
        values.append(contentsOf: row.values)
    }

    /// Adds `other`'s rows after these (one transaction for what came while the last one was written).
    public mutating func append(contentsOf other: MessageRows) {
        let (keptStrings, keptBlobs) = (Int32(strings.count), Int32(blobs.count))
        messages.append(contentsOf: other.messages)
        strings.append(contentsOf: other.strings)
        blobs.append(contentsOf: other.blobs)
        values.reserveCapacity(values.count + other.values.count)
        for value in other.values {
            switch value {
            case .string(let kept): values.append(.string(kept + keptStrings))
            case .blob(let kept): values.append(.blob(kept + keptBlobs))
            default: values.append(value)
            }
        }
    }

    /// Keeps `text` beside the messages and gives the value that binds it.
    public mutating func keep(_ text: String) -> Value {
        strings.append(text)
        return .string(Int32(strings.count - 1))
    }

    /// Keeps `bytes` beside the messages and gives the value that binds them as a BLOB.
    public mutating func keep(blob bytes: [UInt8]) -> Value {
        blobs.append(bytes)
        return .blob(Int32(blobs.count - 1))
    }

    /// Row `index`'s value for `column`.
    public func value(_ column: ResultColumn, ofRow index: Int) -> Value {
        values[index * ResultColumn.allCases.count + column.rawValue]
    }

    /// The text a value of row `index` binds; nil for other values.
    public func text(_ value: Value, ofRow index: Int) -> String? {
        switch value {
        case .text(let start, let count):
            String(decoding: messages[index][Int(start)..<Int(start + count)], as: UTF8.self)
        case .string(let kept): strings[Int(kept)]
        default: nil
        }
    }

    /// The message row `index` answers (its batch, for an item of a split batch) and its item.
    public func source(ofRow index: Int) -> (origin: BatchOrigin, item: Int64)? {
        guard let topic = text(value(.topic, ofRow: index), ofRow: index),
            case .integer(let partition) = value(.partition, ofRow: index),
            case .integer(let offset) = value(.offset, ofRow: index),
            case .integer(let item) = value(.item, ofRow: index), let partition = Int32(exactly: partition)
        else { return nil }
        return (BatchOrigin(topic: topic, partition: partition, offset: offset), item)
    }

    /// Row `index` as a ``ResultRow`` (`created_at` and `updated_at` nil where the write gives them); nil when a
    /// column a row must have is missing or of another kind.
    public func row(_ index: Int) -> ResultRow? {
        func text(_ column: ResultColumn) -> String? { self.text(value(column, ofRow: index), ofRow: index) }
        func integer(_ column: ResultColumn) -> Int64? {
            if case .integer(let integer) = value(column, ofRow: index) { integer } else { nil }
        }
        guard let (source, item) = source(ofRow: index), let algorithm = text(.algorithm),
            let status = text(.status).flatMap(ResultStatus.init(rawValue:))
        else { return nil }
        var row = ResultRow(
            topic: source.topic, partition: source.partition, offset: source.offset, item: Int(item),
            algorithm: algorithm,
            algorithmVersion: text(.algorithmVersion), key: text(.key), status: status, input: text(.input),
            inputBytes: Int(integer(.inputBytes) ?? 0), output: text(.output), error: text(.error),
            metadata: text(.metadata), outputFile: text(.outputFile), attempts: Int(integer(.attempts) ?? 0),
            durationMilliseconds: 0, messageTimestamp: text(.messageTimestamp), createdAt: text(.createdAt),
            updatedAt: text(.updatedAt))
        if case .double(let duration) = value(.durationMilliseconds, ofRow: index) {
            row.durationMilliseconds = duration
        }
        if case .blob(let kept) = value(.input, ofRow: index) { row.rawInput = blobs[Int(kept)] }
        row.inputHash = text(.inputHash)
        row.cachedFrom = text(.cachedFrom)
        row.traceparent = text(.traceparent)
        row.httpStatus = integer(.httpStatus).map { Int($0) }
        return row
    }

    /// One row's values while they are read from its message; every column starts NULL.
    public struct Builder {
        fileprivate var values = [Value](repeating: .null, count: ResultColumn.allCases.count)

        public init() {}

        public subscript(column: ResultColumn) -> Value {
            get { values[column.rawValue] }
            set { values[column.rawValue] = newValue }
        }

        /// Every column NULL again, for the next row.
        public mutating func clear() {
            for index in values.indices { values[index] = .null }
        }
    }
}
