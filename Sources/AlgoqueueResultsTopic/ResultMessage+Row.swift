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
        value.withUnsafeBufferPointer { buffer in
            var found = [Range<Int>?](repeating: nil, count: Field.allCases.count)
            var next = 0
            let names = Field.quotedNames
            let valid = JSONSyntax.forEachMember(of: buffer) { name, value in
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
            guard valid else { return nil }
            return RowFields(buffer: buffer, found: found).row()
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
    package let found: [Range<Int>?]

    /// A member's value as sent; nil when absent or JSON `null`.
    package func raw(_ field: ResultMessage.Field) -> UnsafeBufferPointer<UInt8>? {
        guard let range = found[field.rawValue] else { return nil }
        let bytes = UnsafeBufferPointer(rebasing: buffer[range])
        if ResultMessage.same(ResultMessage.null, bytes) { return nil }
        return bytes
    }

    package func string(_ field: ResultMessage.Field) -> String? { raw(field).flatMap(JSONSyntax.stringValue) }

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

    /// Embedded JSON as its text, or the `_text` string.
    package func embedded(_ field: ResultMessage.Field, _ textField: ResultMessage.Field) -> String? {
        if let bytes = raw(field) { return String(decoding: bytes, as: UTF8.self) }
        return string(textField)
    }

    package func row() -> ResultRow? {
        guard let topic = string(.topic), let partition = integer(.partition).flatMap({ Int32(exactly: $0) }),
            let offset = integer(.offset), let item = integer(.item).flatMap({ Int(exactly: $0) }),
            let algorithm = string(.algorithm), let status = string(.status).flatMap(ResultStatus.init(rawValue:))
        else { return nil }
        var row = ResultRow(
            topic: topic, partition: partition, offset: offset, item: item, algorithm: algorithm,
            algorithmVersion: string(.algorithmVersion), key: string(.key), status: status,
            input: embedded(.input, .inputText), inputBytes: integer(.inputBytes).map { Int($0) } ?? 0,
            output: embedded(.output, .outputText), error: string(.error),
            metadata: embedded(.metadata, .metadataText), outputFile: string(.outputFile),
            attempts: integer(.attempts).map { Int($0) } ?? 0,
            durationMilliseconds: double(.durationMilliseconds) ?? 0,
            messageTimestamp: string(.messageTimestamp), createdAt: string(.createdAt),
            updatedAt: string(.updatedAt))
        if let base64 = string(.inputBase64), let data = Data(base64Encoded: base64) { row.rawInput = Array(data) }
        row.inputHash = string(.inputHash)
        row.cachedFrom = string(.cachedFrom)
        row.traceparent = string(.traceparent)
        row.httpStatus = integer(.httpStatus).map { Int($0) }
        return row
    }
}
