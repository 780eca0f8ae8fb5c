import AlgoqueueAlgorithms
import AlgoqueueFlowControl
import AlgoqueueKafka
import AlgoqueueResultsTopic
import AlgoqueueStore
import AlgoqueueSupport
import AlgoqueueWriter
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
    /// The group's committed offsets of partitions this instance published chunks to but does not own.
    var committedElsewhere: [TopicPartition: Int64] = [:]

    /// Chunks this instance published to partitions it does not own, not yet committed by the group.
    var chunksElsewhere: [TopicPartition] {
        published.filter { !assignment.contains($0.key) && (committedElsewhere[$0.key] ?? -1) < $0.value }.map(\.key)
    }

    /// Every assigned partition is read to its end, everything consumed is written, and the chunks this instance
    /// published elsewhere have been consumed by the group (an instance that left before they arrived would
    /// otherwise leave them for the next run).
    var isIdle: Bool {
        assignmentKnown && outstanding == 0 && assignment.allSatisfy { atEnd[$0] != nil } && chunksElsewhere.isEmpty
    }
}

/// Inputs waiting to go out together in one micro-batch call.
struct PendingBatch {
    var works: [OrderingLanes.Work] = []
    var bytes = 0
    /// Numbers batches, so that a linger timer only flushes the batch it was started for.
    var number = 0
    /// The number of the batch a linger timer was started for.
    var lingering: Int?

    mutating func take() -> [OrderingLanes.Work] {
        defer {
            works = []
            bytes = 0
            number += 1
        }
        return works
    }
}

/// What the dispatch loop shares with the calls it starts.
struct Dispatch: Sendable {
    let processor: InputProcessor
    let writer: ResultWriter
    let tracker: Locked<OffsetTracker>
    /// Bounds messages (or micro-batches) in flight; closed with the intake.
    let callSlots: ConcurrencyLimiter
    /// Closed on a stop: no call starts after that.
    let intake: Intake
    let lanes: OrderingLanes
    /// The topics consumed (a split batch's work topic included).
    let topics: [String]
    /// Why the run gave up (``Pipeline/watchForGivingUp(_:)``), once it has.
    let givenUp = Locked<PipelineError?>(nil)
}

