import AlgoqueueStore
import AlgoqueueSupport
import Foundation

extension ResultMessage {
    /// The members of a row message that `row(_:)` reads, in the order `jsonBytes` writes them.
    package enum Field: Int, CaseIterable {
        case topic, partition, offset, item, algorithm, algorithmVersion, key, status, output, outputText, error
        case metadata, metadataText, outputFile, attempts, durationMilliseconds, createdAt, updatedAt
        case messageTimestamp, inputBytes, inputHash, cachedFrom, traceparent, httpStatus, inputBase64, input
        case inputText

        /// The member's name, quotes included, as a row message has it.
        var quotedName: [UInt8] { Array("\"\(name)\"".utf8) }

        /// The one place each name is written: ``ResultMessage/jsonBytes(_:)`` writes it, ``row(_:)`` reads it.
        var name: StaticString {
            switch self {
            case .topic: "topic"
            case .partition: "partition"
            case .offset: "offset"
            case .item: "item"
            case .algorithm: "algorithm"
            case .algorithmVersion: "algorithm_version"
            case .key: "key"
            case .status: "status"
            case .output: "output"
            case .outputText: "output_text"
            case .error: "error"
            case .metadata: "metadata"
            case .metadataText: "metadata_text"
            case .outputFile: "output_file"
            case .attempts: "attempts"
            case .durationMilliseconds: "duration_ms"
            case .createdAt: "created_at"
            case .updatedAt: "updated_at"
            case .messageTimestamp: "message_timestamp"
            case .inputBytes: "input_bytes"
            case .inputHash: "input_hash"
            case .cachedFrom: "cached_from"
            case .traceparent: "traceparent"
            case .httpStatus: "http_status"
            case .inputBase64: "input_base64"
            case .input: "input"
            case .inputText: "input_text"
            }
        }

        static let quotedNames = allCases.map(\.quotedName)
    }

    /// The row a results-topic message carries; nil when the value is not such a row.
    ///
    /// One checking pass over the message finds each member's value; a member is matched to its field by comparing
    /// name bytes, trying the field after the last one matched first (a row message lists them in that order).
    /// Names sent with escapes, and members a row does not have, are passed over.
    public static func row(_ value: [UInt8]) -> ResultRow? {
        var rows = MessageRows()
        var row = MessageRows.Builder()
        guard append(value, to: &rows, using: &row) else { return nil }
        return rows.row(0)
    }

    /// Adds the row a results-topic message carries to `rows`, its text left in the message where it needs no
    /// decoding; false (and nothing added) when the value is not such a row. `row` is scratch space, reused from one
    /// message to the next.
    public static func append(_ value: [UInt8], to rows: inout MessageRows, using row: inout MessageRows.Builder)
        -> Bool
    {
        // The value ranges found are kept on the stack: an array made for each message was an allocation and its
        // generic metadata looked up each time.
        let read = withUnsafeTemporaryAllocation(of: Range<Int>?.self, capacity: Field.allCases.count) { found in
            found.initialize(repeating: nil)
            return value.withUnsafeBufferPointer { buffer in
                guard members(buffer, found: found) else { return false }
                return RowFields(buffer: buffer, found: UnsafeBufferPointer(found)).read(into: &row, keeping: &rows)
            }
        }
        if read { rows.append(message: value, row) }
        return read
    }

    /// Finds each member's value: a member is matched to its field by comparing name bytes, trying the field after
    /// the last one matched first (a row message lists them in that order). False when `buffer` is not one object.
    private static func members(_ buffer: UnsafeBufferPointer<UInt8>, found: UnsafeMutableBufferPointer<Range<Int>?>)
        -> Bool
    {
        var next = 0
        let names = Field.quotedNames
        return JSONSyntax.forEachMember(of: buffer) { name, value in
            let bytes = UnsafeBufferPointer(rebasing: buffer[name])
            for step in 0..<names.count {
                let candidate = (next + step) % names.count
                if Self.same(names[candidate], bytes) {
                    found[candidate] = value
                    next = candidate + 1
                    return
                }
            }
        }
    }
}

extension ResultMessage {
    /// Byte equality by `memcmp` (the generic `elementsEqual` was a tenth of `collect`'s time).
    package static func same(_ name: [UInt8], _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        name.count == bytes.count
            && name.withUnsafeBufferPointer { memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }
    }

    package static let null = Array("null".utf8)
}

