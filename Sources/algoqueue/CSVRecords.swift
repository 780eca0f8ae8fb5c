import AlgoqueueAlgorithms
import AlgoqueueSupport
import Foundation

/// Turns CSV (RFC 4180: a header row, quoted fields, doubled quotes, line breaks inside quotes) into one JSON
/// object per row. Fields written as JSON numbers or `true`/`false` become those (`007` and `+5` stay text, so
/// identifiers keep their leading zeros); an empty field becomes null.
struct CSVRecords {
    var header: [String]?
    /// Whether the record read so far ends inside a quoted field: its quotes are counted line by line, once each.
    var insideQuotes = false

    /// A header that cannot name the fields of a JSON object: nothing of the file can be published.
    struct HeaderError: Error, CustomStringConvertible {
        var description: String
    }

    /// Feeds one physical line; returns a JSON object when a record is complete, nil when more lines are needed
    /// (a quoted field runs on) or the line was the header. Throws on a row with the wrong number of fields, and
    /// a ``HeaderError`` for a header that names a column twice.
    mutating func record(from line: String, pending: inout String) throws -> [UInt8]? {
        pending += pending.isEmpty ? line : "\n" + line
        if line.utf8.reduce(0, { $0 + ($1 == UInt8(ascii: "\"") ? 1 : 0) }) % 2 == 1 { insideQuotes.toggle() }
        guard !insideQuotes else { return nil }
        let fields = Self.split(pending)
        pending = ""
        guard let header else {
            let names = fields.map { $0.trimmingCharacters(in: .whitespaces) }
            var seen: [String: Int] = [:]
            for (column, name) in names.enumerated() {
                if let earlier = seen[name] {
                    throw HeaderError(
                        description:
                            "the header names column \"\(name)\" twice (columns \(earlier + 1) and \(column + 1)); "
                            + "rename one so that no field is lost")
                }
                seen[name] = column
            }
            self.header = names
            return nil
        }
        guard fields.count == header.count else {
            throw ValidationErrorText("has \(fields.count) field(s) where the header has \(header.count)")
        }
        var object: [String: Any] = [:]
        for (name, field) in zip(header, fields) { object[name] = Self.value(field) }
        return Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    static func value(_ field: String) -> Any {
        if field.isEmpty { return NSNull() }
        if isJSONNumber(field) {
            if let integer = Int(field) { return integer }
            // An integer too large for 64 bits stays text rather than lose digits as a double.
            if field.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let double = Double(field),
                double.isFinite
            {
                return double
            }
        }
        if field == "true" { return true }
        if field == "false" { return false }
        return field
    }

    /// Whether `field` is written as a JSON number (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`), by the
    /// project's JSON parser.
    static func isJSONNumber(_ field: String) -> Bool {
        let bytes = Array(field.utf8)
        return JSONSyntax.topLevelKind(bytes) == "number" && (try? JSONSyntax.validate(bytes)) != nil
    }

    static func split(_ record: String) -> [String] {
        var fields: [String] = []
        var field = ""
        var quoted = false
        var iterator = Array(record).makeIterator()
        var previousWasQuote = false
        while let character = iterator.next() {
            if quoted {
                if character == "\"" {
                    quoted = false
                    previousWasQuote = true
                } else {
                    field.append(character)
                }
                continue
            }
            switch character {
            case "\"":
                if previousWasQuote { field.append("\"") }
                quoted = true
            case ",":
                fields.append(field)
                field = ""
            default:
                field.append(character)
            }
            previousWasQuote = false
        }
        fields.append(field)
        return fields
    }
}
