import Foundation

/// A progress line on a terminal (the live line), plain lines every 10 s otherwise.
struct ProgressReporter {
    let total: Int?
    let terminal = LiveLine.isActive
    let clock = ContinuousClock()
    let started = ContinuousClock.now
    var lastShown = ContinuousClock.now

    init(totalBytes: Int?) {
        total = totalBytes
    }

    mutating func update(messages: Int, bytesRead: Int) {
        let now = clock.now
        guard now - lastShown >= (terminal ? .milliseconds(200) : .seconds(10)) else { return }
        lastShown = now
        let elapsed = (now - started).seconds
        let rate = elapsed > 0 ? Double(messages) / elapsed : 0
        var line = "published \(messages) (\(Int(rate))/s)"
        if let total, total > 0, bytesRead > 0 {
            let fraction = min(1, Double(bytesRead) / Double(total))
            let eta = fraction > 0 ? elapsed / fraction - elapsed : 0
            line = LiveLine.bar(fraction) + " " + line + " ETA " + LiveLine.duration(eta)
        }
        if terminal { LiveLine.show(line) } else { printError(line) }
    }

    func finish() {
        LiveLine.clear()
    }
}
