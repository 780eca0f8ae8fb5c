import Foundation

/// ISO 8601 UTC timestamps with milliseconds, as the store writes them (`2026-11-21T16:35:00.123Z`):
/// they sort as text and SQLite's date functions read them.
public enum Timestamp {
    /// The timestamp for `date`.
    public static func iso8601(_ date: Date) -> String {
        iso8601(milliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// The timestamp for milliseconds since the Unix epoch. Written digit by digit into 24 bytes: it runs for
    /// every row (a formatted string per part cost 2.6% of a micro-batch run's CPU).
    public static func iso8601(milliseconds: Int64) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let fraction = Int32(milliseconds % 1000)
        return String(unsafeUninitializedCapacity: 24) { buffer in
            var index = 0
            func put(_ value: Int32, _ width: Int) {
                var value = value
                for position in stride(from: index + width - 1, through: index, by: -1) {
                    buffer[position] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
                index += width
            }
            func put(_ character: Unicode.Scalar) {
                buffer[index] = UInt8(ascii: character)
                index += 1
            }
            put(parts.tm_year + 1900, 4)
            put("-")
            put(parts.tm_mon + 1, 2)
            put("-")
            put(parts.tm_mday, 2)
            put("T")
            put(parts.tm_hour, 2)
            put(":")
            put(parts.tm_min, 2)
            put(":")
            put(parts.tm_sec, 2)
            put(".")
            put(fraction, 3)
            put("Z")
            return index
        }
    }

    /// Now.
    public static func now() -> String { iso8601(Date()) }
}