extension Pipeline {
    /// The loop: hands each message to a call under the concurrency limit, follows the assignment, and stops on
    /// graceful shutdown, idle or failure. Returns after every call has finished or been abandoned.
    ///
    /// A stop closes the intake at once (from the shutdown handler, the writer or the consumer's events): the loop
    /// may be waiting for a call slot in the middle of an event, and no call may start after the signal.
    func dispatch(
        signals: AsyncStream<Signal>, sink: AsyncStream<Signal>.Continuation, consumer: KafkaConsumer,
        dispatch: Dispatch
    ) async -> PipelineError? {
        let (callSlots, lanes, intake) = (dispatch.callSlots, dispatch.lanes, dispatch.intake)
        let batching = configuration.batch
        var batch = PendingBatch()
        var state = DispatchState()
        var failure: PipelineError?
        // One call per message, unordered: call workers take the messages from this queue, which holds as many as
        // there are workers (consumed counts them: it runs ahead of the calls by at most twice the concurrency).
        // Closed with the intake: waiting workers end, and a loop waiting for room goes on to the stop.
        let queue = WorkQueue(bound: configuration.maxCallsInFlight)
        intake.register(queue)
        var workersStarted = false
        var consumed = kafka
        consumed.topics = dispatch.topics
        let groupIdle = GroupIdleCheck(kafka: consumed, admin: dispatch.processor.splitter?.admin, logger: logger)
        await withDiscardingTaskGroup { beside in
            // With --until-idle, the group's progress is asked beside the loop, and ends with it.
            if configuration.untilIdle { beside.addTask { await groupIdle.run() } }
            await withDiscardingTaskGroup { calls in
                loop: for await signal in signals.cancelOnGracefulShutdown() {
                    if intake.isClosed, case .kafka(.messages) = signal { break loop }
                    switch signal {
                    case .kafka(.messages(let arrived)):
                        let (works, refused) = Self.receive(arrived, state: &state, tracker: dispatch.tracker)
                        if refused.messages > 0 { consumer.release(messages: refused.messages, bytes: refused.bytes) }
                        if !works.isEmpty {
                            state.outstanding += works.count
                            statistics.update { $0.consumed += works.count }
                            statistics.markConsumed()
                        }
                        for work in works {
                            let message = work.message
                            if let lane = lanes.lane(of: message) {
                                // Ordered: the lane's task runs its messages one after another; the loop never waits here.
                                if lanes.enqueue(work, on: lane) {
                                    calls.addTask {
                                        var next: OrderingLanes.Work? = work
                                        while let current = next, await callSlots.acquire() {
                                            await Self.run(current, dispatch)
                                            callSlots.release()
                                            next = lanes.next(on: lane)
                                        }
                                    }
                                }
                            } else if batching.enabled {
                                batch.works.append(work)
                                batch.bytes += message.value?.count ?? 0
                                if batch.works.count >= batching.maxItems || batch.bytes >= batching.maxBytes {
                                    guard await Self.startBatch(batch.take(), calls: &calls, dispatch) else {
                                        break loop
                                    }
                                }
                            } else {
                                if !workersStarted {
                                    workersStarted = true
                                    Self.startWorkers(
                                        configuration.maxCallsInFlight, calls: &calls, queue: queue, dispatch)
                                }
                                await queue.put(work)
                            }
                        }
                        // A batch these messages left unfilled waits `batch.linger` for more. One that filled within the
                        // run (the usual case under load) needed no timer: none is started for it.
                        if batching.enabled, !batch.works.isEmpty, batch.lingering != batch.number {
                            let (number, linger) = (batch.number, batching.linger)
                            batch.lingering = number
                            calls.addTask {
                                if await intake.sleep(for: linger) { sink.yield(.linger(number)) }
                            }
                        }
                    case .linger(let number):
                        if number == batch.number, !batch.works.isEmpty {
                            guard await Self.startBatch(batch.take(), calls: &calls, dispatch) else { break loop }
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
                            _ = dispatch.tracker.withLock { $0.assign(partition, start: start) }
                            state.assignment.insert(partition)
                            state.atEnd[partition] = nil
                            state.position[partition] = start
                        }
                    case .kafka(.revoked(let partitions)):
                        // The tracker forgot them when the event arrived (so that queued work for them does not start),
                        // unless the loop had not yet seen the assignment this revokes: forget them again, in order.
                        for partition in partitions {
                            dispatch.tracker.withLock { $0.revoke(partition) }
                            state.assignment.remove(partition)
                            state.atEnd[partition] = nil
                            state.position[partition] = nil
                        }
                        // Nothing assigned after a revocation means a rebalance is under way (or the group was lost):
                        // not idle until the next assignment says what this instance owns.
                        if state.assignment.isEmpty { state.assignmentKnown = false }
                    case .kafka(.endOfPartition(let partition, let nextOffset)):
                        // An end reported before a pause may lie beyond messages still to be fetched again.
                        if state.assignment.contains(partition),
                            (state.position[partition] ?? nextOffset) >= nextOffset,
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
                        if configuration.untilIdle, let admin = dispatch.processor.splitter?.admin {
                            let elsewhere = state.chunksElsewhere
                            if !elsewhere.isEmpty, let committed = try? await admin.committedOffsets(elsewhere) {
                                state.committedElsewhere.merge(committed) { max($0, $1) }
                            }
                        }
                    case .writerFailed(let error):
                        failure = Self.storeFailure(error)
                        break loop
                    }
                    if intake.isClosed, let stop = dispatch.givenUp.withLock({ $0 }) {
                        failure = stop
                        break loop
                    }
                    if configuration.untilIdle, state.isIdle, groupIdle.othersDone(assignment: state.assignment) {
                        logger.info("idle: every partition is consumed to its end and written")
                        break loop
                    }
                }
                intake.close()
                lanes.stop()
                // Giving up closed the intake, which may have ended the loop before it saw why.
                if failure == nil, let stop = dispatch.givenUp.withLock({ $0 }) { failure = stop }
                if failure != nil {
                    calls.cancelAll()
                    return
                }
                await finishInFlight(callSlots: callSlots, cancel: { calls.cancelAll() })
            }
            beside.cancelAll()
        }
        return failure
    }

    /// The messages of `arrived` to call, each with its partition's generation; the others (partitions not
    /// assigned, offsets received before) are counted in `refused`, for the consumer to release at once. Messages
    /// arrive in runs from one partition: the bookkeeping (end, position, tracker) is done once per run, not once
    /// per message.
    static func receive(
        _ arrived: [KafkaMessage], state: inout DispatchState, tracker: Locked<OffsetTracker>
    ) -> (works: [OrderingLanes.Work], refused: (messages: Int, bytes: Int)) {
        var works: [OrderingLanes.Work] = []
        works.reserveCapacity(arrived.count)
        var refused = (messages: 0, bytes: 0)
        var start = arrived.startIndex
        while start < arrived.endIndex {
            let first = arrived[start]
            var end = start + 1
            while end < arrived.endIndex, arrived[end].partition == first.partition, arrived[end].topic == first.topic {
                end += 1
            }
            let run = arrived[start..<end]
            let partition = first.topicPartition
            let last = run.lazy.map(\.offset).max()!
            if let atEnd = state.atEnd[partition], last >= atEnd { state.atEnd[partition] = nil }
            state.position[partition] = max(state.position[partition] ?? 0, last + 1)
            tracker.withLock { tracker in
                var index = run.startIndex
                tracker.receive(partition, offsets: run.lazy.map(\.offset)) { generation in
                    if let generation {
                        works.append(OrderingLanes.Work(message: run[index], generation: generation))
                    } else {
                        refused.messages += 1
                        refused.bytes += run[index].byteCount
                    }
                    index += 1
                }
            }
            start = end
        }
        return (works, refused)
    }

