import Logging

/// The pipeline's heartbeat, beside the dispatch loop: it ticks the loop every second (lag, metrics, watchdog),
/// proves to the health check that the process schedules work, and logs the `progress` line every
/// `progressInterval`.
struct Heartbeat: Sendable {
    let statistics: PipelineStatistics
    let health: PipelineHealth
    let progressInterval: Duration
    let logger: Logger

    /// Ticks until cancelled.
    func run(_ signal: AsyncStream<Pipeline.Signal>.Continuation) async {
        var last = statistics.snapshot
        let clock = ContinuousClock()
        var lastTime = clock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            // The heartbeat proves the process schedules work; a loop waiting on slow calls is still alive
            // (readiness reports that case).
            health.update { $0.lastTick = ContinuousClock.now }
            signal.yield(.tick)
            guard clock.now - lastTime >= progressInterval else { continue }
            let now = statistics.snapshot
            defer {
                last = now
                lastTime = clock.now
            }
            guard now != last, !Task.isCancelled else { continue }
            let rate = Double(now.durable - last.durable) / (clock.now - lastTime).seconds
            logger.info(
                "progress",
                metadata: [
                    "consumed": "\(now.consumed)", "written": "\(now.durable)", "ok": "\(now.ok)",
                    "errors": "\(now.errors)", "retried": "\(now.retried)", "per_second": "\(Int(rate.rounded()))",
                ])
        }
    }
}
