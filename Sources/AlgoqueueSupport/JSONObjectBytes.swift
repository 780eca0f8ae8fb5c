/// A JSON object written straight into bytes, member by member, for documents algoqueue writes many of (a
/// results-topic message per row): no intermediate strings, one buffer. Names are written as given (they are
/// algoqueue's own, plain ASCII); text values are quoted and escaped byte by byte.
public struct JSONObjectBytes {
    /// The object so far; ``finish()`` closes it.
    public private(set) var bytes: [UInt8]
    private var empty = true

    /// Starts an object in a buffer of `capacity` bytes.
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    private mutating func name(_ name: StaticString) {
        if !empty { bytes.append(UInt8(ascii: ",")) }
        empty = false
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// `"name":` followed by `json`, which must be a JSON value already.
    public mutating func raw(_ name: StaticString, _ json: some Collection<UInt8>) {
        self.name(name)
        bytes.append(contentsOf: json)
    }

    /// `"name":"text"` (escaped), or `null`.
    public mutating func string(_ name: StaticString, _ text: String?) {
        self.name(name)
        guard let text else { return bytes.append(contentsOf: Self.null) }
        Self.appendQuoted(text, to: &bytes)
    }

    /// `"name":N`.
    public mutating func integer(_ name: StaticString, _ value: some BinaryInteger) {
        self.name(name)
        Self.appendDecimal(Int64(value), to: &bytes)
    }

    /// `value` in decimal digits, written straight into `bytes` (no String in between: a results-topic message
    /// has about eight integers, in its value, key and headers).
    public static func appendDecimal(_ value: Int64, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        // The magnitude as unsigned: Int64.min has no positive Int64.
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes, enough for 20 digits
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[23 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            bytes.append(contentsOf: buffer[(24 - count)...])
        }
    }

    /// The object, closed.
    public mutating func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// `null`, for ``raw(_:_:)``.
    public static let nullValue = Array("null".utf8)
    static let null = nullValue
    private static let hex = Array("0123456789abcdef".utf8)

    /// Appends `text` as a JSON string literal: quotes, backslashes and control characters escaped, every other byte
    /// of its UTF-8 as it is.
    public static func appendQuoted(_ text: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            var start = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                start = index + 1
                switch byte {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                default:
                    bytes.append(contentsOf: Array("\\u00".utf8))
                    bytes.append(contentsOf: [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
