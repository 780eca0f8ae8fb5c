import AlgoqueueAlgorithms
import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import Logging

/// One message to its rows: decode, call with retries behind the circuit breaker, dead-letter what failed.
/// Shared by the service and by `algoqueue replay`.
final class InputProcessor: Sendable {
    let algorithm: any Algorithm
    let decoder: InputDecoder
    let retry: RetryPolicy
    let breaker: CircuitBreaker
    let deadLetters: DeadLetterPublisher?
    let statistics: PipelineStatistics
    let health: PipelineHealth
    let metrics: PipelineMetrics
    let logger: Logger

    init(
        algorithm: any Algorithm, configuration: PipelineConfiguration, deadLetters: DeadLetterPublisher?,
        statistics: PipelineStatistics, health: PipelineHealth = PipelineHealth(), metrics: PipelineMetrics = PipelineMetrics(),
        logger: Logger
    ) {
        self.health = health
        self.metrics = metrics
        self.algorithm = algorithm
        decoder = InputDecoder(maxInputBytes: configuration.maxInputBytes)
        retry = configuration.retry
        breaker = CircuitBreaker(configuration: configuration.circuitBreaker, statistics: statistics, logger: logger)
        self.deadLetters = deadLetters
        self.statistics = statistics
        self.logger = logger
    }

    /// The rows for `message`, or nil when a stop cancelled the work: then nothing is written and the offset
    /// does not move, so the message is consumed again.
    func process(_ message: KafkaMessage) async -> [ResultRow]? {
        let clock = ContinuousClock()
        let start = clock.now
        var row = ResultRow(
            topic: message.topic, partition: message.partition, offset: message.offset, item: -1,
            algorithm: algorithm.name, algorithmVersion: algorithm.version, key: InputDecoder.keyText(message.key),
            status: .error, input: InputDecoder.inputText(message.value), inputBytes: message.value?.count ?? 0,
            attempts: 0, messageTimestamp: message.timestampMilliseconds.map { Timestamp.iso8601(milliseconds: $0) })
        switch decoder.decode(message) {
        case .invalid(let reason):
            row.error = reason
        case .input(let input):
            guard let (result, attempts) = await call(input) else { return nil }
            row.attempts = attempts
            switch result {
            case .success(let answer):
                row.status = .ok
                row.output = answer.output
            case .failure(let failure):
                row.error = attempts > 1 ? "\(failure.message) (after \(attempts) attempts)" : failure.message
            }
        }
        row.durationMilliseconds = (clock.now - start).seconds * 1000
        if row.status == .error, let deadLetters {
            guard await deadLetters.publish(message, row: row) else { return nil }
        }
        return [row]
    }

    /// Calls until an answer, a failure that retrying cannot fix, or the retry budget is spent.
    /// Returns nil when cancelled.
    func call(_ input: AlgorithmInput) async -> (Result<AlgorithmAnswer, AlgorithmFailure>, Int)? {
        let clock = ContinuousClock()
        let start = clock.now
        var attempt = 0
        while true {
            do {
                try await breaker.permit()
            } catch {
                return nil
            }
            attempt += 1
            let call = health.callStarted()
            let started = clock.now
            let result = await algorithm.call(input)
            metrics.callDuration.recordNanoseconds((clock.now - started).nanoseconds)
            health.callFinished(call)
            guard case .failure(let failure) = result else {
                breaker.record(failed: false)
                return (result, attempt)
            }
            if failure.kind == .cancelled { return nil }
            let retryable = retry.isRetryable(failure)
            breaker.record(failed: retryable)
            guard retryable, attempt < retry.maxAttempts else { return (result, attempt) }
            let delay = retry.delay(afterAttempt: attempt, retryAfter: failure.retryAfter)
            guard clock.now - start + delay < retry.maxElapsed else {
                var late = failure
                late.message += " (retry budget of \(retry.maxElapsed.text) spent)"
                return (.failure(late), attempt)
            }
            statistics.update { $0.retried += 1 }
            logger.debug(
                "retrying in \(delay.text)", metadata: ["source": "\(input.source)", "attempt": "\(attempt)", "error": "\(failure.message)"])
            do {
                try await Task.sleep(for: delay)
            } catch {
                return nil
            }
        }
    }
}
