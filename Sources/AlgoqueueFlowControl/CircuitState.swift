/// Where a circuit breaker is: closed (counting failures in a row), open until a time, or half-open with or without
/// its one probe call out. Each method is called under the breaker's lock and returns what the caller does once it
/// has unlocked; nothing here waits, logs or resumes anything.
///
/// A probe that ends without an outcome (cancelled by fail-fast, abandoned at a stop, never started because the
/// intake closed) is an event of its own: the circuit stays half-open and the next call becomes the probe. Only an
/// answer or a failure of the endpoint moves the circuit.
package struct CircuitState: Equatable {
    package enum Mode: Equatable {
        case closed(consecutiveFailures: Int)
        case open(until: ContinuousClock.Instant)
        case halfOpen(probing: Bool)
    }

    package let failureThreshold: Int
    package let openDuration: Duration
    package private(set) var mode = Mode.closed(consecutiveFailures: 0)
    /// The failure that opened the circuit or kept it open, for logs and the status page.
    private(set) var lastFailure: String?
    /// When the circuit last opened from closed: it has stayed open (or half-open) since.
    private(set) var openedAt: ContinuousClock.Instant?
    /// Grows whenever a waiting call may find the circuit changed (a probe ended, the circuit closed).
    private(set) var generation: UInt64 = 0

    package init(failureThreshold: Int, openDuration: Duration) {
        self.failureThreshold = failureThreshold
        self.openDuration = openDuration
    }

    /// What a call that asks to start does.
    package enum Permit: Equatable {
        /// Start; `probe`: this call is the probe, and must report how it ended (``record(_:probe:now:)``).
        case proceed(probe: Bool)
        /// The circuit is open: ask again at this time.
        case waitUntil(ContinuousClock.Instant)
        /// A probe is out: ask again when ``generation`` has moved past `generation`.
        case waitForProbe(generation: UInt64)
    }

    package mutating func permit(now: ContinuousClock.Instant) -> Permit {
        switch mode {
        case .closed:
            return .proceed(probe: false)
        case .open(let until):
            guard now >= until else { return .waitUntil(until) }
            mode = .halfOpen(probing: true)
            return .proceed(probe: true)
        case .halfOpen(probing: true):
            return .waitForProbe(generation: generation)
        case .halfOpen(probing: false):
            mode = .halfOpen(probing: true)
            return .proceed(probe: true)
        }
    }

    /// How a call ended, as the circuit sees it.
    package enum Outcome: Equatable {
        /// An answer, or a failure that says nothing against the endpoint (a 4xx for this input, a 429 with
        /// Retry-After): it is there and answering.
        case succeeded
        /// A failure that says the endpoint is in trouble (timeout, connection error, 5xx, 429 without Retry-After).
        case failed(String)
        /// No outcome: the call was cancelled or never started.
        case abandoned
    }

    /// What changed, for the caller to log and count, and whether waiting calls should look again.
    package enum Transition: Equatable {
        case unchanged
        /// `threshold` failures in a row opened the circuit.
        case opened
        /// The probe failed: open again.
        case reopened
        /// An answer closed the circuit (after a probe, or a call that started before it opened).
        case closed
        /// The probe ended without an outcome: the next call probes.
        case probeReleased
    }

    package mutating func record(_ outcome: Outcome, probe: Bool, now: ContinuousClock.Instant) -> Transition {
        switch (mode, outcome) {
        case (_, .abandoned):
            // Only the probe's own end frees the probe slot.
            guard probe, mode == .halfOpen(probing: true) else { return .unchanged }
            mode = .halfOpen(probing: false)
            generation &+= 1
            return .probeReleased
        case (.closed, .succeeded):
            mode = .closed(consecutiveFailures: 0)
            return .unchanged
        case (.halfOpen, .succeeded):
            return close()
        case (.closed(let count), .failed(let message)):
            guard count + 1 >= failureThreshold else {
                mode = .closed(consecutiveFailures: count + 1)
                return .unchanged
            }
            mode = .open(until: now + openDuration)
            lastFailure = message
            openedAt = now
            return .opened
        case (.halfOpen, .failed(let message)):
            mode = .open(until: now + openDuration)
            lastFailure = message
            generation &+= 1
            return .reopened
        case (.open, _):
            return .unchanged
        }
    }

    /// How long the circuit has stayed open or half-open without an answer closing it; nil while closed.
    package func openFor(now: ContinuousClock.Instant) -> Duration? {
        guard case .closed = mode else { return openedAt.map { now - $0 } }
        return nil
    }

    private mutating func close() -> Transition {
        mode = .closed(consecutiveFailures: 0)
        lastFailure = nil
        openedAt = nil
        generation &+= 1
        return .closed
    }
}
