import AlgoqueueAlgorithms
import Testing

@testable import AlgoqueueFlowControl
@testable import AlgoqueuePipeline

@Suite("Retry policy and circuit breaker")
struct RetryPolicyTests {
    @Test("retries what could change, and nothing else")
    func classes() {
        let policy = RetryPolicy()
        #expect(policy.isRetryable(AlgorithmFailure(.timeout, "")))
        #expect(policy.isRetryable(AlgorithmFailure(.transport, "")))
        #expect(policy.isRetryable(AlgorithmFailure(.status, "", statusCode: 500)))
        #expect(policy.isRetryable(AlgorithmFailure(.status, "", statusCode: 503)))
        #expect(policy.isRetryable(AlgorithmFailure(.status, "", statusCode: 429)))
        #expect(!policy.isRetryable(AlgorithmFailure(.status, "", statusCode: 400)))
        #expect(!policy.isRetryable(AlgorithmFailure(.status, "", statusCode: 422)))
        #expect(!policy.isRetryable(AlgorithmFailure(.invalidAnswer, "")))
        #expect(!policy.isRetryable(AlgorithmFailure(.cancelled, "")))
    }

    @Test("backoff is full jitter under a doubling ceiling, and never under Retry-After")
    func backoff() {
        var policy = RetryPolicy()
        policy.initialBackoff = .milliseconds(100)
        policy.maxBackoff = .milliseconds(1000)
        for attempt in 1...8 {
            let ceiling = min(1000, 100 << (attempt - 1))
            for _ in 0..<50 {
                let delay = policy.delay(afterAttempt: attempt)
                #expect(delay >= .zero && delay <= .milliseconds(ceiling))
            }
        }
        let delays = (0..<200).map { _ in policy.delay(afterAttempt: 4).milliseconds }
        #expect(Set(delays).count > 20, "full jitter spreads the delays")
        #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(5)) == .seconds(5))
    }

    @Test("the circuit opens after the threshold, lets one probe through after the pause, and closes on success")
    func breaker() async throws {
        var configuration = CircuitBreakerConfiguration()
        configuration.failureThreshold = 3
        configuration.openDuration = .milliseconds(200)
        let statistics = PipelineStatistics()
        let breaker = CircuitBreaker(configuration: configuration, logger: testLogger()) {
            statistics.update { $0.circuitOpenings += 1 }
        }
        let call = CircuitPass(isProbe: false)
        breaker.record(.failed("HTTP 500"), call)
        breaker.record(.failed("HTTP 500"), call)
        breaker.record(.succeeded, call)
        breaker.record(.failed("HTTP 500"), call)
        breaker.record(.failed("HTTP 500"), call)
        #expect(statistics.snapshot.circuitOpenings == 0)
        breaker.record(.failed("HTTP 502 from the gateway"), call)
        #expect(statistics.snapshot.circuitOpenings == 1)
        #expect(breaker.circuit.lastFailure == "HTTP 502 from the gateway")
        let intake = Intake()
        let clock = ContinuousClock()
        let start = clock.now
        let probe = try #require(await breaker.permit(intake))
        #expect(probe.isProbe)
        #expect(clock.now - start >= .milliseconds(190))
        #expect(breaker.circuit.mode == .halfOpen(probing: true))
        breaker.record(.failed("connection refused"), probe)
        #expect(statistics.snapshot.circuitOpenings == 2)
        #expect(breaker.circuit.lastFailure == "connection refused")
        let second = try #require(await breaker.permit(intake))
        breaker.record(.succeeded, second)
        #expect(breaker.circuit.mode == .closed(consecutiveFailures: 0))
        // Closed again: a call is let through (without waiting: the mode has no open period to wait out).
        #expect(await breaker.permit(intake)?.isProbe == false)
        #expect(breaker.circuit.mode == .closed(consecutiveFailures: 0))
    }

    @Test("An open circuit stops waiting when the intake closes: a stop does not wait out open_duration")
    func breakerWaitEndsAtStop() async {
        var configuration = CircuitBreakerConfiguration()
        configuration.failureThreshold = 1
        configuration.openDuration = .seconds(3600)
        let breaker = CircuitBreaker(
            configuration: configuration, logger: testLogger())
        breaker.record(.failed("HTTP 500"), CircuitPass(isProbe: false))
        let intake = Intake()
        async let permitted = breaker.permit(intake)
        intake.close()
        #expect(await permitted == nil)
        #expect(breaker.circuit.mode.isOpen)
    }

