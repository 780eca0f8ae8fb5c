import Foundation

/// ISO 8601 UTC timestamps with milliseconds, as the store writes them (`2026-11-21T16:35:00.123Z`):
/// they sort as text and SQLite's date functions read them.
public enum Timestamp {
    /// The timestamp for `date`.
    public static func iso8601(_ date: Date) -> String {
        iso8601(milliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// The timestamp for milliseconds since the Unix epoch.
    public static func iso8601(milliseconds: Int64) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(milliseconds % 1000), 3))Z"
    }

    /// Now.
    public static func now() -> String { iso8601(Date()) }
}
