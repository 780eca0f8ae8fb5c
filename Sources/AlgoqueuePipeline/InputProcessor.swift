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
        var row = baseRow(message)
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

    /// The rows of a micro-batch, one per message, or nil when a stop cancelled it. Bad inputs get their error
    /// rows without a call; the others go in one call as a JSON list, whose answer must be a list of as many
    /// results, in order. Any other answer gives each of them an error row saying why.
    func processBatch(_ messages: [KafkaMessage]) async -> [ResultRow]? {
        let clock = ContinuousClock()
        let start = clock.now
        var rows = messages.map(baseRow)
        var inputs: [(index: Int, input: AlgorithmInput)] = []
        for (index, message) in messages.enumerated() {
            switch decoder.decode(message) {
            case .invalid(let reason): rows[index].error = reason
            case .input(let input): inputs.append((index, input))
            }
        }
        if !inputs.isEmpty {
            var body: [UInt8] = [UInt8(ascii: "[")]
            for (position, entry) in inputs.enumerated() {
                if position > 0 { body.append(UInt8(ascii: ",")) }
                body += entry.input.json
            }
            body.append(UInt8(ascii: "]"))
            let source = inputs[0].input.source + (inputs.count > 1 ? " +\(inputs.count - 1)" : "")
            guard let (result, attempts) = await call(AlgorithmInput(json: body, source: source)) else { return nil }
            for entry in inputs { rows[entry.index].attempts = attempts }
            switch result {
            case .success(let answer):
                let bytes = Array(answer.output.utf8)
                if let elements = JSONSyntax.arrayElements(bytes), elements.count == inputs.count {
                    for (position, entry) in inputs.enumerated() {
                        rows[entry.index].status = .ok
                        rows[entry.index].output = String(decoding: bytes[elements[position]], as: UTF8.self)
                    }
                } else {
                    let got = JSONSyntax.arrayElements(bytes).map { "a list of \($0.count)" } ?? "a JSON \(JSONSyntax.topLevelKind(bytes))"
                    for entry in inputs {
                        rows[entry.index].error =
                            "the batch answer must be a list of \(inputs.count) results, one per input in order (got \(got))"
                    }
                }
            case .failure(let failure):
                let message = attempts > 1 ? "\(failure.message) (after \(attempts) attempts)" : failure.message
                for entry in inputs { rows[entry.index].error = message }
            }
        }
        let elapsed = (clock.now - start).seconds * 1000
        for index in rows.indices { rows[index].durationMilliseconds = elapsed }
        if let deadLetters {
            for (index, row) in rows.enumerated() where row.status == .error {
                guard await deadLetters.publish(messages[index], row: row) else { return nil }
            }
        }
        return rows
    }

    /// A row for `message` before its outcome is known: an error with no attempts.
    func baseRow(_ message: KafkaMessage) -> ResultRow {
        ResultRow(
            topic: message.topic, partition: message.partition, offset: message.offset, item: -1,
            algorithm: algorithm.name, algorithmVersion: algorithm.version, key: InputDecoder.keyText(message.key),
            status: .error, input: InputDecoder.inputText(message.value), inputBytes: message.value?.count ?? 0,
            attempts: 0, messageTimestamp: message.timestampMilliseconds.map { Timestamp.iso8601(milliseconds: $0) })
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
