import AlgoqueueAlgorithms
import AlgoqueueFlowControl
import AlgoqueueKafka
import AlgoqueueResultsTopic
import AlgoqueueStore
import AlgoqueueSupport
import AlgoqueueWriter
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The service: consume messages, call the algorithms, write one row per input and algorithm, commit durable
/// offsets.
///
/// Stops on graceful shutdown (SIGTERM/SIGINT through ServiceLifecycle), on idle with `untilIdle`, or with a
/// ``PipelineError`` when the store cannot be written or Kafka fails for good. Work in flight at a stop
/// gets `shutdownTimeout` to finish; what does not finish is not written and is consumed again next time.
public final class Pipeline: Service {
    let configuration: PipelineConfiguration
    let kafka: KafkaConsumerConfiguration
    /// The store rows are written to (the caller opened it and closes it).
    public let store: ResultsStore
    /// Every algorithm each input goes to (more than one: fan-out).
    let algorithms: [any Algorithm]
    let logger: Logger
    /// Totals for progress lines, summaries and tests.
    public let statistics = PipelineStatistics()
    /// Durable rows per algorithm and the last error rows (the status page).
    public let tally = RowTally()
    /// Liveness and progress, for health endpoints and the watchdog.
    public let health = PipelineHealth()
    let metrics = PipelineMetrics()
    let observer: PipelineObserver
    /// When the pipeline was made (the process's start, for uptime).
    public let startedAt = Date()

    /// The consumer group this pipeline consumes in.
    public var groupID: String { kafka.groupID }
    /// The topics it consumes.
    public var topics: [String] { kafka.topics }

    /// Creates the pipeline; nothing connects until ``run()``.
    public convenience init(
        configuration: PipelineConfiguration, kafka: KafkaConsumerConfiguration, store: ResultsStore,
        algorithm: any Algorithm, logger: Logger, observer: PipelineObserver = PipelineObserver()
    ) {
        self.init(
            configuration: configuration, kafka: kafka, store: store, algorithms: [algorithm], logger: logger,
            observer: observer)
    }

    /// Creates a pipeline that sends every input to each of `algorithms` (at least one).
    public init(
        configuration: PipelineConfiguration, kafka: KafkaConsumerConfiguration, store: ResultsStore,
        algorithms: [any Algorithm], logger: Logger, observer: PipelineObserver = PipelineObserver()
    ) {
        precondition(!algorithms.isEmpty, "a pipeline needs at least one algorithm")
        self.observer = observer
        self.configuration = configuration
        self.kafka = kafka
        self.store = store
        self.algorithms = algorithms
        self.logger = logger
    }

    enum Signal: Sendable {
        case kafka(KafkaConsumerEvent)
        case tick
        /// The micro-batch with this number has waited `batch.linger`.
        case linger(Int)
        case durable(messages: Int)
        /// Chunks were published: partition → offset after the last one.
        case published([TopicPartition: Int64])
        case writerFailed(StoreError)
        /// The cluster said where the group stands (`untilIdle`): whether the run is done is judged again.
        case groupAnswered
    }

    /// Runs until stopped (see the type's documentation). The algorithms are shut down when it returns or throws.
    public func run() async throws {
        do {
            try await consumeUntilStopped()
            for algorithm in algorithms { await algorithm.shutdown() }
        } catch {
            for algorithm in algorithms { await algorithm.shutdown() }
            throw error
        }
    }