    @Test("a probe that ends without an outcome (fail-fast cancelled it) hands the probe to the next call")
    func cancelledProbe() {
        let start = ContinuousClock.now
        var circuit = CircuitState(failureThreshold: 1, openDuration: .seconds(1))
        #expect(circuit.record(.failed("HTTP 500"), probe: false, now: start) == .opened)
        #expect(circuit.permit(now: start + .seconds(2)) == .proceed(probe: true))
        // A second call while the probe is out waits for it.
        let generation = circuit.generation
        #expect(circuit.permit(now: start + .seconds(2)) == .waitForProbe(generation: generation))
        // The probe is cancelled: neither success nor failure. The circuit stays half-open and the waiter may look.
        #expect(circuit.record(.abandoned, probe: true, now: start + .seconds(2)) == .probeReleased)
        #expect(circuit.generation != generation)
        #expect(circuit.mode == .halfOpen(probing: false))
        #expect(circuit.permit(now: start + .seconds(2)) == .proceed(probe: true))
        // A non-probe call that was abandoned changes nothing (the probe is still out).
        #expect(circuit.record(.abandoned, probe: false, now: start + .seconds(2)) == .unchanged)
        #expect(circuit.mode == .halfOpen(probing: true))
        #expect(circuit.record(.succeeded, probe: true, now: start + .seconds(3)) == .closed)
        #expect(circuit.mode == .closed(consecutiveFailures: 0))
        #expect(circuit.lastFailure == nil)
        // Cancellation never opens a closed circuit, however many.
        for _ in 0..<5 { #expect(circuit.record(.abandoned, probe: false, now: start) == .unchanged) }
        #expect(circuit.mode == .closed(consecutiveFailures: 0))
    }

    @Test("the open spell runs from the first opening through failed probes until an answer closes it")
    func openSpell() {
        let start = ContinuousClock.now
        var circuit = CircuitState(failureThreshold: 2, openDuration: .seconds(1))
        _ = circuit.record(.failed("refused"), probe: false, now: start)
        #expect(circuit.openFor(now: start + .seconds(5)) == nil, "closed, one failure short")
        _ = circuit.record(.failed("refused"), probe: false, now: start + .seconds(1))
        #expect(circuit.openFor(now: start + .seconds(2)) == .seconds(1))
        #expect(circuit.permit(now: start + .seconds(3)) == .proceed(probe: true))
        #expect(circuit.record(.failed("HTTP 500"), probe: true, now: start + .seconds(3)) == .reopened)
        #expect(circuit.openFor(now: start + .seconds(61)) == .seconds(60))
        #expect(circuit.lastFailure == "HTTP 500")
        #expect(circuit.permit(now: start + .seconds(62)) == .proceed(probe: true))
        #expect(circuit.record(.succeeded, probe: true, now: start + .seconds(62)) == .closed)
        #expect(circuit.openFor(now: start + .seconds(63)) == nil)

        // The give-up limit: a minute for a job, never for a service, unless set; 0 turns it off.
        var configuration = CircuitBreakerConfiguration()
        #expect(configuration.maxOpenInForce(untilIdle: true) == .seconds(60))
        #expect(configuration.maxOpenInForce(untilIdle: false) == nil)
        configuration.maxOpen = .seconds(5)
        #expect(configuration.maxOpenInForce(untilIdle: false) == .seconds(5))
        configuration.maxOpen = .zero
        #expect(configuration.maxOpenInForce(untilIdle: true) == nil)
    }

    @Test("a call waiting for the probe starts as the next probe once the probe is cancelled")
    func waiterTakesOverProbe() async throws {
        var configuration = CircuitBreakerConfiguration()
        configuration.failureThreshold = 1
        configuration.openDuration = .milliseconds(1)
        let breaker = CircuitBreaker(
            configuration: configuration, logger: testLogger())
        breaker.record(.failed("HTTP 500"), CircuitPass(isProbe: false))
        let intake = Intake()
        try await Task.sleep(for: .milliseconds(5))
        let probe = try #require(await breaker.permit(intake))
        #expect(probe.isProbe)
        async let next = breaker.permit(intake)
        // The waiter is parked on the probe (it registers under the lock; wait until it has).
        #expect(await eventually(within: .seconds(10)) { breaker.shared.withLock { !$0.waiters.isEmpty } })
        breaker.record(.abandoned, probe)
        #expect(await next?.isProbe == true)
        #expect(breaker.circuit.mode == .halfOpen(probing: true))
    }
}

extension CircuitState.Mode {
    var isOpen: Bool {
        if case .open = self { true } else { false }
    }
}
