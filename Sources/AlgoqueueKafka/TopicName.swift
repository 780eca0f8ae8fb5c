/// Kafka's rules for topic names.
public enum TopicName {
    /// Why `name` cannot be a Kafka topic, or nil when it can: 1 to 249 characters of ASCII letters, digits,
    /// `.`, `_` and `-`, and not `.` or `..`.
    public static func problem(_ name: String) -> String? {
        if name.isEmpty { return "a topic name cannot be empty" }
        if name == "." || name == ".." { return "\"\(name)\" cannot be a topic name" }
        if name.utf8.count > 249 { return "a topic name has at most 249 characters (this one has \(name.utf8.count))" }
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2E || byte == 0x5F || byte == 0x2D
        }
        if !allowed { return "\"\(name)\" is not a valid topic name: use only letters, digits, '.', '_' and '-'" }
        return nil
    }
}
