import AlgoqueueAlgorithms
import AlgoqueueFlowControl
import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import AlgoqueueWriter
import Logging

/// One algorithm the pipeline calls, with its own circuit breaker.
struct Target: Sendable {
    let algorithm: any Algorithm
    let breaker: CircuitBreaker
    /// The algorithm's rate limit, shared by every call to it (nil: none).
    let rate: RateLimiter?
    /// Its answers are computed once: an input answered before is answered from the store.
    let cache: Bool
    /// Until when every call to it waits: the endpoint answered 429 or 503 with `Retry-After`.
    let pausedUntil = Locked<ContinuousClock.Instant?>(nil)
    /// When the endpoint's contract was last said to be broken in the log (once a minute at most).
    let contractWarned = Locked<ContinuousClock.Instant?>(nil)
}

/// Everything one message produced: its rows, and the batch bookkeeping written with them.
struct ProcessedMessage: Sendable {
    var rows: [ResultRow] = []
    /// Every row the message owes is here (or already in the store). False when a stop came first: the rows that
    /// are here are written, but the offset does not move, and the rest is called when the message comes again.
    var complete = true
    /// The batch this message split into chunks.
    var split: BatchSplit?
    /// The chunk of a split batch whose rows these are.
    var chunk: BatchChunk?
    /// For the rows of a split batch: what a collector needs to tell when the batch is whole.
    var splitInfo: SplitRowInfo?
}

/// One message to its rows: decode, expand a batch message into items (splitting a large one), call every
/// algorithm with retries behind its circuit breaker, dead-letter what failed. Shared by the service and by
/// `algoqueue replay`.
final class InputProcessor: Sendable {
    let targets: [Target]
    /// Where cached answers are looked up (nil: no algorithm caches).
    let cacheStore: ResultsStore?
    /// The limit of calls in flight, when it follows the endpoint (`concurrency: auto`).
    let adaptive: AdaptiveConcurrency?
    let decoder: InputDecoder
    let retry: RetryPolicy
    let batchMessages: BatchMessageConfiguration
    let fanOut: FanOutConfiguration
    let sideband: Sideband
    /// Bounds the calls in flight across messages, items and algorithms (`pipeline.concurrency`). Nil when each
    /// message (or micro-batch) makes exactly one call: the dispatcher's limit on messages in flight is then the
    /// same bound, and one lock fewer per call.
    let callSlots: ConcurrencyLimiter?
    /// `pipeline.concurrency`.
    let concurrency: Int
    let splitter: BatchSplitter?
    let deadLetters: DeadLetterPublisher?
    let statistics: PipelineStatistics
    let health: PipelineHealth
    let metrics: PipelineMetrics
    /// Closed on a stop: no call starts after that.
    let intake: Intake
    /// Rows written before for messages consumed again, so they are not called twice.
    let written: WrittenRows?
    let logger: Logger

    init(
        algorithms: [any Algorithm], configuration: PipelineConfiguration, deadLetters: DeadLetterPublisher?,
        splitter: BatchSplitter? = nil, statistics: PipelineStatistics, health: PipelineHealth = PipelineHealth(),
        metrics: PipelineMetrics = PipelineMetrics(), intake: Intake = Intake(), written: WrittenRows? = nil,
        cacheStore: ResultsStore? = nil, dispatchSlots: ConcurrencyLimiter? = nil, logger: Logger
    ) {
        self.cacheStore = cacheStore
        self.intake = intake
        self.written = written
        self.health = health
        self.metrics = metrics
        targets = algorithms.map {
            Target(
                algorithm: $0,
                breaker: CircuitBreaker(configuration: configuration.circuitBreaker, logger: logger) {
                    statistics.update { $0.circuitOpenings += 1 }
                },
                rate: configuration.rateLimits[$0.name].map(RateLimiter.init),
                cache: configuration.cachedAlgorithms.contains($0.name))
        }
        decoder = InputDecoder(
            maxInputBytes: configuration.maxInputBytes,
            passHeaders: Set(configuration.passHeaders.map { $0.lowercased() }))
        retry = configuration.retry
        batchMessages = configuration.batchMessages
        fanOut = configuration.fanOut
        sideband = Sideband(configuration: configuration.sideband, maxInputBytes: configuration.maxInputBytes)
        concurrency = max(1, configuration.concurrency)
        let oneCallPerMessage = algorithms.count == 1 && configuration.batchMessages.mode == .off
        callSlots = oneCallPerMessage ? nil : ConcurrencyLimiter(capacity: configuration.concurrency)
        if let callSlots { intake.register(callSlots) }
        // With `concurrency: auto` the limiter that bounds calls (this one, or the dispatcher's when each message
        // is one call) follows the endpoint.
        if configuration.adaptiveConcurrency, let slots = callSlots ?? dispatchSlots {
            adaptive = AdaptiveConcurrency(
                slots: slots,
                limit: AdaptiveLimit(
                    minimum: configuration.concurrencyMin, maximum: configuration.concurrencyMax,
                    start: configuration.concurrency),
                logger: logger
            ) { limit in
                metrics.concurrencyLimit.record(limit)
                health.update { $0.concurrencyLimit = limit }
            }
        } else {
            adaptive = nil
            // A fixed limit is the limit in force: the gauge and the status page say it rather than 0.
            metrics.concurrencyLimit.record(max(1, configuration.concurrency))
            health.update { $0.concurrencyLimit = max(1, configuration.concurrency) }
        }
        self.splitter = splitter
        self.deadLetters = deadLetters
        self.statistics = statistics
        self.logger = logger
    }

