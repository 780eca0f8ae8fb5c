import CRdKafka
import Glibc

/// What one poll of the consumer gave, copied out of librdkafka.
enum PolledItem {
    case message(KafkaMessage)
    /// The partition is read to its current end; the next message will have `nextOffset`.
    case endOfPartition(TopicPartition, nextOffset: Int64)
    case error(KafkaError)
}

/// An assignment change, as the rebalance callback reports it to the poll thread.
enum RebalanceEvent {
    case assign([TopicPartition])
    case revoke([TopicPartition])
    /// The rebalance failed (librdkafka's description): the assignment is to be dropped.
    case failed(String)
}

/// Copies polled messages into Swift values, keeping only the wanted headers, and making a run of one topic's
/// messages share one topic name.
struct PolledMessageReader {
    /// Header names to keep, as C strings (nil: all).
    private let keptHeaders: [[CChar]]?
    /// The last topic name made into text, by the address librdkafka keeps it at.
    private var lastTopic: (pointer: UnsafePointer<CChar>, text: String)?

    init(keptHeaders: Set<String>?) {
        self.keptHeaders = keptHeaders.map { $0.map { Array($0.utf8CString) } }
    }

    mutating func read(_ pointer: UnsafeMutablePointer<rd_kafka_message_t>) -> PolledItem {
        let raw = pointer.pointee
        let topic = raw.rkt.map { topicName(rd_kafka_topic_name($0)) } ?? ""
        switch raw.err {
        case RD_KAFKA_RESP_ERR_NO_ERROR:
            return .message(
                KafkaMessage(
                    topic: topic, partition: raw.partition, offset: raw.offset,
                    key: raw.key.map { Array(UnsafeRawBufferPointer(start: $0, count: raw.key_len)) },
                    value: raw.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: raw.len)) },
                    headers: headers(of: pointer), timestampMilliseconds: timestamp(of: pointer)))
        case RD_KAFKA_RESP_ERR__PARTITION_EOF:
            return .endOfPartition(TopicPartition(topic, raw.partition), nextOffset: raw.offset)
        default:
            let text = String(cString: rd_kafka_message_errstr(pointer))
            let code: KafkaError.Code = raw.err == RD_KAFKA_RESP_ERR__FATAL ? .fatal : .consumer
            let location = topic.isEmpty ? "" : " (\(topic)[\(raw.partition)])"
            return .error(KafkaError(code, "consumer: \(text)\(location)", rdkafkaCode: Int(raw.err.rawValue)))
        }
    }

    /// The topic's name as text, made once for a run of messages from one topic rather than once per message (a
    /// name longer than 15 bytes is an allocation each time).
    private mutating func topicName(_ name: UnsafePointer<CChar>) -> String {
        if let last = lastTopic, last.pointer == name, strcmp(last.pointer, name) == 0 { return last.text }
        let text = String(cString: name)
        lastTopic = (name, text)
        return text
    }

    private func headers(of pointer: UnsafeMutablePointer<rd_kafka_message_t>) -> [KafkaHeader] {
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

    private func timestamp(of pointer: UnsafeMutablePointer<rd_kafka_message_t>) -> Int64? {
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let value = rd_kafka_message_timestamp(pointer, &type)
        return type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || value < 0 ? nil : value
    }
}

/// The consumer's queue, held while the poll thread runs, for its length (what the fetcher has buffered).
final class RdKafkaConsumerQueue {
    private let queue: OpaquePointer?

    init(_ client: RdKafkaClient) {
        queue = rd_kafka_queue_get_consumer(client.handle)
    }

    /// Messages fetched and not yet polled; nil when librdkafka gave no queue.
    var length: Int? { queue.map { Int(rd_kafka_queue_length($0)) } }

    deinit {
        if let queue { rd_kafka_queue_destroy(queue) }
    }
}

/// The calls of the consumer's poll thread (``ConsumerPollLoop``), in Swift terms: polling, assigning, pausing,
/// committing, leaving. Each is made on the poll thread only.
extension RdKafkaClient {
    /// Polls one message, waiting up to `milliseconds`; nil when none came.
    func poll(milliseconds: Int32, reader: inout PolledMessageReader) -> PolledItem? {
        guard let message = rd_kafka_consumer_poll(handle, milliseconds) else { return nil }
        defer { rd_kafka_message_destroy(message) }
        return reader.read(message)
    }