    /// Starts `count` call workers: each takes the next message from `queue`, waits for a call slot and processes it,
    /// until the queue or the slots close. A worker runs where the algorithm's calls are answered (the event loop of
    /// its connections, when the algorithm says), so that a call and the next one need no hop between threads.
    static func startWorkers(_ count: Int, calls: inout DiscardingTaskGroup, queue: WorkQueue, _ dispatch: Dispatch) {
        let targets = dispatch.processor.targets
        for worker in 0..<count {
            let executor =
                targets.count == 1 ? (targets[0].algorithm as? any PlacesCallWorkers)?.executor(forWorker: worker) : nil
            calls.addTask(executorPreference: executor) {
                while let work = await queue.next() {
                    await waitForWriter(dispatch)
                    guard await dispatch.callSlots.acquire() else { break }
                    await run(work, dispatch)
                    dispatch.callSlots.release()
                }
            }
        }
    }

    /// Processes one message and hands its rows to the writer; a message whose partition was revoked meanwhile is
    /// not called (its new owner calls it).
    static func run(_ work: OrderingLanes.Work, _ dispatch: Dispatch) async {
        let message = work.message
        var completed = CompletedMessage(unfinished: work)
        if dispatch.tracker.withLock({ $0.isCurrent(message.topicPartition, generation: work.generation) }) {
            let processed = await dispatch.processor.process(message)
            completed.rows = processed.rows
            completed.complete = processed.complete
            completed.split = processed.split
            completed.chunk = processed.complete ? processed.chunk : nil
            completed.splitInfo = processed.splitInfo
        }
        dispatch.writer.submit(completed)
    }

    /// Waits for a concurrency slot, then processes `works` as one micro-batch call in the group. Returns false,
    /// starting nothing, once the intake is closed.
    static func startBatch(_ works: [OrderingLanes.Work], calls: inout DiscardingTaskGroup, _ dispatch: Dispatch) async
        -> Bool
    {
        await waitForWriter(dispatch)
        guard await dispatch.callSlots.acquire() else { return false }
        calls.addTask {
            defer { dispatch.callSlots.release() }
            await runBatch(works, dispatch)
        }
        return true
    }

    /// Processes a micro-batch and hands each message's row to the writer. Messages of revoked partitions are left
    /// out of the call; when a stop cancelled it, the messages go to the writer without rows (offsets stay).
    static func runBatch(_ works: [OrderingLanes.Work], _ dispatch: Dispatch) async {
        var completed = works.map { CompletedMessage(unfinished: $0) }
        let current = dispatch.tracker.withLock { tracker in
            works.indices.filter {
                tracker.isCurrent(works[$0].message.topicPartition, generation: works[$0].generation)
            }
        }
        if !current.isEmpty, let rows = await dispatch.processor.processBatch(current.map { works[$0].message }) {
            for (index, messageRows) in zip(current, rows) {
                completed[index].rows = messageRows
                completed[index].complete = true
            }
        }
        dispatch.writer.submit(contentsOf: completed)
    }

    /// Waits while the writer is behind (``ResultWriter/isBehind``): a new call would only add rows to its queue.
    /// A stop ends the wait; the call slot that follows then refuses.
    static func waitForWriter(_ dispatch: Dispatch) async {
        guard dispatch.writer.isBehind else { return }
        // Woken when the writer takes a transaction off its queue, and when the intake closes.
        while true {
            let seen = dispatch.writer.caughtUp.generation
            guard dispatch.writer.isBehind, !dispatch.intake.isClosed, !Task.isCancelled else { return }
            await dispatch.writer.caughtUp.wait(since: seen, atMost: .seconds(1))
        }
    }

    /// Waits up to `shutdownTimeout` for calls in flight, then cancels the rest (they are consumed again next time).
    func finishInFlight(callSlots: ConcurrencyLimiter, cancel: () -> Void) async {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.shutdownTimeout
        if callSlots.inFlight > 0 {
            logger.info(
                "stopping: no new call starts; waiting for \(callSlots.inFlight) in flight",
                metadata: ["timeout": "\(configuration.shutdownTimeout.text)"])
        }
        if !(await callSlots.waitUntilIdle(before: deadline)) {
            logger.warning(
                "abandoning \(callSlots.inFlight) call(s) still in flight; their inputs will be consumed again")
            cancel()
        }
    }
}