    /// What `message` produced. At a stop it may be incomplete (see ``ProcessedMessage/complete``).
    func process(_ message: KafkaMessage) async -> ProcessedMessage {
        let clock = ContinuousClock()
        let start = clock.now
        let chunk = ChunkHeaders.chunk(of: message)
        var base = baseRow(message)
        if let chunk {
            // A chunk's rows belong to the batch it came from: the coordinates of the message that carried it.
            base.topic = chunk.origin.topic
            base.partition = chunk.origin.partition
            base.offset = chunk.origin.offset
        }
        let done = await written?.rows(of: base, isChunk: chunk != nil) ?? [:]
        var result = ProcessedMessage()
        // The base row's input is the value as text when it is UTF-8 without NUL bytes: not checked twice.
        switch decoder.decode(message, key: base.key, valueIsText: base.input != nil) {
        case .invalid(let reason):
            result.rows = errorRows(base, reason)
        case .input(let input):
            switch batchMessages.plan(input, isChunk: chunk != nil) {
            case .invalid(let reason):
                result.rows = errorRows(base, reason)
            case .single(let input):
                let rows = await callAll(input, base: base, done: done[-1] ?? [])
                (result.rows, result.complete) = (rows.rows, rows.complete)
            case .items(let bytes, var ranges):
                var firstItem = 0
                if let chunk {
                    firstItem = chunk.firstItem
                    result.chunk = BatchChunk(origin: chunk.origin, firstItem: firstItem, items: ranges.count)
                    result.splitInfo = SplitRowInfo(
                        batchItems: chunk.batchItems, chunkFirstItem: firstItem, chunkItems: ranges.count,
                        algorithms: targets.count)
                } else if let splitter, ranges.count > splitter.maxItems {
                    guard let split = await splitter.split(message, bytes: bytes, ranges: ranges) else {
                        return ProcessedMessage(complete: false)
                    }
                    result.split = split
                    result.chunk = split.chunks[0]
                    result.splitInfo = SplitRowInfo(
                        batchItems: split.items, chunkFirstItem: 0, chunkItems: split.chunks[0].items,
                        algorithms: targets.count)
                    ranges = Array(ranges.prefix(split.chunks[0].items))
                }
                let rows = await callItems(
                    bytes: bytes, ranges: ranges, firstItem: firstItem, base: base, headers: input.headers, done: done)
                (result.rows, result.complete) = (rows.rows, rows.complete)
            }
        }
        let elapsed = (clock.now - start).seconds * 1000
        for index in result.rows.indices where result.rows[index].attempts == 0 {
            result.rows[index].durationMilliseconds = elapsed
        }
        if result.complete, let deadLetters, let failed = result.rows.first(where: { $0.status == .error }) {
            if await !deadLetters.publish(message, row: failed) { result.complete = false }
        }
        return result
    }

    /// A row for `message` before its outcome is known: an error with no attempts.
    func baseRow(_ message: KafkaMessage) -> ResultRow {
        baseRow(message, messageTimestamp: message.timestampMilliseconds.map { Timestamp.iso8601(milliseconds: $0) })
    }

    /// ``baseRow(_:)`` for each of `messages`. Messages published together often carry the same millisecond: they
    /// share one timestamp text, made once.
    func baseRows(_ messages: [KafkaMessage]) -> [ResultRow] {
        var last: (milliseconds: Int64, text: String)?
        return messages.map { message in
            guard let milliseconds = message.timestampMilliseconds else {
                return baseRow(message, messageTimestamp: nil)
            }
            if last?.milliseconds != milliseconds {
                last = (milliseconds, Timestamp.iso8601(milliseconds: milliseconds))
            }
            return baseRow(message, messageTimestamp: last?.text)
        }
    }

