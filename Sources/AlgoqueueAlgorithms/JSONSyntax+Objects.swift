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
                let name = stringValue(Array(buffer[nameStart..<scanner.index])) ?? ""
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
