import AlgoqueueAlgorithms
import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import ServiceLifecycle
import Synchronization

/// What the dispatch loop knows about the assignment, for `untilIdle`.
struct DispatchState {
    /// An assignment (possibly empty) has been received and not revoked since.
    var assignmentKnown = false
    var assignment: Set<TopicPartition> = []
    /// Partitions read to their end, with the end offset seen.
    var atEnd: [TopicPartition: Int64] = [:]
    /// The offset after the last message received per partition (or its start offset).
    var position: [TopicPartition: Int64] = [:]
    /// Messages consumed whose rows are not durable yet.
    var outstanding = 0
    /// Per partition, the offset after the last chunk this instance published there: an end before it is stale.
    var published: [TopicPartition: Int64] = [:]

    /// Every assigned partition is read to its end and everything consumed is written.
    var isIdle: Bool {
        assignmentKnown && outstanding == 0 && assignment.allSatisfy { atEnd[$0] != nil }
    }
}

/// Inputs waiting to go out together in one micro-batch call.
struct PendingBatch {
    var works: [OrderingLanes.Work] = []
    var bytes = 0
    /// Numbers batches, so that a linger timer only flushes the batch it was started for.
    var number = 0

    mutating func take() -> [OrderingLanes.Work] {
        defer {
            works = []
            bytes = 0
            number += 1
        }
        return works
    }
}

extension Pipeline {
    /// The loop: hands each message to a call under the concurrency limit, follows the assignment, and stops on
    /// graceful shutdown, idle or failure. Returns after every call has finished or been abandoned.
    func dispatch(
        signals: AsyncStream<Signal>, sink: AsyncStream<Signal>.Continuation, consumer: KafkaConsumer,
        writer: ResultWriter, tracker: Locked<OffsetTracker>, processor: InputProcessor
    ) async -> PipelineError? {
        let limiter = ConcurrencyLimiter(capacity: configuration.concurrency)
        let lanes = OrderingLanes(ordering: configuration.ordering)
        let batching = configuration.batch
        var batch = PendingBatch()
        var state = DispatchState()
        var failure: PipelineError?
        await withDiscardingTaskGroup { calls in
            loop: for await signal in signals.cancelOnGracefulShutdown() {
                switch signal {
                case .kafka(.messages(let arrived)):
                    messages: for message in arrived {
                        let partition = message.topicPartition
                        if let end = state.atEnd[partition], message.offset >= end { state.atEnd[partition] = nil }
                        state.position[partition] = max(state.position[partition] ?? 0, message.offset + 1)
                        guard let generation = tracker.withLock({ $0.receive(partition, offset: message.offset) }) else {
                            consumer.release(messages: 1, bytes: message.byteCount)
                            continue messages
                        }
                        state.outstanding += 1
                        statistics.update { $0.consumed += 1 }
                        statistics.markConsumed()
                        let work = OrderingLanes.Work(message: message, generation: generation)
                        if let lane = lanes.lane(of: message) {
                            // Ordered: the lane's task runs its messages one after another; the loop never waits here.
                            if lanes.enqueue(work, on: lane) {
                                calls.addTask {
                                    var next: OrderingLanes.Work? = work
                                    while let current = next {
                                        await limiter.acquire()
                                        if lanes.isStopping {
                                            limiter.release()
                                            break
                                        }
                                        await Self.run(current, processor: processor, writer: writer)
                                        limiter.release()
                                        next = lanes.next(on: lane)
                                    }
                                }
                            }
                        } else if batching.enabled {
                            if batch.works.isEmpty {
                                let number = batch.number
                                let linger = batching.linger
                                calls.addTask {
                                    try? await Task.sleep(for: linger)
                                    sink.yield(.linger(number))
                                }
                            }
                            batch.works.append(work)
                            batch.bytes += message.value?.count ?? 0
                            if batch.works.count >= batching.maxItems || batch.bytes >= batching.maxBytes {
                                await Self.startBatch(batch.take(), calls: &calls, limiter: limiter, processor: processor, writer: writer)
                            }
                        } else {
                            await limiter.acquire()
                            calls.addTask {
                                defer { limiter.release() }
                                await Self.run(work, processor: processor, writer: writer)
                            }
                        }
                    }
                case .linger(let number):
                    if number == batch.number, !batch.works.isEmpty {
                        await Self.startBatch(batch.take(), calls: &calls, limiter: limiter, processor: processor, writer: writer)
                    }
                case .kafka(.assigned(let partitions)):
                    state.assignmentKnown = true
                    if !health.joined {
                        health.update {
                            $0.joined = true
                            $0.lastProgress = ContinuousClock.now
                        }
                        observer.onReady()
                    }
                    for (partition, start) in partitions {
                        _ = tracker.withLock { $0.assign(partition, start: start) }
                        state.assignment.insert(partition)
                        state.atEnd[partition] = nil
                        state.position[partition] = start
                    }
                case .kafka(.revoked(let partitions)):
                    for partition in partitions {
                        tracker.withLock { $0.revoke(partition) }
                        state.assignment.remove(partition)
                        state.atEnd[partition] = nil
                        state.position[partition] = nil
                    }
                    // Nothing assigned after a revocation means a rebalance is under way (or the group was lost):
                    // not idle until the next assignment says what this instance owns.
                    if state.assignment.isEmpty { state.assignmentKnown = false }
                case .kafka(.endOfPartition(let partition, let nextOffset)):
                    // An end reported before a pause may lie beyond messages still to be fetched again.
                    if state.assignment.contains(partition), (state.position[partition] ?? nextOffset) >= nextOffset,
                        nextOffset >= state.published[partition] ?? 0
                    {
                        state.atEnd[partition] = nextOffset
                    }
                case .kafka(.error(let error)):
                    if error.code == .fatal {
                        failure = PipelineError(.kafka, "Kafka client failed and cannot go on: \(error)")
                        break loop
                    }
                case .durable(let messages):
                    state.outstanding -= messages
                case .published(let ends):
                    // Chunks this instance published lie beyond an end seen before: not idle until they are read.
                    for (partition, next) in ends {
                        state.published[partition] = max(state.published[partition] ?? 0, next)
                        if (state.atEnd[partition] ?? .max) < next { state.atEnd[partition] = nil }
                    }
                case .tick:
                    var lag: [TopicPartition: Int64] = [:]
                    for partition in state.assignment {
                        guard let high = consumer.highWatermark(partition) else { continue }
                        let durable = tracker.withLock { $0.watermark(partition) } ?? state.position[partition] ?? high
                        lag[partition] = max(0, high - durable)
                    }
                    health.update { $0.lag = lag }
                    metrics.setLag(lag)
                    metrics.sync(statistics.snapshot, inFlight: limiter.inFlight)
                case .writerFailed(let error):
                    failure = Self.storeFailure(error)
                    break loop
                }
                if configuration.untilIdle, state.isIdle {
                    logger.info("idle: every assigned partition is consumed to its end and written")
                    break loop
                }
            }
            lanes.stop()
            if failure != nil {
                calls.cancelAll()
                return
            }
            await finishInFlight(limiter: limiter, cancel: { calls.cancelAll() })
        }
        return failure
    }