    private func baseRow(_ message: KafkaMessage, messageTimestamp: String?) -> ResultRow {
        let text = InputDecoder.inputText(message.value)
        var row = ResultRow(
            topic: message.topic, partition: message.partition, offset: message.offset, item: -1,
            algorithm: targets[0].algorithm.name, algorithmVersion: targets[0].algorithm.version,
            key: InputDecoder.keyText(message.key), status: .error, input: text,
            inputBytes: message.value?.count ?? 0, attempts: 0,
            messageTimestamp: messageTimestamp)
        if text == nil, let value = message.value { row.rawInput = value }
        row.traceparent = message.headers.first { $0.name.lowercased() == "traceparent" }?.value
            .flatMap { String(validating: $0, as: UTF8.self) }
        return row
    }

    /// The same error row for every algorithm: the input was refused before any call.
    func errorRows(_ base: ResultRow, _ reason: String) -> [ResultRow] {
        targets.map { target in
            var row = base
            row.algorithm = target.algorithm.name
            row.algorithmVersion = target.algorithm.version
            row.error = reason
            return row
        }
    }

    /// `base` completed with `result`, answered after `attempts` calls to `target`.
    func row(
        _ base: ResultRow, _ target: Target, _ result: Result<AlgorithmAnswer, AlgorithmFailure>, attempts: Int,
        milliseconds: Double
    ) async -> ResultRow {
        var row = base
        row.algorithm = target.algorithm.name
        row.algorithmVersion = target.algorithm.version
        row.attempts = attempts
        row.durationMilliseconds = milliseconds
        switch result {
        case .success(let answer): row.httpStatus = answer.statusCode
        case .failure(let failure): row.httpStatus = failure.statusCode
        }
        switch result {
        case .success(let answer):
            switch await sideband.storeOutput(answer.output, of: row) {
            case .success(let path):
                row.status = .ok
                row.error = nil
                row.output = path == nil ? answer.output : nil
                row.outputFile = path
                row.metadata = answer.metadata
            case .failure(let failure):
                row.error = failure.message
            }
        case .failure(let failure):
            row.error = attempts > 1 ? "\(failure.message) (after \(attempts) attempts)" : failure.message
        }
        return row
    }

    /// Calls the algorithm named like `row` again with the row's input (kept in the store) and returns the new
    /// row, or nil when cancelled or when no configured algorithm has that name.
    func replay(_ row: ResultRow) async -> ResultRow? {
        guard let input = row.input, let target = targets.first(where: { $0.algorithm.name == row.algorithm }) else {
            return nil
        }
        let clock = ContinuousClock()
        let start = clock.now
        let message = KafkaMessage(
            topic: row.topic, partition: row.partition, offset: row.offset, key: row.key.map { Array($0.utf8) },
            value: Array(input.utf8))
        var base = row
        base.status = .error
        base.output = nil
        base.outputFile = nil
        base.metadata = nil
        base.attempts = 0
        base.createdAt = nil
        base.updatedAt = nil
        switch decoder.decode(message) {
        case .invalid(let reason):
            base.error = reason
            base.durationMilliseconds = (clock.now - start).seconds * 1000
            return base
        case .input(let decoded):
            var input = decoded
            switch await sideband.resolve(input) {
            case .failure(let failure):
                base.error = failure.message
                return base
            case .success(let resolved): input = resolved
            }
            let outcome = await call(target, input)
            guard let result = outcome.result else { return nil }
            return await self.row(
                base, target, result, attempts: outcome.attempts, milliseconds: (clock.now - start).seconds * 1000)
        }
    }
}

extension Target {
    /// The circuit breaker, rate limit and Retry-After pause of this algorithm, for the status page.
    var state: PipelineHealth.AlgorithmState {
        let now = ContinuousClock.now
        let circuit: (String, Double?) =
            switch breaker.circuit.mode {
            case .closed: ("closed", nil)
            case .open(let until): ("open", max(0, (until - now).seconds))
            case .halfOpen: ("half-open", nil)
            }
        let paused = pausedUntil.withLock { $0 }.flatMap { $0 > now ? ($0 - now).seconds : nil }
        let spell = breaker.openSpell(now: now)
        return PipelineHealth.AlgorithmState(
            name: algorithm.name, version: algorithm.version, circuit: circuit.0, circuitOpenSeconds: circuit.1,
            lastFailure: spell?.lastFailure, openForSeconds: spell?.duration.seconds, rateLimit: rate?.limit.perSecond,
            pausedSeconds: paused)
    }
}
