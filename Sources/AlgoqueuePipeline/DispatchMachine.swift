import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import AlgoqueueWriter

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

/// The dispatch loop's decisions: what each signal does to the assignment, the micro-batch being gathered and the
/// judgement of idle, and what the loop must then do. It starts no task and waits for nothing, so it is tested
/// without Kafka; ``Pipeline/dispatch(signals:sink:consumer:dispatch:)`` carries out the actions in order (as
/// ``ConsumerLifecycle`` does for the consumer).
struct DispatchMachine {
    enum Action {
        /// Call one message, unordered: hand it to a call worker.
        case call(OrderingLanes.Work)
        /// Call one message in its ordering lane, after those queued there before it.
        case callInLane(OrderingLanes.Work, lane: String)
        /// Call these messages as one micro-batch.
        case callBatch([OrderingLanes.Work])
        /// Start the linger timer of the batch with this number; it comes back as ``Pipeline/Signal/linger(_:)``.
        case startLinger(batch: Int)
        /// Hand back to the consumer what it buffered for messages that will not be called.
        case release(messages: Int, bytes: Int)
        /// Count messages consumed (statistics).
        case consumed(Int)
        /// The first assignment came: the instance has joined its group.
        case joined
        /// Ask the group's committed offsets of these partitions and report them with ``committedElsewhere(_:)``.
        case askCommitted([TopicPartition])
        /// Stop the loop: the run cannot go on.
        case fail(PipelineError)
    }

    let batching: BatchConfiguration
    let ordering: Ordering
    let untilIdle: Bool
    private(set) var state = DispatchState()
    private(set) var batch = PendingBatch()
    private(set) var joined = false

    init(batching: BatchConfiguration, ordering: Ordering, untilIdle: Bool) {
        self.batching = batching
        self.ordering = ordering
        self.untilIdle = untilIdle
    }

    /// Whether the instance's own part is done (see ``DispatchState/isIdle``); the group's part is asked apart.
    var isIdle: Bool { state.isIdle }

    /// A Kafka event or a signal of the pipeline's own.
    mutating func handle(_ signal: Pipeline.Signal, tracker: Locked<OffsetTracker>) -> [Action] {
        switch signal {
        case .kafka(.messages(let arrived)): return receive(arrived, tracker: tracker)
        case .linger(let number):
            guard number == batch.number, !batch.works.isEmpty else { return [] }
            return [.callBatch(batch.take())]
        case .kafka(.assigned(let partitions)):
            state.assignmentKnown = true
            for (partition, start) in partitions {
                _ = tracker.withLock { $0.assign(partition, start: start) }
                state.assignment.insert(partition)
                state.atEnd[partition] = nil
                state.position[partition] = start
            }
            if joined { return [] }
            joined = true
            return [.joined]
        case .kafka(.revoked(let partitions)):
            // The tracker forgot them when the event arrived (so that queued work for them does not start), unless
            // the loop had not yet seen the assignment this revokes: forget them again, in order.
            for partition in partitions {
                tracker.withLock { $0.revoke(partition) }
                state.assignment.remove(partition)
                state.atEnd[partition] = nil
                state.position[partition] = nil
            }
            // Nothing assigned after a revocation means a rebalance is under way (or the group was lost): not idle
            // until the next assignment says what this instance owns.
            if state.assignment.isEmpty { state.assignmentKnown = false }
            return []
        case .kafka(.endOfPartition(let partition, let nextOffset)):
            // An end reported before a pause may lie beyond messages still to be fetched again.
            if state.assignment.contains(partition), (state.position[partition] ?? nextOffset) >= nextOffset,
                nextOffset >= state.published[partition] ?? 0
            {
                state.atEnd[partition] = nextOffset
            }
            return []
        case .kafka(.error(let error)):
            guard error.code == .fatal else { return [] }
            return [.fail(PipelineError(.kafka, "Kafka client failed and cannot go on: \(error)"))]
        case .durable(let messages):
            state.outstanding -= messages
            return []
        case .published(let ends):
            // Chunks this instance published lie beyond an end seen before: not idle until they are read.
            for (partition, next) in ends {
                state.published[partition] = max(state.published[partition] ?? 0, next)
                if (state.atEnd[partition] ?? .max) < next { state.atEnd[partition] = nil }
            }
            return []
        case .tick:
            let elsewhere = untilIdle ? state.chunksElsewhere : []
            return elsewhere.isEmpty ? [] : [.askCommitted(elsewhere)]
        case .writerFailed(let error):
            return [.fail(Pipeline.storeFailure(error))]
        case .groupAnswered:
            // Nothing to do here: the loop judges idle after every signal.
            return []
        }
    }

    /// The group's committed offsets of partitions this instance published chunks to (``Action/askCommitted(_:)``).
    mutating func committedElsewhere(_ committed: [TopicPartition: Int64]) {
        state.committedElsewhere.merge(committed) { max($0, $1) }
    }

    /// Messages arrived: those of assigned partitions not received before become calls, in their lane, batch or
    /// alone; the others are released.
    private mutating func receive(_ arrived: [KafkaMessage], tracker: Locked<OffsetTracker>) -> [Action] {
        let (works, refused) = Self.receive(arrived, state: &state, tracker: tracker)
        var actions: [Action] = []
        actions.reserveCapacity(works.count + 3)
        if refused.messages > 0 { actions.append(.release(messages: refused.messages, bytes: refused.bytes)) }
        guard !works.isEmpty else { return actions }
        state.outstanding += works.count
        actions.append(.consumed(works.count))
        for work in works {
            if let lane = ordering.lane(of: work.message) {
                actions.append(.callInLane(work, lane: lane))
            } else if batching.enabled {
                batch.works.append(work)
                batch.bytes += work.message.value?.count ?? 0
                if batch.works.count >= batching.maxItems || batch.bytes >= batching.maxBytes {
                    actions.append(.callBatch(batch.take()))
                }
            } else {
                actions.append(.call(work))
            }
        }
        // A batch these messages left unfilled waits `batch.linger` for more. One that filled within the run (the
        // usual case under load) needed no timer: none is started for it.
        if batching.enabled, !batch.works.isEmpty, batch.lingering != batch.number {
            batch.lingering = batch.number
            actions.append(.startLinger(batch: batch.number))
        }
        return actions
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
}
