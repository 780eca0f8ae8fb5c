import AlgoqueueAlgorithms
import Testing

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
        let breaker = CircuitBreaker(configuration: configuration, statistics: statistics, logger: testLogger())
        breaker.record(failed: true)
        breaker.record(failed: true)
        breaker.record(failed: false)
        breaker.record(failed: true)
        breaker.record(failed: true)
        #expect(statistics.snapshot.circuitOpenings == 0)
        breaker.record(failed: true)
        #expect(statistics.snapshot.circuitOpenings == 1)
        let intake = Intake()
        let clock = ContinuousClock()
        let start = clock.now
        #expect(await breaker.permit(intake))
        #expect(clock.now - start >= .milliseconds(190))
        #expect(breaker.mode.withLock { $0 } == .halfOpen(probing: true))
        breaker.record(failed: true)
        #expect(statistics.snapshot.circuitOpenings == 2)
        #expect(await breaker.permit(intake))
        breaker.record(failed: false)
        #expect(breaker.mode.withLock { $0 } == .closed(consecutiveFailures: 0))
        // Closed again: a call is let through (without waiting: the mode has no open period to wait out).
        #expect(await breaker.permit(intake))
        #expect(breaker.mode.withLock { $0 } == .closed(consecutiveFailures: 0))
    }

    @Test("An open circuit stops waiting when the intake closes: a stop does not wait out open_duration")
    func breakerWaitEndsAtStop() async {
        var configuration = CircuitBreakerConfiguration()
        configuration.failureThreshold = 1
        configuration.openDuration = .seconds(3600)
        let breaker = CircuitBreaker(
            configuration: configuration, statistics: PipelineStatistics(), logger: testLogger())
        breaker.record(failed: true)
        let intake = Intake()
        async let permitted = breaker.permit(intake)
        intake.close()
        #expect(await permitted == false)
        #expect(breaker.mode.withLock { $0 }.isOpen)
    }
}

extension CircuitBreaker.Mode {
    var isOpen: Bool {
        if case .open = self { true } else { false }
    }
}
