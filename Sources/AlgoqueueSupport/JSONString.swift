/// Text as a JSON string literal, for the small JSON documents algoqueue writes itself.
public enum JSONString {
    /// `text` quoted and escaped (quotes, backslashes and control characters).
    public static func quoted(_ text: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 2)
        JSONObjectBytes.appendQuoted(text, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