    /// Whether the group rebalances with the cooperative (incremental) protocol.
    var rebalancesCooperatively: Bool { String(cString: rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE" }

    /// Takes `partitions` with their start offsets (nil: the committed offset or the start position); incrementally
    /// when `cooperative`. Returns librdkafka's refusal, if any.
    func assign(_ partitions: [TopicPartition], starts: [TopicPartition: Int64], cooperative: Bool) -> String? {
        let list = TopicPartitionList.make(partitions, offsets: starts)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return cooperative
            ? Self.take(rd_kafka_incremental_assign(handle, list)) : Self.describe(rd_kafka_assign(handle, list))
    }

    /// Gives `partitions` up: incrementally when `cooperative`, otherwise the whole (eager) assignment.
    func unassign(_ partitions: [TopicPartition], cooperative: Bool) {
        guard cooperative else { return unassignAll() }
        let list = TopicPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        _ = Self.take(rd_kafka_incremental_unassign(handle, list))
    }

    /// Answers an assignment with an empty one (an incremental one when `cooperative`).
    func declineAssignment(cooperative: Bool) {
        guard cooperative else { return unassignAll() }
        let empty = TopicPartitionList.make([])
        defer { rd_kafka_topic_partition_list_destroy(empty) }
        _ = Self.take(rd_kafka_incremental_assign(handle, empty))
    }

    /// Drops the whole assignment.
    func unassignAll() {
        rd_kafka_assign(handle, nil)
    }

    /// Pauses or resumes fetching `partitions`; librdkafka's refusal, if any.
    func setPaused(_ pause: Bool, _ partitions: [TopicPartition]) -> String? {
        let list = TopicPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return Self.describe(pause ? rd_kafka_pause_partitions(handle, list) : rd_kafka_resume_partitions(handle, list))
    }

    /// Commits `offsets` without waiting; the outcome reaches the commit callback.
    func commitAsync(_ offsets: [TopicPartition: Int64]) {
        let list = TopicPartitionList.make(offsets: offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        _ = rd_kafka_commit(handle, list, 1)
    }

    /// Commits `offsets` and waits for the coordinator's answer at most until `deadline` (librdkafka's synchronous
    /// commit has no bound of its own). Returns why it failed, or nil (also when there was nothing to commit).
    func commit(_ offsets: [TopicPartition: Int64], waitingUntil deadline: ContinuousClock.Instant) -> String? {
        guard let queue = rd_kafka_queue_new(handle) else { return "no queue to wait on" }
        defer { rd_kafka_queue_destroy(queue) }
        let list = TopicPartitionList.make(offsets: offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        var result = rd_kafka_commit_queue(handle, list, queue, nil, nil)
        if result == RD_KAFKA_RESP_ERR_NO_ERROR {
            result = RD_KAFKA_RESP_ERR__TIMED_OUT
            while ContinuousClock.now < deadline {
                guard let event = rd_kafka_queue_poll(queue, 50) else { continue }
                let type = rd_kafka_event_type(event)
                let error = rd_kafka_event_error(event)
                rd_kafka_event_destroy(event)
                if type == RD_KAFKA_EVENT_OFFSET_COMMIT {
                    result = error
                    break
                }
            }
        }
        return result == RD_KAFKA_RESP_ERR__NO_OFFSET ? nil : Self.describe(result)
    }

    /// Leaves the subscription (the group takes the partitions back at the next poll); librdkafka's refusal, if any.
    @discardableResult
    func unsubscribe() -> String? {
        Self.describe(rd_kafka_unsubscribe(handle))
    }

    /// Closes the consumer on a queue of algoqueue's own, served until librdkafka says it is closed or `deadline`
    /// passes. Returns why it did not close, or nil once it has.
    func closeConsumer(until deadline: ContinuousClock.Instant) -> String? {
        guard let queue = rd_kafka_queue_new(handle) else { return "no queue to close on" }
        defer { rd_kafka_queue_destroy(queue) }
        if let error = rd_kafka_consumer_close_queue(handle, queue) {
            return "the close was refused: \(Self.take(error) ?? "")"
        }
        while rd_kafka_consumer_closed(handle) == 0, ContinuousClock.now < deadline {
            _ = rd_kafka_queue_poll_callback(queue, 50)
        }
        return rd_kafka_consumer_closed(handle) != 0 ? nil : "the group coordinator did not answer"
    }

    /// An `rd_kafka_error_t`'s text (destroying it), or nil for none.
    private static func take(_ error: OpaquePointer?) -> String? {
        guard let error else { return nil }
        defer { rd_kafka_error_destroy(error) }
        return String(cString: rd_kafka_error_string(error))
    }

    /// A result code's text, or nil for success.
    private static func describe(_ code: rd_kafka_resp_err_t) -> String? {
        code == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : RdKafkaConfig.describe(code)
    }
}
