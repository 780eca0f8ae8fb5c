import Foundation

extension JSONSyntax {
    /// The members of a top-level JSON object, in order: each name (unescaped) with the byte range of its value,
    /// kept as sent. Nil when `bytes` are not one valid object.
    public static func objectMembers(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) -> [(
        name: String, value: Range<Int>
    )]? {
        guard (try? validate(bytes, maxDepth: maxDepth)) != nil, topLevelKind(bytes) == "object" else { return nil }
        return bytes.withUnsafeBufferPointer { buffer in
            var scanner = Scanner(bytes: buffer, maxDepth: maxDepth)
            scanner.skipWhitespace()
            scanner.index += 1  // {
            var members: [(name: String, value: Range<Int>)] = []
            scanner.skipWhitespace()
            if buffer[scanner.index] == UInt8(ascii: "}") { return members }
            while true {
                scanner.skipWhitespace()
                let nameStart = scanner.index
                try? scanner.string()
                let name = memberName(UnsafeBufferPointer(rebasing: buffer[nameStart..<scanner.index]))
                scanner.skipWhitespace()
                scanner.index += 1  // :
                scanner.skipWhitespace()
                let start = scanner.index
                try? scanner.value(depth: 1)
                members.append((name, start..<scanner.index))
                scanner.skipWhitespace()
                if buffer[scanner.index] == UInt8(ascii: "}") { return members }
                scanner.index += 1  // ,
            }
        }
    }

    /// A member name (a JSON string, quotes included): its bytes as they are when it has no escape, which is
    /// nearly always; otherwise decoded.
    static func memberName(_ quoted: UnsafeBufferPointer<UInt8>) -> String {
        guard quoted.count >= 2 else { return "" }
        if !quoted.contains(UInt8(ascii: "\\")) {
            return String(decoding: UnsafeBufferPointer(rebasing: quoted[1..<(quoted.count - 1)]), as: UTF8.self)
        }
        return stringValue(Array(quoted)) ?? ""
    }

    /// JSON text without the whitespace around it (space, tab, line feed, carriage return: all JSON allows there),
    /// trimmed on the bytes; Foundation's `trimmingCharacters` cost more than the rest of a fast call's answer.
    public static func trimmedText(_ bytes: [UInt8]) -> String {
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }

    /// The value of member `name` of a top-level object, as sent; nil when absent or not an object.
    public static func member(_ name: String, of bytes: [UInt8]) -> ArraySlice<UInt8>? {
        guard let range = objectMembers(bytes)?.first(where: { $0.name == name })?.value else { return nil }
        return bytes[range]
    }

    /// The text of a JSON string value (escapes resolved); nil when `bytes` are not one JSON string.
    public static func stringValue<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String? {
        try? JSONDecoder().decode(String.self, from: Data(bytes))
    }
}
