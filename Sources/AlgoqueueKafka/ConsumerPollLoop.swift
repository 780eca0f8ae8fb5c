import CRdKafka
import Glibc
import Logging

/// The consumer's poll thread: the only place that polls, assigns, pauses, commits and closes.
///
/// `@unchecked Sendable`: every stored property is touched only on the poll thread (the rebalance callback
/// runs inside `rd_kafka_consumer_poll` on that same thread).
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
    /// The last topic name made into text, by the address librdkafka keeps it at (see ``topicName(_:)``).
    var lastTopic: (pointer: UnsafePointer<CChar>, text: String)?

    /// ``KafkaConsumerConfiguration/keptHeaders`` as C strings, compared before a header is copied.
    let keptHeaders: [[CChar]]?

    init(consumer: KafkaConsumer) {
        self.consumer = consumer
        keptHeaders = consumer.configuration.keptHeaders.map { $0.map { Array($0.utf8CString) } }
        flow = ConsumerFlowControl(
            maxMessages: consumer.configuration.maxBufferedMessages, maxBytes: consumer.configuration.maxBufferedBytes)
        fetcher = FetcherWake(properties: consumer.configuration.properties)
    }

    var handle: OpaquePointer { consumer.client.handle }
    var logger: Logger { consumer.logger }

    func run() {
        let clock = ContinuousClock()
        let interval = consumer.configuration.commitInterval
        var lastCommit = clock.now
        let queue = rd_kafka_queue_get_consumer(handle)
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
            if let queue { fetcher.saw(queued: Int(rd_kafka_queue_length(queue)), handOver: maxBatch) }
            switch flow.step(
                messages: messages, bytes: bytes, paused: paused, assigned: !assignment.isEmpty, now: clock.now)
            {
            case .hold:
                Self.napBriefly()
                continue
            case .pause: setPaused(true)
            case .resume: setPaused(false)
            case .poll: break
            }
            guard var message = rd_kafka_consumer_poll(handle, 50) else {
                if fetcher.shouldWake(paused: paused, assigned: !assignment.isEmpty) { wakeFetcher() }
                continue
            }
            // Whatever else is ready goes out with it, in one event: one hand-over per batch, not per message.
            var batch: [KafkaMessage] = []
            while true {
                deliver(message, into: &batch)
                rd_kafka_message_destroy(message)
                guard batch.count < maxBatch, let next = rd_kafka_consumer_poll(handle, 0) else { break }
                message = next
            }
            flush(&batch)
        }
        if let queue { rd_kafka_queue_destroy(queue) }
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
        consumer.shared.withLock { state in
            state.unreleasedMessages += count
            state.unreleasedBytes += size
        }
        consumer.continuation.yield(.messages(batch))
        batch = []
    }

    /// Copies one polled message out of librdkafka into `batch`; a partition end or an error goes out as its own
    /// event, after the messages before it.
    func deliver(_ pointer: UnsafeMutablePointer<rd_kafka_message_t>, into batch: inout [KafkaMessage]) {
        let raw = pointer.pointee
        let topic = raw.rkt.map { topicName(rd_kafka_topic_name($0)) } ?? ""
        if raw.err != RD_KAFKA_RESP_ERR_NO_ERROR { flush(&batch) }
        switch raw.err {
        case RD_KAFKA_RESP_ERR_NO_ERROR:
            batch.append(
                KafkaMessage(
                    topic: topic, partition: raw.partition, offset: raw.offset,
                    key: raw.key.map { Array(UnsafeRawBufferPointer(start: $0, count: raw.key_len)) },
                    value: raw.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: raw.len)) },
                    headers: headers(of: pointer), timestampMilliseconds: timestamp(of: pointer)))
        case RD_KAFKA_RESP_ERR__PARTITION_EOF:
            consumer.continuation.yield(.endOfPartition(TopicPartition(topic, raw.partition), nextOffset: raw.offset))
        default:
            let text = String(cString: rd_kafka_message_errstr(pointer))
            let code: KafkaError.Code = raw.err == RD_KAFKA_RESP_ERR__FATAL ? .fatal : .consumer
            let location = topic.isEmpty ? "" : " (\(topic)[\(raw.partition)])"
            let error = KafkaError(code, "consumer: \(text)\(location)", rdkafkaCode: Int(raw.err.rawValue))
            logger.warning("Kafka: \(error)")
            consumer.continuation.yield(.error(error))
        }
    }

    /// The topic's name as text, made once for a run of messages from one topic rather than once per message (a
    /// name longer than 15 bytes is an allocation each time).
    func topicName(_ name: UnsafePointer<CChar>) -> String {
        if let last = lastTopic, last.pointer == name, strcmp(last.pointer, name) == 0 { return last.text }
        let text = String(cString: name)
        lastTopic = (name, text)
        return text
    }

    func headers(of pointer: UnsafeMutablePointer<rd_kafka_message_t>) -> [KafkaHeader] {
        var headers: OpaquePointer?
        guard rd_kafka_message_headers(pointer, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR, let headers else { return [] }
        var result: [KafkaHeader] = []
        var index = 0
        while true {
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            guard rd_kafka_header_get_all(headers, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR,
                let name
            else { break }
            index += 1
            if let keptHeaders, !keptHeaders.contains(where: { strcmp($0, name) == 0 }) { continue }
            result.append(
                KafkaHeader(
                    name: String(cString: name),
                    value: value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }))
        }
        return result
    }

    func timestamp(of pointer: UnsafeMutablePointer<rd_kafka_message_t>) -> Int64? {
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let value = rd_kafka_message_timestamp(pointer, &type)
        return type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || value < 0 ? nil : value
    }

    /// One millisecond: how often a hold looks whether the pipeline has caught up.
    static func napBriefly() {
        var interval = timespec(tv_sec: 0, tv_nsec: 1_000_000)
        nanosleep(&interval, nil)
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
        let list = TopicPartitionList.make(Array(partitions))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let result = pause ? rd_kafka_pause_partitions(handle, list) : rd_kafka_resume_partitions(handle, list)
        if result == RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.debug("\(pause ? "paused" : "resumed") \(partitions.count) partition(s)")
        } else {
            logger.warning("could not \(pause ? "pause" : "resume") partitions: \(RdKafkaConfig.describe(result))")
        }
    }

    /// Commits offsets of assigned partitions, without waiting; a failure is logged by the commit callback.
    func commit(_ offsets: [TopicPartition: Int64]) {
        withAssigned(offsets) { _ = rd_kafka_commit(handle, $0, 1) }
    }

    /// Runs `body` with a librdkafka list of those `offsets` whose partitions are assigned; not when there are none.
    func withAssigned(
        _ offsets: [TopicPartition: Int64], _ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void
    ) {
        let owned = offsets.filter { assignment.contains($0.key) }
        guard !owned.isEmpty else { return }
        let list = TopicPartitionList.make(Array(owned.keys), offsets: owned)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        body(list)
    }
}
