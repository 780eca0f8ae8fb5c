import Foundation
import Synchronization

/// One status line kept at the bottom of a terminal (standard error), rewritten in place; log lines print above
/// it. Only on a terminal, and never under systemd: elsewhere ``isActive`` is false and nothing is drawn.
enum LiveLine {
    /// Whether standard error is a terminal (and not the journal).
    static let isActive = isatty(STDERR_FILENO) == 1 && !LineLogHandler.journal

    /// The text shown now ("" when none).
    static let current = Mutex("")

    /// Shows `text` as the live line (cut to the terminal's width).
    static func show(_ text: String) {
        guard isActive else { return }
        let line = String(text.prefix(max(20, terminalColumns() - 1)))
        LineLogHandler.output.withLock { _ in
            current.withLock { $0 = line }
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        }
    }

    /// Removes the live line (before a summary, or at the end).
    static func clear() {
        guard isActive else { return }
        LineLogHandler.output.withLock { _ in
            current.withLock { $0 = "" }
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        }
    }

    /// Writes `text` (whole lines) above the live line and draws the live line again. Call with
    /// `LineLogHandler.output` held.
    static func writeAbove(_ text: String) {
        let live = isActive ? current.withLock { $0 } : ""
        let prefix = isActive && !live.isEmpty ? "\r\u{1B}[K" : ""
        FileHandle.standardError.write(Data((prefix + text + live).utf8))
    }

    static func terminalColumns() -> Int {
        var size = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }

    /// `[#####.......] 42%`: a bar of `width` cells for `fraction` (0 to 1).
    static func bar(_ fraction: Double, width: Int = 24) -> String {
        let clamped = min(1, max(0, fraction))
        let filled = Int(clamped * Double(width))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + "\(Int(clamped * 100))%"
    }

    /// Seconds as `1h02m`, `3m05s` or `42s`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let total = Int(seconds.rounded())
        if total >= 3600 { return String(format: "%dh%02dm", total / 3600, total % 3600 / 60) }
        if total >= 60 { return String(format: "%dm%02ds", total / 60, total % 60) }
        return "\(total)s"
    }
}
