import Foundation

extension Duration {
    /// The duration in whole milliseconds (rounded down).
    public var milliseconds: Int64 {
        let parts = components
        return parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
    }

    /// The duration in whole nanoseconds.
    public var nanoseconds: Int64 {
        let parts = components
        return parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000
    }

    /// The duration in seconds as a floating-point number.
    public var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }

    /// Parses `250ms`, `30s`, `5m`, `2h`, `7d` or a plain number of seconds (`1.5`). Returns nil for anything else.
    public init?(text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        var number = trimmed
        var scale = 1.0
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            number = String(trimmed.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces)
            scale = factor
            break
        }
        guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
        self = .milliseconds(Int64((value * scale * 1000).rounded()))
    }

    /// A short form such as `250ms`, `30s`, `5m` or `7d`, the inverse of ``init(text:)`` for whole units.
    public var text: String {
        let total = milliseconds
        if total % 86_400_000 == 0, total > 0 { return "\(total / 86_400_000)d" }
        if total % 3_600_000 == 0, total > 0 { return "\(total / 3_600_000)h" }
        if total % 60_000 == 0, total > 0 { return "\(total / 60_000)m" }
        if total % 1000 == 0 { return "\(total / 1000)s" }
        return "\(total)ms"
    }
}
