import AlgoqueueStore
import Foundation
import Logging
import Synchronization

/// One line per event on standard error: `2026-11-21T17:40:00.123Z info algoqueue: message key=value`.
/// Under systemd (journald sets `JOURNAL_STREAM`) lines start with the syslog priority instead (`<6>message
/// key=value`), so `journalctl -p warning` filters by level and no timestamp is repeated.
struct LineLogHandler: LogHandler {
    static let journal = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] != nil
    static let output = Mutex(())

    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    init(label: String, level: Logger.Level) {
        self.label = label
        logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        let pairs = fields.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.quoted("\($0.value)"))" }
        let text = ([event.message.description.replacingOccurrences(of: "\n", with: " ")] + pairs).joined(
            separator: " ")
        let line =
            Self.journal
            ? "<\(Self.priority(event.level))>\(text)\n"
            : "\(Timestamp.now()) \(event.level) \(label): \(text)\n"
        Self.output.withLock { _ in LiveLine.writeAbove(line) }
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    static func quoted(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\n" }) else {
            return value
        }
        return "\""
            + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}
