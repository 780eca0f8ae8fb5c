import CRdKafka

/// librdkafka's blocking requests and a plain consumer's calls, in Swift terms: callers above the bridge see topic
/// partitions, offsets and `KafkaError`s, never a C list, message or result code. A failure throws a `KafkaError`
/// whose message starts with `what` (the caller's words for what could not be done), then librdkafka's reason.
extension RdKafkaClient {
    /// A librdkafka result as a `KafkaError` (nil when it is no error).
    static func failure(_ result: rd_kafka_resp_err_t, _ what: String, code: KafkaError.Code = .consumer)
        -> KafkaError?
    {
        guard result != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        return KafkaError(code, "\(what): \(RdKafkaConfig.describe(result))", rdkafkaCode: Int(result.rawValue))
    }

    /// The group's committed offsets for `partitions` (missing where it has committed nothing).
    func committed(_ partitions: [TopicPartition], milliseconds: Int32, what: String) throws(KafkaError)
        -> [TopicPartition: Int64]
    {
        let list = TopicPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        if let failure = Self.failure(rd_kafka_committed(handle, list, milliseconds), what) { throw failure }
        var offsets: [TopicPartition: Int64] = [:]
        for entry in TopicPartitionList.entries(list) where entry.offset >= 0 {
            offsets[entry.partition] = entry.offset
        }
        return offsets
    }

    /// The first offset `partition` holds and the offset its next message will get, asked of the broker.
    func queryWatermarks(_ partition: TopicPartition, milliseconds: Int32, what: String) throws(KafkaError)
        -> (low: Int64, high: Int64)
    {
        var low: Int64 = 0
        var high: Int64 = 0
        let result = rd_kafka_query_watermark_offsets(
            handle, partition.topic, partition.partition, &low, &high, milliseconds)
        if let failure = Self.failure(result, what) { throw failure }
        return (low, high)
    }

    /// What the broker lists for `group`: its state and member count, nil when it does not know the group.
    func groupListing(_ group: String, milliseconds: Int32, what: String) throws(KafkaError) -> (
        state: String, members: Int
    )? {
        var list: UnsafePointer<rd_kafka_group_list>?
        let result = rd_kafka_list_groups(handle, group, &list, milliseconds)
        if let failure = Self.failure(result, what) { throw failure }
        guard let list else { throw KafkaError(.consumer, "\(what): no answer") }
        defer { rd_kafka_group_list_destroy(list) }
        for index in 0..<Int(list.pointee.group_cnt) {
            let info = list.pointee.groups[index]
            guard String(cString: info.group) == group, info.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
            return (info.state.map { String(cString: $0) } ?? "", Int(info.member_cnt))
        }
        return nil
    }

    /// The topic's configuration as the broker describes it (`retention.ms` and the like, by name; an entry without
    /// a value is left out), asked within `milliseconds`.
    func topicConfiguration(_ topic: String, milliseconds: Int32, what: String) throws(KafkaError) -> [String: String] {
        guard let queue = rd_kafka_queue_new(handle) else { throw KafkaError(.consumer, "\(what): no queue") }
        defer { rd_kafka_queue_destroy(queue) }
        var resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic)
        defer { rd_kafka_ConfigResource_destroy(resource) }
        let options = rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        var reason = [CChar](repeating: 0, count: 256)
        _ = rd_kafka_AdminOptions_set_request_timeout(options, milliseconds, &reason, reason.count)
        rd_kafka_DescribeConfigs(handle, &resource, 1, options, queue)
        // The request times out on its own within `milliseconds`; the poll waits a little longer for that answer.
        guard let event = rd_kafka_queue_poll(queue, milliseconds + 1000) else {
            throw KafkaError(.consumer, "\(what): no answer")
        }
        defer { rd_kafka_event_destroy(event) }
        if let failure = Self.failure(rd_kafka_event_error(event), what) { throw failure }
        var count = 0
        guard let result = rd_kafka_event_DescribeConfigs_result(event),
            let resources = rd_kafka_DescribeConfigs_result_resources(result, &count), count > 0,
            let described = resources[0]
        else { throw KafkaError(.consumer, "\(what): no answer for the topic") }
        if let failure = Self.failure(rd_kafka_ConfigResource_error(described), what) { throw failure }
        var entryCount = 0
        var configuration: [String: String] = [:]
        guard let entries = rd_kafka_ConfigResource_configs(described, &entryCount) else { return configuration }
        for index in 0..<entryCount {
            guard let entry = entries[index], let value = rd_kafka_ConfigEntry_value(entry) else { continue }
            configuration[String(cString: rd_kafka_ConfigEntry_name(entry))] = String(cString: value)
        }
        return configuration
    }

    /// Sends the consumer's messages and events to its poll (`rd_kafka_poll_set_consumer`).
    func pollAsConsumer() {
        rd_kafka_poll_set_consumer(handle)
    }

    /// Joins the group on `topics`.
    func subscribe(_ topics: [String], what: String) throws(KafkaError) {
        let list = rd_kafka_topic_partition_list_new(Int32(max(topics.count, 1)))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for topic in topics { rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA) }
        if let failure = Self.failure(rd_kafka_subscribe(handle, list), what, code: .subscription) { throw failure }
    }

    /// Reads `partitions` from `offsets`, outside any group (an assignment of its own).
    func assign(_ partitions: [TopicPartition], offsets: [TopicPartition: Int64], what: String) throws(KafkaError) {
        let list = TopicPartitionList.make(partitions, offsets: offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        if let failure = Self.failure(rd_kafka_assign(handle, list), what) { throw failure }
    }

    /// A consumed message's coordinates and timestamp (its payload is not copied), or nil when none came within
    /// `milliseconds` or what came was an error.
    func pollMessageCoordinates(milliseconds: Int32) -> (partition: Int32, offset: Int64, timestamp: Int64)? {
        guard let message = rd_kafka_consumer_poll(handle, milliseconds) else { return nil }
        defer { rd_kafka_message_destroy(message) }
        let raw = message.pointee
        guard raw.err == RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        return (raw.partition, raw.offset, rd_kafka_message_timestamp(message, &type))
    }

    /// Polls once and drops what came (a member that only waits for its assignment).
    func pollAndDrop(milliseconds: Int32) {
        if let message = rd_kafka_consumer_poll(handle, milliseconds) { rd_kafka_message_destroy(message) }
    }

    /// Commits `offsets` synchronously; throws the first partition's failure or the request's.
    func commitSync(_ offsets: [TopicPartition: Int64], what: String) throws(KafkaError) {
        let list = TopicPartitionList.make(offsets: offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let result = rd_kafka_commit(handle, list, 0)
        let failed = TopicPartitionList.entries(list).first { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }
        if let failure = Self.failure(failed?.error ?? result, what) { throw failure }
    }

    /// Closes the consumer (leaves its group; unbounded when no broker answers: callers bound it themselves).
    func closeConsumer() {
        _ = rd_kafka_consumer_close(handle)
    }
}
