import AlgoqueueSupport
import Logging

/// When calls to a failing endpoint pause.
public struct CircuitBreakerConfiguration: Sendable {
    /// Consecutive failed calls (timeouts, connection errors, 5xx, 429) that open the circuit; 0 turns it off.
    /// Default: 10.
    public var failureThreshold = 10
    /// How long the circuit stays open before one probe call is let through. Default: 10 seconds.
    public var openDuration: Duration = .seconds(10)

    /// The default configuration.
    public init() {}
}

/// Keeps a failing endpoint from being hammered: after `failureThreshold` consecutive failures no call
/// starts for `openDuration`; then one probe goes through, and its outcome closes or reopens the circuit.
///
/// While it is open, calls wait (holding their concurrency slots), so consumption stops and partitions are
/// paused by the buffer limit: nothing is dropped.
final class CircuitBreaker: Sendable {
    enum Mode: Equatable {
        case closed(consecutiveFailures: Int)
        case open(until: ContinuousClock.Instant)
        case halfOpen(probing: Bool)
    }

    enum Permission {
        case proceed
        case wait(until: ContinuousClock.Instant)
    }

    let configuration: CircuitBreakerConfiguration
    let logger: Logger
    let statistics: PipelineStatistics
    let mode = Locked(Mode.closed(consecutiveFailures: 0))
    let clock = ContinuousClock()

    init(configuration: CircuitBreakerConfiguration, statistics: PipelineStatistics, logger: Logger) {
        self.configuration = configuration
        self.statistics = statistics
        self.logger = logger
    }

    /// Returns true when a call may start; false when `intake` closed (or the task was cancelled) while waiting.
    func permit(_ intake: Intake) async -> Bool {
        guard configuration.failureThreshold > 0 else { return true }
        while true {
            let now = clock.now
            let permission = mode.withLock { mode -> Permission in
                switch mode {
                case .closed:
                    return .proceed
                case .open(let until):
                    guard now >= until else { return .wait(until: until) }
                    mode = .halfOpen(probing: true)
                    return .proceed
                case .halfOpen(probing: true):
                    return .wait(until: now + .milliseconds(50))
                case .halfOpen(probing: false):
                    mode = .halfOpen(probing: true)
                    return .proceed
                }
            }
            switch permission {
            case .proceed: return true
            case .wait(let until):
                guard await intake.sleep(for: until - clock.now) else { return false }
            }
        }
    }

    /// Records the outcome of a call; `failed` only for failures that say the endpoint is in trouble.
    func record(failed: Bool) {
        guard configuration.failureThreshold > 0 else { return }
        let now = clock.now
        let (before, after) = mode.withLock { mode -> (Mode, Mode) in
            let before = mode
            switch (mode, failed) {
            case (.closed, false), (.halfOpen, false):
                mode = .closed(consecutiveFailures: 0)
            case (.closed(let count), true):
                mode =
                    count + 1 >= configuration.failureThreshold
                    ? .open(until: now + configuration.openDuration) : .closed(consecutiveFailures: count + 1)
            case (.halfOpen, true):
                mode = .open(until: now + configuration.openDuration)
            case (.open, _):
                break
            }
            return (before, mode)
        }
        switch (before, after) {
        case (.closed, .open):
            statistics.update { $0.circuitOpenings += 1 }
            logger.warning(
                "circuit opened: \(configuration.failureThreshold) calls failed in a row; pausing calls for \(configuration.openDuration.text)"
            )
        case (.halfOpen, .open):
            statistics.update { $0.circuitOpenings += 1 }
            logger.warning(
                "circuit stays open: the probe call failed; pausing calls for \(configuration.openDuration.text)")
        case (.halfOpen, .closed):
            logger.notice("circuit closed: the probe call succeeded; calls resume")
        default:
            break
        }
    }
}
