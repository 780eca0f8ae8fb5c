import AlgoqueueSupport
import Logging
import Synchronization

/// When calls to a failing endpoint pause.
public struct CircuitBreakerConfiguration: Sendable {
    /// Consecutive failed calls (timeouts, connection errors, 5xx, 429) that open the circuit; 0 turns it off.
    /// Default: 10.
    public var failureThreshold = 10
    /// How long the circuit stays open before one probe call is let through. Default: 10 seconds.
    public var openDuration: Duration = .seconds(10)
    /// How long the circuit may stay open (probes failing) before a job gives up: it stops, writes and commits what
    /// finished, and exits naming the endpoint's error; what is left is consumed again by the next run. Zero: never
    /// give up. Default (nil): 1 minute with `untilIdle` (a batch job must end), never for a service.
    public var maxOpen: Duration?

    /// The give-up limit in force: `maxOpen`, or its default for a job (`untilIdle`) or a service.
    public func maxOpenInForce(untilIdle: Bool) -> Duration? {
        guard let maxOpen else { return untilIdle ? Self.jobMaxOpen : nil }
        return maxOpen > .zero ? maxOpen : nil
    }

    /// `maxOpen`'s default for a job.
    public static let jobMaxOpen: Duration = .seconds(60)

    /// The default configuration.
    public init() {}
}

/// Leave to start one call, from ``CircuitBreaker/permit(_:)``; hand it back with the call's outcome.
package struct CircuitPass: Sendable {
    /// This call is the probe of a half-open circuit.
    package let isProbe: Bool

    package init(isProbe: Bool) { self.isProbe = isProbe }
}

/// Keeps a failing endpoint from being hammered: after `failureThreshold` consecutive failures no call
/// starts for `openDuration`; then one probe goes through, and its outcome closes or reopens the circuit. A probe
/// that ends without an outcome (cancelled, or not started at a stop) lets the next call probe (``CircuitState``).
///
/// While it is open, calls wait (holding their concurrency slots), so consumption stops and partitions are
/// paused by the buffer limit: nothing is dropped.
package final class CircuitBreaker: Sendable {
    package struct Shared {
        var circuit: CircuitState
        /// Calls waiting for the probe to end, resumed when the circuit's generation moves.
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
        var nextWaiter: UInt64 = 0
    }

    package let configuration: CircuitBreakerConfiguration
    package let logger: Logger
    /// Called each time the circuit opens (the pipeline counts openings).
    package let opened: @Sendable () -> Void
    package let shared: Mutex<Shared>
    package let clock = ContinuousClock()

    package init(
        configuration: CircuitBreakerConfiguration, logger: Logger, opened: @escaping @Sendable () -> Void = {}
    ) {
        self.configuration = configuration
        self.opened = opened
        self.logger = logger
        shared = Mutex(
            Shared(
                circuit: CircuitState(
                    failureThreshold: configuration.failureThreshold, openDuration: configuration.openDuration)))
    }

    /// The circuit as it is now, for the status page.
    package var circuit: CircuitState { shared.withLock { $0.circuit } }

    /// How long the circuit has stayed open (nil while closed), and the failure that keeps it open.
    package func openSpell(now: ContinuousClock.Instant) -> (duration: Duration, lastFailure: String?)? {
        shared.withLock { shared in
            shared.circuit.openFor(now: now).map { ($0, shared.circuit.lastFailure) }
        }
    }

    /// Leave to start a call, once the circuit allows it; nil when `intake` closed (or the task was cancelled)
    /// while waiting.
    package func permit(_ intake: Intake) async -> CircuitPass? {
        guard configuration.failureThreshold > 0 else { return CircuitPass(isProbe: false) }
        while true {
            let now = clock.now
            switch shared.withLock({ $0.circuit.permit(now: now) }) {
            case .proceed(let probe):
                return CircuitPass(isProbe: probe)
            case .waitUntil(let until):
                guard await intake.sleep(for: until - clock.now) else { return nil }
            case .waitForProbe(let generation):
                guard await waitForProbe(after: generation, intake) else { return nil }
            }
        }
    }

    /// Records how the call that `pass` let through ended (see ``CircuitState/Outcome``).
    package func record(_ outcome: CircuitState.Outcome, _ pass: CircuitPass) {
        guard configuration.failureThreshold > 0 else { return }
        let now = clock.now
        let (transition, waiters) = shared.withLock {
            shared -> (CircuitState.Transition, [CheckedContinuation<Void, Never>]) in
            let before = shared.circuit.generation
            let transition = shared.circuit.record(outcome, probe: pass.isProbe, now: now)
            guard shared.circuit.generation != before else { return (transition, []) }
            defer { shared.waiters = [] }
            return (transition, shared.waiters.map(\.continuation))
        }
        for waiter in waiters { waiter.resume() }
        let failure: String
        if case .failed(let message) = outcome { failure = message } else { failure = "" }
        switch transition {
        case .opened:
            opened()
            logger.warning(
                "circuit opened: \(configuration.failureThreshold) calls failed in a row, the last with: \(failure); pausing calls for \(configuration.openDuration.text)"
            )
        case .reopened:
            opened()
            logger.warning(
                "circuit stays open: the probe call failed (\(failure)); pausing calls for \(configuration.openDuration.text)"
            )
        case .closed:
            logger.notice("circuit closed: a call succeeded; calls resume")
        case .probeReleased:
            logger.debug("circuit: the probe call ended without an answer (cancelled); the next call probes")
        case .unchanged:
            break
        }
    }

    /// Waits until the circuit's generation moves past `generation` (the probe ended); false when the intake closed
    /// or the task was cancelled first.
    private func waitForProbe(after generation: UInt64, _ intake: Intake) async -> Bool {
        let id = shared.withLock { shared in
            shared.nextWaiter += 1
            return shared.nextWaiter
        }
        // The intake's closing and the task's cancellation both end the wait through the cancellation handler.
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        let resumeNow = self.shared.withLock { shared -> Bool in
                            if shared.circuit.generation != generation || Task.isCancelled { return true }
                            shared.waiters.append((id, continuation))
                            return false
                        }
                        if resumeNow { continuation.resume() }
                    }
                } onCancel: {
                    let waiter = self.shared.withLock { shared in
                        shared.waiters.firstIndex { $0.id == id }.map { shared.waiters.remove(at: $0).continuation }
                    }
                    waiter?.resume()
                }
                return !Task.isCancelled
            }
            group.addTask {
                await intake.closed()
                return false
            }
            let changed = await group.next() ?? false
            group.cancelAll()
            return changed && !intake.isClosed && !Task.isCancelled
        }
    }
}
