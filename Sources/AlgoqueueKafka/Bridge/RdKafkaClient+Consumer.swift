import CRdKafka

/// The consumer's callbacks and cached state, in Swift terms (the poll thread's own calls are in
/// RdKafkaClient+Polling.swift).
extension RdKafkaClient {
    /// Sets the rebalance and offset-commit callbacks on a consumer's configuration (``RdKafkaClient/init``
    /// `configure`): they call the context's `rebalance` and `commitFailed`.
    static func reportRebalancesAndCommits(_ conf: OpaquePointer) {
        rd_kafka_conf_set_rebalance_cb(conf, rdKafkaRebalanceCallback)
        rd_kafka_conf_set_offset_commit_cb(conf, rdKafkaOffsetCommitCallback)
    }

    /// The messages fetched and waiting in librdkafka's consumer queue, not yet polled.
    var consumerQueueLength: Int {
        guard let queue = rd_kafka_queue_get_consumer(handle) else { return 0 }
        defer { rd_kafka_queue_destroy(queue) }
        return Int(rd_kafka_queue_length(queue))
    }

    /// The partition's high watermark as the fetcher last saw it (no request); nil before the first fetch.
    func cachedHighWatermark(_ partition: TopicPartition) -> Int64? {
        var low: Int64 = 0
        var high: Int64 = 0
        let result = rd_kafka_get_watermark_offsets(handle, partition.topic, partition.partition, &low, &high)
        return result == RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0 ? high : nil
    }
}

private let rdKafkaRebalanceCallback:
    @convention(c) (
        OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
        UnsafeMutableRawPointer?
    ) -> Void = { handle, code, list, _ in
        guard let handle, let list, let context = RdKafkaClient.context(of: handle), let rebalance = context.rebalance
        else { return }
        let partitions = TopicPartitionList.entries(list).map(\.partition)
        switch code {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS: rebalance(.assign(partitions))
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS: rebalance(.revoke(partitions))
        default: rebalance(.failed(RdKafkaConfig.describe(code)))
        }
    }

private let rdKafkaOffsetCommitCallback:
    @convention(c) (
        OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
        UnsafeMutableRawPointer?
    ) -> Void = { handle, code, list, _ in
        guard code != RD_KAFKA_RESP_ERR_NO_ERROR, code != RD_KAFKA_RESP_ERR__NO_OFFSET,
            let context = RdKafkaClient.context(of: handle)
        else { return }
        if let list {
            var offsets: [TopicPartition: Int64] = [:]
            for entry in TopicPartitionList.entries(list) where entry.offset >= 0 {
                offsets[entry.partition] = entry.offset
            }
            context.commitFailed?(offsets)
        }
        let now = ContinuousClock.now
        let warn = context.lastCommitWarning.withLock { last in
            guard last.map({ now - $0 >= .seconds(60) }) ?? true else { return false }
            last = now
            return true
        }
        context.logger.log(
            level: warn ? .warning : .debug,
            "Kafka offset commit failed; the offsets stay safe in the results store and are committed again later",
            metadata: ["error": "\(RdKafkaConfig.describe(code))"])
    }