    func consumeUntilStopped() async throws {
        let store = self.store
        let group = kafka.groupID
        let logger = self.logger
        var kafka = self.kafka
        if let topic = configuration.split.topic, configuration.split.enabled, !kafka.topics.contains(topic) {
            kafka.topics.append(topic)  // chunks published to a work topic are consumed like the rest
        }
        let stored = store.storedOffsets(group: group, logger: logger)
        let timeStarts = await startsByTime(kafka)
        let consumer = try KafkaConsumer(
            configuration: kafka,
            storedOffsets: { partitions in
                // `--start-from TIME`: partitions that had no offset at all when the run began start there.
                stored(partitions).merging(timeStarts.filter { partitions.contains($0.key) }) { stored, _ in stored }
            }, logger: logger)
        let tracker = Locked(OffsetTracker())
        let health = self.health
        let publisher = try await resultsPublisher(group: group)
        // Offsets go to Kafka only once the rows below them are durable.
        let committer = OffsetCommitter(tracker: tracker, commit: { consumer.commit($0) })
        let writer = ResultWriter(
            store: store, group: group, committer: committer, maxRows: configuration.maxRowsPerTransaction,
            commitInterval: configuration.commitInterval,
            recordCommit: { [metrics] in metrics.commitDuration.recordNanoseconds($0.nanoseconds) },
            publisher: publisher,
            logger: logger)
        let (signals, signal) = AsyncStream.makeStream(of: Signal.self)
        let statistics = self.statistics
        let tally = self.tally
        var producer: KafkaProducer?
        if configuration.deadLetterTopic != nil || configuration.split.enabled {
            producer = try KafkaProducer(
                configuration: KafkaProducerConfiguration(sameClusterAs: kafka), logger: logger)
        }
        var deadLetters: DeadLetterPublisher?
        if let topic = configuration.deadLetterTopic, let producer {
            deadLetters = DeadLetterPublisher(producer: producer, topic: topic, statistics: statistics, logger: logger)
        }
        var splitter: BatchSplitter?
        if configuration.split.enabled, let producer {
            splitter = BatchSplitter(
                configuration: configuration.split, producer: producer,
                admin: try KafkaAdmin(configuration: kafka, logger: logger), store: store, logger: logger,
                onPublished: { signal.yield(.published($0)) })
        }
        let completions = configuration.split.completionTopic.flatMap { topic in
            producer.map { CompletionPublisher(producer: $0, topic: topic, store: store, logger: logger) }
        }
        let intake = Intake()
        // With `concurrency: auto` the dispatcher admits up to the most the limit may reach; the limiter that bounds
        // calls follows the endpoint (InputProcessor.adaptive).
        let callSlots = ConcurrencyLimiter(
            capacity: configuration.adaptiveConcurrency ? configuration.concurrencyMax : configuration.concurrency)
        intake.register(callSlots)
        intake.register(SignalsWhenClosed(writer.caughtUp))
        let processor = InputProcessor(
            algorithms: algorithms, configuration: configuration, deadLetters: deadLetters, splitter: splitter,
            statistics: statistics, health: health, metrics: metrics, intake: intake,
            written: await WrittenRows(store: store, group: group, logger: logger),
            cacheStore: configuration.cachedAlgorithms.isEmpty ? nil : store, dispatchSlots: callSlots, logger: logger)
        let dispatch = Dispatch(
            processor: processor, writer: writer, tracker: tracker, callSlots: callSlots, intake: intake,
            lanes: OrderingLanes(), topics: kafka.topics)
        try consumer.start()
        logger.info(
            "consuming",
            metadata: [
                "topics": "\(kafka.topics)", "group": "\(group)",
                "algorithms": "\(algorithms.map(\.name).joined(separator: ","))",
            ])

        // Batch-complete events are published beside the run (an earlier run's first) and finished before it returns.
        let (failure, brokerAnswered) = await CompletionPublisher.publishing(completions) {
            let writeFailure = Locked<StoreError?>(nil)
            var failure: PipelineError? = await withDiscardingTaskGroup { writing in
                // The writer is never cancelled: after the dispatch loop ends it drains what is queued, then returns.
                // The publisher is stopped (not cancelled) once the writer is told to finish; drain() publishes the rest.
                if let publisher { writing.addTask { await publisher.run() } }
                writing.addTask {
                    do throws(StoreError) {
                        try await writer.run { batch in
                            committer.durable(batch.offsets)
                            consumer.release(messages: batch.messages, bytes: batch.bytes)
                            // One walk over the rows counts them per algorithm and for the totals.
                            let counted = tally.record(batch.rows)
                            statistics.update { totals in
                                totals.durable += batch.messages
                                totals.ok += counted.ok
                                totals.errors += counted.rows - counted.ok
                                totals.cached += counted.cached
                            }
                            health.update { $0.lastProgress = ContinuousClock.now }
                            statistics.markDurable()
                            completions?.publish(batch.completed)
                            signal.yield(.durable(messages: batch.messages))
                        }
                    } catch {
                        writeFailure.withLock { $0 = error }
                        intake.close()
                        signal.yield(.writerFailed(error))
                    }
                }
                let failure = await withDiscardingTaskGroup { helpers in
                    helpers.addTask {
                        // Revocations and fatal errors act here, as they arrive, not behind messages still queued for
                        // the loop: no call starts for a revoked partition or after a fatal error.
                        for await event in consumer.events {
                            switch event {
                            case .revoked(let partitions):
                                tracker.withLock { tracker in for partition in partitions { tracker.revoke(partition) }
                                }
                            case .error(let error) where error.code == .fatal:
                                intake.close()
                            default: break
                            }
                            signal.yield(.kafka(event))
                        }
                    }
                    let heartbeat = Heartbeat(
                        statistics: statistics, health: health, progressInterval: configuration.progressInterval,
                        logger: logger)
                    helpers.addTask { await heartbeat.run(signal) }
                    let sampler = LagSampler(statistics: statistics, health: health, metrics: self.metrics)
                    helpers.addTask { await sampler.run(consumer, dispatch) }
                    helpers.addTask { await self.watchForGivingUp(dispatch) }
                    let failure = await withGracefulShutdownHandler {
                        await self.dispatch(signals: signals, sink: signal, consumer: consumer, dispatch: dispatch)
                    } onGracefulShutdown: {
                        intake.close()
                    }
                    helpers.cancelAll()
                    health.update { $0.stopping = true }
                    observer.onStopping()
                    return failure
                }
                writer.close()
                publisher?.stop()
                return failure
            }
            if failure == nil, let error = writeFailure.withLock({ $0 }) {
                failure = Self.storeFailure(error)
            }
            if var stop = failure, stop.code == .unavailable || stop.code == .configuration {
                // The writer has drained: what is durable is known. The rest waits for the next run.
                let left = tracker.withLock { tracker in
                    tracker.assigned.reduce(Int64(0)) { sum, partition in
                        guard let end = consumer.highWatermark(partition) else { return sum }
                        let unwritten =
                            end - (tracker.watermark(partition) ?? end) - Int64(tracker.writtenAhead(partition))
                        return sum + max(0, unwritten)
                    }
                }
                stop.message += "; \(left) input(s) are left unwritten and are consumed again by the next run"
                failure = stop
            }
            // The writer has finished: commit what is durable and leave the group (not waiting on a broker that never
            // answers); publish what the outbox holds. When no broker answered the close, publishing would only wait for
            // deliveries that cannot come (up to the shutdown timeout, then the flush): the outbox keeps its rows for the
            // next start instead.
            let brokerAnswered = await consumer.close(within: KafkaConsumer.closeTimeout)
            if let publisher {
                await publisher.drain(until: brokerAnswered ? .now + configuration.shutdownTimeout : .now)
                await publisher.producer.close(timeout: KafkaProducer.closeTimeout(brokerAnswered: brokerAnswered))
            }
            signal.finish()
            return ((failure, brokerAnswered), giveUp: !brokerAnswered)
        }
        // The dead-letter and chunk producer (its records' inputs have no rows yet and are consumed again).
        await producer?.close(timeout: KafkaProducer.closeTimeout(brokerAnswered: brokerAnswered))
        let totals = statistics.snapshot
        logger.info(
            "stopped",
            metadata: [
                "consumed": "\(totals.consumed)", "ok": "\(totals.ok)", "errors": "\(totals.errors)",
                "retried": "\(totals.retried)", "dead_lettered": "\(totals.deadLettered)",
                "concurrency_limit": "\(processor.adaptive?.current ?? configuration.concurrency)",
            ])
        if let failure { throw failure }
    }