    /// Processes one message and hands its rows to the writer (nothing when a stop cancelled it).
    static func run(_ work: OrderingLanes.Work, processor: InputProcessor, writer: ResultWriter) async {
        guard let processed = await processor.process(work.message) else { return }
        writer.submit(
            CompletedMessage(
                partition: work.message.topicPartition, generation: work.generation, offset: work.message.offset,
                byteCount: work.message.byteCount, rows: processed.rows, split: processed.split, chunk: processed.chunk))
    }

    /// Waits for a concurrency slot, then processes `works` as one micro-batch call in the group.
    static func startBatch(
        _ works: [OrderingLanes.Work], calls: inout DiscardingTaskGroup, limiter: ConcurrencyLimiter,
        processor: InputProcessor, writer: ResultWriter
    ) async {
        await limiter.acquire()
        calls.addTask {
            defer { limiter.release() }
            await runBatch(works, processor: processor, writer: writer)
        }
    }

    /// Processes a micro-batch and hands each message's row to the writer (nothing when a stop cancelled it).
    static func runBatch(_ works: [OrderingLanes.Work], processor: InputProcessor, writer: ResultWriter) async {
        guard let rows = await processor.processBatch(works.map(\.message)) else { return }
        writer.submit(
            contentsOf: zip(works, rows).map { work, messageRows in
                CompletedMessage(
                    partition: work.message.topicPartition, generation: work.generation, offset: work.message.offset,
                    byteCount: work.message.byteCount, rows: messageRows)
            })
    }

    /// Waits up to `shutdownTimeout` for calls in flight, then cancels the rest (they are consumed again next time).
    func finishInFlight(limiter: ConcurrencyLimiter, cancel: () -> Void) async {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.shutdownTimeout
        if limiter.inFlight > 0 {
            logger.info("waiting for \(limiter.inFlight) call(s) in flight", metadata: ["timeout": "\(configuration.shutdownTimeout.text)"])
        }
        while limiter.inFlight > 0, clock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if limiter.inFlight > 0 {
            logger.warning("abandoning \(limiter.inFlight) call(s) still in flight; their inputs will be consumed again")
            cancel()
        }
    }
}
