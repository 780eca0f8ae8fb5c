/// Checks that bytes are one well-formed JSON value (RFC 8259), without building it.
///
/// Fast enough for every message on the hot path, and precise in its complaints: the error names the byte
/// offset and what was expected, so an error row tells a person exactly where their input broke.
public enum JSONSyntax {
    /// Why bytes are not JSON.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// Byte offset where the problem was found.
        public var offset: Int
        /// What was wrong there.
        public var reason: String
        public var description: String { "\(reason) at byte \(offset)" }
    }

    /// The deepest nesting of arrays and objects accepted. Default for ``validate(_:maxDepth:)``: 512.
    public static let defaultMaxDepth = 512

    /// Returns normally when `bytes` hold exactly one JSON value (surrounding white space allowed).
    public static func validate(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws(Failure) {
        try bytes.withUnsafeBufferPointer { buffer throws(Failure) in
            var scanner = Scanner(bytes: buffer, maxDepth: maxDepth)
            try scanner.document()
        }
    }

    /// The kind of the top-level value, assuming the bytes are valid JSON: `object`, `array`, `string`,
    /// `number`, `true`, `false` or `null`.
    /// Whether `bytes` hold one JSON document (as ``validate(_:maxDepth:)`` judges), without copying them.
    public static func isValid(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = defaultMaxDepth) -> Bool {
        var scanner = Scanner(bytes: bytes, maxDepth: maxDepth)
        return (try? scanner.document()) != nil
    }

    /// Whether `text` is one JSON document, scanned in place where its UTF-8 is contiguous (a native string).
    public static func isValid(_ text: String) -> Bool {
        text.utf8.withContiguousStorageIfAvailable { isValid($0) } ?? ((try? validate(Array(text.utf8))) != nil)
    }

    public static func topLevelKind(_ bytes: [UInt8]) -> String {
        guard let first = bytes.first(where: { !isWhitespace($0) }) else { return "empty" }
        switch first {
        case UInt8(ascii: "{"): return "object"
        case UInt8(ascii: "["): return "array"
        case UInt8(ascii: "\""): return "string"
        case UInt8(ascii: "t"): return "true"
        case UInt8(ascii: "f"): return "false"
        case UInt8(ascii: "n"): return "null"
        default: return "number"
        }
    }

    /// The byte ranges of the elements of a top-level JSON array, or nil when `bytes` are not one valid array.
    /// The elements' text is kept as sent (no re-encoding). One pass: checked while the elements are found.
    public static func arrayElements(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) -> [Range<Int>]? {
        bytes.withUnsafeBufferPointer { buffer in
            var ranges: [Range<Int>] = []
            let valid = Scanner.wholeDocument(buffer, maxDepth: maxDepth, opening: UInt8(ascii: "[")) {
                (scanner: inout Scanner) throws(Failure) in
                try scanner.array(depth: 1) { ranges.append($0) }
            }
            return valid ? ranges : nil
        }
    }

    /// Walks one top-level JSON object in a single checking pass: `member` gets each member's name as sent (its
    /// byte range, quotes included, escapes unresolved) and its value's byte range, in order. False when `bytes`
    /// are not one valid object (`member` may have seen the members before the fault).
    public static func forEachMember(
        of bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = defaultMaxDepth,
        _ member: (_ name: Range<Int>, _ value: Range<Int>) -> Void
    ) -> Bool {
        Scanner.wholeDocument(bytes, maxDepth: maxDepth, opening: UInt8(ascii: "{")) {
            (scanner: inout Scanner) throws(Failure) in
            try scanner.object(depth: 1, member: member)
        }
    }

    /// Whether `byte` is JSON white space.
    public static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        let maxDepth: Int
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
        }

        func fail(_ reason: String) -> Failure { Failure(offset: index, reason: reason) }

        /// Whether `bytes` are one document whose top-level value opens with `opening` and which `scan` reads
        /// without a fault (white space around it allowed).
        static func wholeDocument(
            _ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int, opening: UInt8,
            _ scan: (inout Scanner) throws(Failure) -> Void
        ) -> Bool {
            var scanner = Scanner(bytes: bytes, maxDepth: maxDepth)
            scanner.skipWhitespace()
            guard scanner.index < bytes.count, bytes[scanner.index] == opening else { return false }
            guard (try? scan(&scanner)) != nil else { return false }
            scanner.skipWhitespace()
            return scanner.index == bytes.count
        }

        mutating func skipWhitespace() {
            while index < bytes.count, JSONSyntax.isWhitespace(bytes[index]) { index += 1 }
        }

        mutating func document() throws(Failure) {
            skipWhitespace()
            guard index < bytes.count else { throw fail("no JSON value (only white space)") }
            try value(depth: 0)
            skipWhitespace()
            guard index == bytes.count else { throw fail("unexpected text after the JSON value") }
        }

        mutating func value(depth: Int) throws(Failure) {
            guard index < bytes.count else { throw fail("unexpected end of input, expected a value") }
            switch bytes[index] {
            case UInt8(ascii: "{"): try object(depth: depth + 1)
            case UInt8(ascii: "["): try array(depth: depth + 1)
            case UInt8(ascii: "\""): try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            default: throw fail("unexpected character '\(Self.printable(bytes[index]))', expected a value")
            }
        }

        mutating func object(depth: Int) throws(Failure) {
            try object(depth: depth, member: { _, _ in })
        }

        /// Scans an object, giving `member` each member's name (quotes included, as sent) and value ranges.
        mutating func object(depth: Int, member: (Range<Int>, Range<Int>) -> Void) throws(Failure) {
            try object(depth: depth) { (scanner: inout Scanner, name: Range<Int>) throws(Failure) in
                let start = scanner.index
                try scanner.value(depth: depth)
                member(name, start..<scanner.index)
            }
        }

        /// Scans an object; `member` scans each member's value itself, given the member's name (quotes included, as
        /// sent), with the scanner at the value's first byte: a caller may look inside a value as it checks it.
        @inline(__always)
        mutating func object(depth: Int, scanningMember member: (inout Scanner, Range<Int>) throws(Failure) -> Void)
            throws(Failure)
        {
            guard depth <= maxDepth else { throw fail("nesting deeper than \(maxDepth) levels") }
            index += 1
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                    throw fail(
                        index < bytes.count ? "expected a quoted member name" : "unexpected end of input in an object")
                }
                let nameStart = index
                try string()
                let name = nameStart..<index
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                    throw fail("expected ':' after a member name")
                }
                index += 1
                skipWhitespace()
                guard index < bytes.count else { throw fail("unexpected end of input, expected a value") }
                try member(&self, name)
                skipWhitespace()
                guard index < bytes.count else { throw fail("unexpected end of input in an object") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return
                } else {
                    throw fail("expected ',' or '}' in an object")
                }
            }
        }

        mutating func array(depth: Int) throws(Failure) {
            try array(depth: depth, element: { _ in })
        }

        /// Scans an array, giving `element` each element's range.
        mutating func array(depth: Int, element: (Range<Int>) -> Void) throws(Failure) {
            try array(depth: depth) { (scanner: inout Scanner) throws(Failure) in
                let start = scanner.index
                try scanner.value(depth: depth)
                element(start..<scanner.index)
            }
        }

        /// Scans an array; `element` scans each element itself, with the scanner at its first byte.
        @inline(__always)
        mutating func array(depth: Int, scanningElement element: (inout Scanner) throws(Failure) -> Void)
            throws(Failure)
        {
            guard depth <= maxDepth else { throw fail("nesting deeper than \(maxDepth) levels") }
            index += 1
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                guard index < bytes.count else { throw fail("unexpected end of input, expected a value") }
                try element(&self)
                skipWhitespace()
                guard index < bytes.count else { throw fail("unexpected end of input in an array") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return
                } else {
                    throw fail("expected ',' or ']' in an array")
                }
            }
        }

        mutating func string() throws(Failure) {
            index += 1
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    return
                } else if byte == UInt8(ascii: "\\") {
                    index += 1
                    guard index < bytes.count else { break }
                    switch bytes[index] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                        UInt8(ascii: "f"),
                        UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        index += 1
                    case UInt8(ascii: "u"):
                        guard index + 4 < bytes.count, (1...4).allSatisfy({ Self.isHex(bytes[index + $0]) }) else {
                            throw fail("bad \\u escape in a string")
                        }
                        index += 5
                    default:
                        throw fail("bad escape '\\\(Self.printable(bytes[index]))' in a string")
                    }
                } else if byte < 0x20 {
                    throw fail("control character in a string (escape it)")
                } else {
                    index += 1
                }
            }
            throw fail("unterminated string")
        }

        mutating func literal(_ word: StaticString) throws(Failure) {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count,
                (0..<count).allSatisfy({ bytes[index + $0] == word.utf8Start[$0] })
            else { throw fail("unexpected character '\(Self.printable(bytes[index]))', expected a value") }
            index += count
        }

        mutating func number() throws(Failure) {
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, Self.isDigit(bytes[index]) else { throw fail("expected a digit in a number") }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard index < bytes.count, Self.isDigit(bytes[index]) else { throw fail("expected a digit after '.'") }
                while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                guard index < bytes.count, Self.isDigit(bytes[index]) else {
                    throw fail("expected a digit in an exponent")
                }
                while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
            }
        }

        static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

        static func isHex(_ byte: UInt8) -> Bool {
            isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
        }

        static func printable(_ byte: UInt8) -> String {
            byte >= 0x20 && byte < 0x7F ? String(UnicodeScalar(byte)) : "0x" + String(byte, radix: 16, uppercase: true)
        }
    }
}
