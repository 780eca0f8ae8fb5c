import AlgoqueueAlgorithms
import AlgoqueueFlowControl
import AlgoqueueKafka
import AlgoqueueResultsTopic
import AlgoqueueStore
import AlgoqueueSupport
import AlgoqueueWriter
import ServiceLifecycle
import Synchronization

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
        var machine = DispatchMachine(
            batching: configuration.batch, ordering: configuration.ordering, untilIdle: configuration.untilIdle)
        var failure: PipelineError?
        // One call per message, unordered: call workers take the messages from this queue, which holds as many as
        // there are workers (consumed counts them: it runs ahead of the calls by at most twice the concurrency).
        // Closed with the intake: waiting workers end, and a loop waiting for room goes on to the stop.
        let queue = WorkQueue(bound: configuration.maxCallsInFlight)
        intake.register(queue)
        var workersStarted = false
        var consumed = kafka
        consumed.topics = dispatch.topics
        let groupIdle = GroupIdleCheck(kafka: consumed, admin: dispatch.processor.splitter?.admin, logger: logger) {
            sink.yield(.groupAnswered)
        }
        await withDiscardingTaskGroup { beside in
            // With --until-idle, the group's progress is asked beside the loop, and ends with it.
            if configuration.untilIdle { beside.addTask { await groupIdle.run() } }
            await withDiscardingTaskGroup { calls in
                loop: for await signal in signals.cancelOnGracefulShutdown() {
                    if intake.isClosed, case .kafka(.messages) = signal { break loop }
                    for action in machine.handle(signal, tracker: dispatch.tracker) {
                        switch action {
                        case .call(let work):
                            if !workersStarted {
                                workersStarted = true
                                Self.startWorkers(configuration.maxCallsInFlight, calls: &calls, queue: queue, dispatch)
                            }
                            await queue.put(work)
                        case .callInLane(let work, let lane):
                            // The lane's task runs its messages one after another; the loop never waits here.
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
                        case .callBatch(let works):
                            guard await Self.startBatch(works, calls: &calls, dispatch) else { break loop }
                        case .startLinger(let number):
                            let linger = configuration.batch.linger
                            calls.addTask {
                                if await intake.sleep(for: linger) { sink.yield(.linger(number)) }
                            }
                        case .release(let messages, let bytes):
                            consumer.release(messages: messages, bytes: bytes)
                        case .consumed(let count):
                            statistics.update { $0.consumed += count }
                            statistics.markConsumed()
                        case .joined:
                            health.update {
                                $0.joined = true
                                $0.lastProgress = ContinuousClock.now
                            }
                            observer.onReady()
                        case .askCommitted(let partitions):
                            if let admin = dispatch.processor.splitter?.admin,
                                let committed = try? await admin.committedOffsets(partitions)
                            {
                                machine.committedElsewhere(committed)
                            }
                        case .fail(let error):
                            failure = error
                            break loop
                        }
                    }
                    if intake.isClosed, let stop = dispatch.givenUp.withLock({ $0 }) {
                        failure = stop
                        break loop
                    }
                    if configuration.untilIdle, machine.isIdle,
                        groupIdle.othersDone(assignment: machine.state.assignment)
                    {
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
