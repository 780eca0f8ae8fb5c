/// `--kafka-property name=value` flags (run, publish).
enum KafkaPropertyFlags {
    /// The properties the flags give (a later one wins), and a problem for each flag that is not `name=value`.
    static func parse(_ flags: [String]) -> (properties: [String: String], problems: [String]) {
        var properties: [String: String] = [:]
        var problems: [String] = []
        for flag in flags {
            guard let equals = flag.firstIndex(of: "=") else {
                problems.append("\"\(flag)\" is not of the form name=value")
                continue
            }
            properties[String(flag[..<equals])] = String(flag[flag.index(after: equals)...])
        }
        return (properties, problems)
    }
}
