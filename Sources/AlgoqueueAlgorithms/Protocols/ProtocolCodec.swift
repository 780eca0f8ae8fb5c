import AlgoqueueSupport

/// How one protocol turns inputs into a request body and an answer back into one output per input.
protocol ProtocolCodec: Sendable {
    /// The request body carrying `inputs` (each one JSON value, as sent), in order.
    func request(_ inputs: [[UInt8]]) throws(ProtocolMismatch) -> [UInt8]
    /// One output per input (JSON text, in order) and what the answer said about the call (JSON text, kept as
    /// the rows' metadata), or why the answer does not fit the protocol.
    func outputs(_ answer: [UInt8], count: Int) -> Result<(outputs: [String], metadata: String?), ProtocolMismatch>
}

/// An input the protocol cannot carry, or an answer that is not the protocol's shape.
struct ProtocolMismatch: Error, Equatable {
    /// What was expected (`{"predictions": [...]}` with 3 entries).
    var expected: String
    /// What came instead, in words (`an object without "predictions"`).
    var got: String
}

/// Reading and writing JSON by its bytes, keeping numbers and strings exactly as sent.
enum JSONBytes {
    /// The elements of a JSON list, as sent; nil when `bytes` are not a list.
    static func elements<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> [[UInt8]]? {
        let array = Array(bytes)
        return JSONSyntax.arrayElements(array).map { $0.map { Array(array[$0]) } }
    }

    /// Member `name` of a JSON object, as sent; nil when absent or not an object.
    static func member<Bytes: Collection<UInt8>>(_ name: String, of bytes: Bytes) -> [UInt8]? {
        JSONSyntax.member(name, of: Array(bytes)).map(Array.init)
    }

    /// The value at an RFC 6901 pointer (`/choices/0/message/content`; empty: the whole document).
    static func value(at pointer: String, in bytes: [UInt8]) -> [UInt8]? {
        guard !pointer.isEmpty else { return bytes }
        guard pointer.hasPrefix("/") else { return nil }
        var current = bytes
        for raw in pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            let token = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if let elements = elements(current) {
                guard let index = Int(token), elements.indices.contains(index) else { return nil }
                current = elements[index]
            } else if let value = member(token, of: current) {
                current = value
            } else {
                return nil
            }
        }
        return current
    }

    /// A JSON list of these values.
    static func list(_ values: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        bytes.reserveCapacity(values.reduce(2) { $0 + $1.count + 1 })
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes += value
        }
        bytes.append(UInt8(ascii: "]"))
        return bytes
    }

    /// A JSON object of these members (names quoted here; values as given), in order.
    static func object(_ members: [(String, [UInt8])]) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        for (index, (name, value)) in members.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes += Array(JSONString.quoted(name).utf8)
            bytes.append(UInt8(ascii: ":"))
            bytes += value
        }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// A JSON string.
    static func string(_ text: String) -> [UInt8] { Array(JSONString.quoted(text).utf8) }

    /// What kind of JSON value `bytes` are, in words, and their first bytes, for an error message.
    static func describe(_ bytes: [UInt8]) -> String {
        let kind = JSONSyntax.topLevelKind(bytes)
        let text = String(decoding: bytes.prefix(120), as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
        return "\(kind == "invalid" ? "not JSON" : "a JSON \(kind)"): \(text)\(bytes.count > 120 ? "…" : "")"
    }
}