    /// The publisher of the results topic, when one is configured, with an idempotent producer of its own.
    func resultsPublisher(group: String) async throws(KafkaError) -> ResultsPublisher? {
        guard let topic = configuration.resultsTopic else { return nil }
        return try await ResultsPublisher.make(
            topic: topic, kafka: kafka, store: store, group: group, limit: configuration.maxOutboxRows,
            value: configuration.resultsValue, logger: logger
        ) { [health] rows in
            health.update { $0.fullOutbox = rows }
        }
    }

    static func storeFailure(_ error: StoreError) -> PipelineError {
        PipelineError(
            .store,
            "\(error). Stopped consuming; offsets stay at the last durable row, so after fixing this "
                + "a restart resumes without losing anything")
    }

}

/// Hooks for what runs beside the pipeline (systemd notifications). Called from the dispatch loop: keep them short.
public struct PipelineObserver: Sendable {
    /// The first assignment arrived: the pipeline has joined its group and opened the store.
    public var onReady: @Sendable () -> Void
    /// The pipeline stopped fetching and is finishing in-flight work.
    public var onStopping: @Sendable () -> Void

    /// Creates an observer.
    public init(onReady: @escaping @Sendable () -> Void = {}, onStopping: @escaping @Sendable () -> Void = {}) {
        self.onReady = onReady
        self.onStopping = onStopping
    }
}
