import AlgoqueuePipeline
import Foundation

/// The live line of `run` on a terminal: consumed, ok and error rows, the rate, the lag (messages up to the
/// partitions' ends not yet written), and with `--until-idle` a bar and an ETA against what is written plus the
/// lag (inputs arriving meanwhile count).
enum RunProgress {
    /// Redraws the live line every half second until cancelled.
    static func show(_ pipeline: Pipeline, untilIdle: Bool) async {
        let clock = ContinuousClock()
        var window: [(at: ContinuousClock.Instant, written: Int)] = []
        while !Task.isCancelled {
            let totals = pipeline.statistics.snapshot
            let now = clock.now
            window.append((now, totals.durable))
            window.removeAll { now - $0.at > .seconds(5) }
            let rate =
                window.count > 1
                ? Double(totals.durable - window[0].written) / max((now - window[0].at).seconds, 0.001) : 0
            LiveLine.show(line(pipeline, totals: totals, rate: rate, untilIdle: untilIdle))
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    static func line(_ pipeline: Pipeline, totals: PipelineStatistics.Snapshot, rate: Double, untilIdle: Bool)
        -> String
    {
        guard pipeline.health.joined else { return "joining the consumer group..." }
        let lag = pipeline.health.lag(durableNow: totals.durable)
        var text =
            "consumed \(totals.consumed) | ok \(totals.ok) | errors \(totals.errors) | \(Int(rate.rounded()))/s | lag \(lag)"
        if untilIdle {
            // Still to write: the lag (from the first offset not yet written to each partition's end), or what is
            // consumed and not yet written when the ends are not known yet.
            let remaining = Double(max(lag, Int64(max(0, totals.consumed - totals.durable))))
            let total = Double(totals.durable) + remaining
            let fraction = total > 0 ? Double(totals.durable) / total : 0
            let eta = remaining == 0 ? "0s" : rate > 0 ? LiveLine.duration(remaining / rate) : "?"
            text = LiveLine.bar(fraction) + " " + text + " | ETA " + eta
        }
        return text
    }
}
