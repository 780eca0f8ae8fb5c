import Foundation

/// Turns CSV (RFC 4180: a header row, quoted fields, doubled quotes, line breaks inside quotes) into one JSON
/// object per row. Fields that read as numbers or `true`/`false` become those; an empty field becomes null.
struct CSVRecords {
    var header: [String]?

    /// Feeds one physical line; returns a JSON object when a record is complete, nil when more lines are needed
    /// (a quoted field runs on) or the line was the header. Throws on a row with the wrong number of fields.
    mutating func record(from line: String, pending: inout String) throws -> [UInt8]? {
        pending += pending.isEmpty ? line : "\n" + line
        guard pending.filter({ $0 == "\"" }).count % 2 == 0 else { return nil }
        let fields = Self.split(pending)
        pending = ""
        guard let header else {
            self.header = fields.map { $0.trimmingCharacters(in: .whitespaces) }
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
        if let integer = Int(field) { return integer }
        if let double = Double(field), double.isFinite, field.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
            return double
        }
        if field == "true" { return true }
        if field == "false" { return false }
        return field
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

/// A progress line on a terminal (the live line), plain lines every 10 s otherwise.
struct ProgressReporter {
    let total: Int?
    let terminal = LiveLine.isActive
    let clock = ContinuousClock()
    let started = ContinuousClock.now
    var lastShown = ContinuousClock.now

    init(totalBytes: Int?) {
        total = totalBytes
    }

    mutating func update(messages: Int, bytesRead: Int) {
        let now = clock.now
        guard now - lastShown >= (terminal ? .milliseconds(200) : .seconds(10)) else { return }
        lastShown = now
        let elapsed = (now - started).seconds
        let rate = elapsed > 0 ? Double(messages) / elapsed : 0
        var line = "published \(messages) (\(Int(rate))/s)"
        if let total, total > 0, bytesRead > 0 {
            let fraction = min(1, Double(bytesRead) / Double(total))
            let eta = fraction > 0 ? elapsed / fraction - elapsed : 0
            line = LiveLine.bar(fraction) + " " + line + " ETA " + LiveLine.duration(eta)
        }
        if terminal { LiveLine.show(line) } else { printError(line) }
    }

    func finish() {
        LiveLine.clear()
    }
}