/// The values one row message holds, read from its bytes in place.
package struct RowFields {
    package let buffer: UnsafeBufferPointer<UInt8>
    package let found: UnsafeBufferPointer<Range<Int>?>

    /// A member's value as sent; nil when absent or JSON `null`.
    package func raw(_ field: ResultMessage.Field) -> UnsafeBufferPointer<UInt8>? {
        guard let range = found[field.rawValue] else { return nil }
        let bytes = UnsafeBufferPointer(rebasing: buffer[range])
        if ResultMessage.same(ResultMessage.null, bytes) { return nil }
        return bytes
    }

    package func string(_ field: ResultMessage.Field) -> String? { raw(field).flatMap(JSONSyntax.stringValue) }

    /// A string member as a value to bind: its bytes between the quotes where they are its text (ASCII, no escape),
    /// else its decoded text kept in `rows`; nil when absent, `null` or not a string.
    func text(_ field: ResultMessage.Field, keeping rows: inout MessageRows) -> MessageRows.Value? {
        guard let bytes = raw(field) else { return nil }
        if JSONSyntax.isPlainASCIIString(bytes), let range = found[field.rawValue] {
            return .text(start: Int32(range.lowerBound + 1), count: Int32(range.count - 2))
        }
        return JSONSyntax.stringValue(bytes).map { rows.keep($0) }
    }

    /// Embedded JSON as its text (in place where it is ASCII; other bytes are decoded, invalid UTF-8 repaired), or
    /// the `_text` string.
    func embedded(_ field: ResultMessage.Field, _ textField: ResultMessage.Field, keeping rows: inout MessageRows)
        -> MessageRows.Value?
    {
        guard let bytes = raw(field), let range = found[field.rawValue] else {
            return text(textField, keeping: &rows)
        }
        if bytes.allSatisfy({ $0 < 0x80 }) {
            return .text(start: Int32(range.lowerBound), count: Int32(range.count))
        }
        return rows.keep(String(decoding: bytes, as: UTF8.self))
    }

    /// A JSON integer, read from its digits (no text made of it first).
    package func integer(_ field: ResultMessage.Field) -> Int64? {
        guard let bytes = raw(field), !bytes.isEmpty else { return nil }
        var index = 0
        let negative = bytes[0] == UInt8(ascii: "-")
        if negative { index = 1 }
        guard index < bytes.count else { return nil }
        var value: Int64 = 0
        while index < bytes.count {
            let digit = bytes[index] &- UInt8(ascii: "0")
            let (tens, overflow) = value.multipliedReportingOverflow(by: 10)
            guard digit < 10, !overflow, tens <= Int64.max - Int64(digit) else { return nil }
            value = tens + Int64(digit)
            index += 1
        }
        return negative ? -value : value
    }

    package func double(_ field: ResultMessage.Field) -> Double? {
        raw(field).flatMap { Self.plainDecimal($0) ?? Double(String(decoding: $0, as: UTF8.self)) }
    }

    /// A decimal such as `12.345` with at most 15 digits and no exponent, exactly as `strtod` reads it: the digits
    /// and the power of ten are both exact doubles, and one division rounds correctly (a third of the parse went
    /// to `strtod` before). Nil for any other form, which `Double(String)` reads.
    package static func plainDecimal(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        var index = 0
        let negative = !bytes.isEmpty && bytes[0] == UInt8(ascii: "-")
        if negative { index = 1 }
        var digits: UInt64 = 0
        var count = 0
        var fraction = -1
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "."), fraction < 0 {
                fraction = 0
            } else if byte &- UInt8(ascii: "0") < 10, count < 15 {
                digits = digits * 10 + UInt64(byte &- UInt8(ascii: "0"))
                count += 1
                if fraction >= 0 { fraction += 1 }
            } else {
                return nil
            }
            index += 1
        }
        guard count > 0, fraction != 0 else { return nil }
        let value = Double(digits) / Self.powersOfTen[max(fraction, 0)]
        return negative ? -value : value
    }

    package static let powersOfTen: [Double] = (0...15).map { exponent in
        (0..<exponent).reduce(1.0) { product, _ in product * 10 }
    }

    /// Reads the row into `row`, every column, keeping decoded text and bytes in `rows`; false when the message
    /// lacks what a row must have (its coordinates, algorithm and status).
    func read(into row: inout MessageRows.Builder, keeping rows: inout MessageRows) -> Bool {
        // (Text kept before a later check fails stays in `rows`, unused.)
        guard let partition = integer(.partition), Int32(exactly: partition) != nil, let offset = integer(.offset),
            let item = integer(.item), Int(exactly: item) != nil,
            string(.status).flatMap(ResultStatus.init(rawValue:)) != nil, let status = text(.status, keeping: &rows),
            let topic = text(.topic, keeping: &rows), let algorithm = text(.algorithm, keeping: &rows)
        else { return false }
        row.clear()
        row[.topic] = topic
        row[.partition] = .integer(partition)
        row[.offset] = .integer(offset)
        row[.item] = .integer(item)
        row[.algorithm] = algorithm
        row[.algorithmVersion] = text(.algorithmVersion, keeping: &rows) ?? .null
        row[.key] = text(.key, keeping: &rows) ?? .null
        row[.status] = status
        // The input's text, else its exact bytes.
        if let input = embedded(.input, .inputText, keeping: &rows) {
            row[.input] = input
        } else if let base64 = string(.inputBase64), let data = Data(base64Encoded: base64) {
            row[.input] = rows.keep(blob: Array(data))
        }
        row[.inputBytes] = .integer(integer(.inputBytes) ?? 0)
        row[.output] = embedded(.output, .outputText, keeping: &rows) ?? .null
        row[.error] = text(.error, keeping: &rows) ?? .null
        row[.metadata] = embedded(.metadata, .metadataText, keeping: &rows) ?? .null
        row[.outputFile] = text(.outputFile, keeping: &rows) ?? .null
        row[.attempts] = .integer(integer(.attempts) ?? 0)
        row[.durationMilliseconds] = .double(double(.durationMilliseconds) ?? 0)
        row[.messageTimestamp] = text(.messageTimestamp, keeping: &rows) ?? .null
        row[.createdAt] = text(.createdAt, keeping: &rows) ?? .now
        row[.updatedAt] = text(.updatedAt, keeping: &rows) ?? .now
        row[.inputHash] = text(.inputHash, keeping: &rows) ?? .null
        row[.cachedFrom] = text(.cachedFrom, keeping: &rows) ?? .null
        row[.traceparent] = text(.traceparent, keeping: &rows) ?? .null
        row[.httpStatus] = integer(.httpStatus).map { .integer($0) } ?? .null
        return true
    }
}
