import Foundation

extension JSONSyntax {
    /// The members of a top-level JSON object, in order: each name (unescaped) with the byte range of its value,
    /// kept as sent. Nil when `bytes` are not one valid object. One pass: checked while the members are found.
    public static func objectMembers(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) -> [(
        name: String, value: Range<Int>
    )]? {
        bytes.withUnsafeBufferPointer { buffer in
            var members: [(name: String, value: Range<Int>)] = []
            let valid = forEachMember(of: buffer, maxDepth: maxDepth) { name, value in
                members.append((stringValue(UnsafeBufferPointer(rebasing: buffer[name])) ?? "", value))
            }
            return valid ? members : nil
        }
    }

    /// JSON text without the whitespace around it (space, tab, line feed, carriage return: all JSON allows there),
    /// trimmed on the bytes; Foundation's `trimmingCharacters` cost more than the rest of a fast call's answer.
    public static func trimmedText(_ bytes: [UInt8]) -> String {
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }

    /// The entries of the array that is member `name` of a top-level object (the first such member), in one checking
    /// pass over the whole document: each entry that is an object as its members (names unescaped, value ranges in
    /// `bytes`), any other entry as nil. Nil when `bytes` are not one valid object or have no member `name` whose
    /// value is an array.
    public static func objectEntries(ofMember name: String, in bytes: [UInt8], maxDepth: Int = defaultMaxDepth)
        -> [[(name: String, value: Range<Int>)]?]?
    {
        bytes.withUnsafeBufferPointer { buffer in
            var entries: [[(name: String, value: Range<Int>)]?]?
            let (openArray, openObject) = (UInt8(ascii: "["), UInt8(ascii: "{"))
            let valid = Scanner.wholeDocument(buffer, maxDepth: maxDepth, opening: openObject) {
                (scanner: inout Scanner) throws(Failure) in
                try scanner.object(depth: 1) { (scanner: inout Scanner, member: Range<Int>) throws(Failure) in
                    guard entries == nil, buffer[scanner.index] == openArray,
                        stringValue(UnsafeBufferPointer(rebasing: buffer[member])) == name
                    else { return try scanner.value(depth: 1) }
                    var list: [[(name: String, value: Range<Int>)]?] = []
                    try scanner.array(depth: 2) { (scanner: inout Scanner) throws(Failure) in
                        guard buffer[scanner.index] == openObject else {
                            list.append(nil)
                            return try scanner.value(depth: 2)
                        }
                        var members: [(name: String, value: Range<Int>)] = []
                        try scanner.object(depth: 3) { name, value in
                            members.append((stringValue(UnsafeBufferPointer(rebasing: buffer[name])) ?? "", value))
                        }
                        list.append(members)
                    }
                    entries = list
                }
            }
            return valid ? entries : nil
        }
    }

    /// The value of member `name` of a top-level object, as sent; nil when absent or not an object.
    public static func member(_ name: String, of bytes: [UInt8]) -> ArraySlice<UInt8>? {
        guard let range = objectMembers(bytes)?.first(where: { $0.name == name })?.value else { return nil }
        return bytes[range]
    }

    /// The text of a JSON string value (escapes resolved); nil when `bytes` are not one JSON string.
    ///
    /// A string without escapes, which is nearly every member name and most values, is its bytes as they are
    /// (checked: quoted, no quote, backslash or control character inside, valid UTF-8); only the others go
    /// through `JSONDecoder`, which cost most of a micro-batch answer's handling when every name went there.
    /// Scanned in place through the buffer (the generic form, unspecialized across modules, was a fifth of
    /// `collect`'s time).
    public static func stringValue(_ buffer: UnsafeBufferPointer<UInt8>) -> String? {
        if let plain = unescapedString(buffer) {
            return plain.ascii ? String(decoding: plain.inner, as: UTF8.self) : validUTF8(plain.inner)
        }
        return try? JSONDecoder().decode(String.self, from: Data(buffer))
    }

    /// Whether `buffer` is a JSON string whose text is its bytes between the quotes: ASCII, with no escape.
    public static func isPlainASCIIString(_ buffer: UnsafeBufferPointer<UInt8>) -> Bool {
        unescapedString(buffer)?.ascii == true
    }

    /// For a quoted string with no quote, backslash or control character inside: the bytes between the quotes and
    /// whether they are all ASCII. Nil for anything else (an escape to resolve, or not one string).
    static func unescapedString(_ buffer: UnsafeBufferPointer<UInt8>) -> (
        inner: UnsafeBufferPointer<UInt8>, ascii: Bool
    )? {
        let quote = UInt8(ascii: "\"")
        guard buffer.count >= 2, buffer[0] == quote, buffer[buffer.count - 1] == quote else { return nil }
        let inner = UnsafeBufferPointer(rebasing: buffer[1..<(buffer.count - 1)])
        var ascii = true
        for byte in inner {
            if byte == quote || byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
            if byte >= 0x80 { ascii = false }
        }
        return (inner, ascii)
    }

    /// The text of `bytes` when they are valid UTF-8. `String(validating:as:)` is generic over the encoding and made
    /// its type metadata again on every call (a tenth of a row message's parse); decoding repairs what is not valid
    /// UTF-8, so the bytes are valid exactly when the decoded text has the same bytes.
    static func validUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var text = String(decoding: bytes, as: UTF8.self)
        let same = text.withUTF8 { utf8 in
            utf8.count == bytes.count
                && (bytes.isEmpty || memcmp(utf8.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
        }
        return same ? text : nil
    }

    /// ``stringValue(_:)-(UnsafeBufferPointer<UInt8>)`` for a slice of an array.
    public static func stringValue(_ bytes: ArraySlice<UInt8>) -> String? {
        bytes.withUnsafeBufferPointer { stringValue($0) }
    }

    /// ``stringValue(_:)-(UnsafeBufferPointer<UInt8>)`` for any bytes (copied when not contiguous).
    public static func stringValue<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String? {
        bytes.withContiguousStorageIfAvailable { stringValue($0) } ?? stringValue(Array(bytes)[...])
    }
}
