import Glibc
import Logging

/// The consumer's poll thread: the only place that polls, assigns, pauses, commits and closes.
///
/// `@unchecked Sendable`: every stored property is touched only on the poll thread (the rebalance callback
/// runs inside librdkafka's poll on that same thread). Its calls to librdkafka are in
/// Bridge/RdKafkaClient+Polling.swift.
final class ConsumerPollLoop: @unchecked Sendable {
    let consumer: KafkaConsumer
    var assignment: Set<TopicPartition> = []
    /// What algoqueue paused; only that is ever resumed (see ``PausedPartitions``).
    var pauses = PausedPartitions()
    var paused: Bool { pauses.isPaused }
    /// Set once the consumer starts leaving its group: an assignment that still comes is declined.
    var leaving = false
    var flow: ConsumerFlowControl
    var fetcher: FetcherWake
    /// Copies polled messages out of librdkafka, keeping ``KafkaConsumerConfiguration/keptHeaders``.
    var reader: PolledMessageReader

    init(consumer: KafkaConsumer) {
        self.consumer = consumer
        reader = PolledMessageReader(keptHeaders: consumer.configuration.keptHeaders)
        flow = ConsumerFlowControl(
            maxMessages: consumer.configuration.maxBufferedMessages, maxBytes: consumer.configuration.maxBufferedBytes)
        fetcher = FetcherWake(
            properties: consumer.configuration.properties, kilobytes: consumer.configuration.queuedKilobytes)
    }

    var client: RdKafkaClient { consumer.client }
    var logger: Logger { consumer.logger }

    func run() {
        let clock = ContinuousClock()
        let interval = consumer.configuration.commitInterval
        var lastCommit = clock.now
        let queue = RdKafkaConsumerQueue(client)
        var finalCommits: [TopicPartition: Int64] = [:]
        while true {
            // Offsets reach Kafka at most once per commit interval (the results store holds them at once; a
            // revocation or a close commits what is pending right away).
            let due = clock.now - lastCommit >= interval
            let (closing, commits, messages, bytes) = consumer.shared.withLock { state in
                let closing = state.lifecycle.isClosing
                guard due || closing else {
                    return (closing, [TopicPartition: Int64](), state.unreleasedMessages, state.unreleasedBytes)
                }
                defer { state.pendingCommits = [:] }
                return (closing, state.pendingCommits, state.unreleasedMessages, state.unreleasedBytes)
            }
            if !commits.isEmpty { lastCommit = clock.now }
            if closing {
                // The last commit goes with leaving the group (``leaveGroup(committing:)``); nothing is committed after.
                finalCommits = commits
                break
            }
            commit(commits)
            if let queued = queue.length { fetcher.saw(queued: queued, handOver: maxBatch) }
            switch flow.step(
                messages: messages, bytes: bytes, paused: paused, assigned: !assignment.isEmpty, now: clock.now)
            {
            case .hold:
                // Until the pipeline hands room back or a close is asked; commits due are served within the bound.
                consumer.holdWake.wait(atMost: .milliseconds(50))
                continue
            case .pause: setPaused(true)
            case .resume: setPaused(false)
            case .poll: break
            }
            guard var item = client.poll(milliseconds: 50, reader: &reader) else {
                if fetcher.shouldWake(paused: paused, assigned: !assignment.isEmpty) { wakeFetcher() }
                continue
            }
            // Whatever else is ready goes out with it, in one event: one hand-over per batch, not per message.
            var batch: [KafkaMessage] = []
            while true {
                deliver(item, into: &batch)
                guard batch.count < maxBatch, let next = client.poll(milliseconds: 0, reader: &reader) else { break }
                item = next
            }
            flush(&batch)
        }
        withExtendedLifetime(queue) {}
        let left = leaveGroup(committing: finalCommits)
        consumer.leftGroup.store(left, ordering: .relaxed)
        consumer.client.context.rebalance = nil
        consumer.continuation.finish()
        let waiters = consumer.shared.withLock { $0.lifecycle.pollingEnded() }
        for waiter in waiters { waiter.resume() }
    }

    /// The most messages handed over in one event (``KafkaConsumerConfiguration/handOverBatch``).
    var maxBatch: Int { consumer.configuration.handOverBatch }

    /// Hands the messages collected so far to the consumer's events, counting them as unreleased.
    func flush(_ batch: inout [KafkaMessage]) {
        guard !batch.isEmpty else { return }
        let size = batch.reduce(0) { $0 + $1.byteCount }
        let count = batch.count
        fetcher.delivered(messages: count, bytes: size)
        consumer.shared.withLock { state in
            state.unreleasedMessages += count
            state.unreleasedBytes += size
        }
        consumer.continuation.yield(.messages(batch))
        batch = []
    }

    /// Adds one polled item to `batch`; a partition end or an error goes out as its own event, after the messages
    /// before it.
    func deliver(_ item: PolledItem, into batch: inout [KafkaMessage]) {
        switch item {
        case .message(let message):
            batch.append(message)
        case .endOfPartition(let partition, let nextOffset):
            flush(&batch)
            consumer.continuation.yield(.endOfPartition(partition, nextOffset: nextOffset))
        case .error(let error):
            flush(&batch)
            logger.warning("Kafka: \(error)")
            consumer.continuation.yield(.error(error))
        }
    }

    /// Wakes the broker threads of a fetcher that stopped at `queued.min.messages` and whose queue is now empty, by
    /// asking each assigned partition's leader for its offsets (see ``FetcherWake``). A round trip per partition,
    /// while the poll thread has nothing else to do; at most a quarter of a second in all, so that a broker that
    /// stopped answering holds back no commit, rebalance or close for longer.
    func wakeFetcher() {
        _ = BoundedWatermarks.query(consumer.client, Array(assignment), within: .milliseconds(250))
        consumer.wakeUps.add(1, ordering: .relaxed)
        logger.debug("woke librdkafka's fetcher: its queue had reached queued.min.messages and is empty")
    }

    /// Pauses or resumes every assigned partition (see ``ConsumerFlowControl``); resumes only what was paused.
    func setPaused(_ pause: Bool) {
        let partitions = pause ? pauses.pause(assignment) : pauses.resume(assignment)
        apply(pause: pause, partitions)
    }

    /// Pauses or resumes `partitions` in librdkafka.
    func apply(pause: Bool, _ partitions: Set<TopicPartition>) {
        guard !partitions.isEmpty else { return }
        if let refusal = client.setPaused(pause, Array(partitions)) {
            logger.warning("could not \(pause ? "pause" : "resume") partitions: \(refusal)")
        } else {
            logger.debug("\(pause ? "paused" : "resumed") \(partitions.count) partition(s)")
        }
    }

    /// Commits offsets of assigned partitions, without waiting; a failure is logged by the commit callback.
    func commit(_ offsets: [TopicPartition: Int64]) {
        let owned = assigned(offsets)
        if !owned.isEmpty { client.commitAsync(owned) }
    }

    /// Those `offsets` whose partitions are assigned.
    func assigned(_ offsets: [TopicPartition: Int64]) -> [TopicPartition: Int64] {
        offsets.filter { assignment.contains($0.key) }
    }
}
