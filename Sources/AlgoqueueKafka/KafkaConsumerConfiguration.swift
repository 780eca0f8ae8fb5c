import AlgoqueueSupport

/// Where a consumer group starts on a partition it has never committed.
public enum KafkaStartPosition: String, Sendable, CaseIterable {
    /// The oldest message still kept by the broker.
    case earliest
    /// Only messages produced after the consumer joined.
    case latest
}

/// How the consumer connects, which group it joins and what it reads.
public struct KafkaConsumerConfiguration: Sendable {
    /// Bootstrap brokers as `host:port`. Default: `["127.0.0.1:9092"]`.
    public var brokers: [String] = ["127.0.0.1:9092"]
    /// The consumer group; instances with the same group share the partitions. Default: `algoqueue`.
    public var groupID: String = "algoqueue"
    /// Topics to subscribe to. Default: `["inputs"]`.
    public var topics: [String] = ["inputs"]
    /// The client id shown in broker logs. Default: `algoqueue`.
    public var clientID: String = "algoqueue"
    /// Where to start on a partition with no stored offset. Default: `.earliest`.
    public var startPosition: KafkaStartPosition = .earliest
    /// `run --start-from TIME`: a partition with no offset (committed or stored) starts at its first message
    /// written at or after this time (milliseconds since the epoch) instead. Default: nil.
    public var startTime: Int64?
    /// How long the broker waits for a heartbeat before it reassigns this instance's partitions.
    /// Default: 10 seconds.
    public var sessionTimeout: Duration = .seconds(10)
    /// How often durable offsets are committed to Kafka (the results store has them as soon as the rows;
    /// revocation and close commit at once). Default: 200 ms.
    public var commitInterval: Duration = .milliseconds(200)
    /// How many consumed messages may wait for their rows before partitions are paused. Default: 100 000.
    /// Each pause and resume makes librdkafka drop and refetch what it had prefetched (about 0.2 s on the
    /// development broker), so a small buffer costs throughput; `maxBufferedBytes` bounds the memory. Above a
    /// quarter of either limit, polling first waits up to a second (see `ConsumerFlowControl`).
    public var maxBufferedMessages: Int = 100_000
    /// The most messages the poll thread hands over in one event. `run` keeps 500 (a call starts sooner after a
    /// fetch); `collect`, which writes each event in one transaction, takes 2 000: 67 705 rows/s with 500, 84 459
    /// and 94 518 with 2 000 in the benchmark's results-topic scenario (100 000 rows, release, 2 cores).
    /// Default: 500.
    public var handOverBatch: Int = 500
    /// The only headers copied out of each message; nil keeps every header. `collect` names the few it reads: each
    /// header kept is a name and a value made into Swift values on the poll thread, for every message.
    /// Default: nil.
    public var keptHeaders: Set<String>?
    /// How many bytes of consumed messages may wait for their rows before partitions are paused.
    /// Default: 64 MiB.
    public var maxBufferedBytes: Int = 64 << 20
    /// Any librdkafka property, passed through as is; these override the settings above.
    public var properties: [String: String] = [:]

    /// librdkafka's `queued.max.messages.kbytes` as algoqueue sets it: half the buffer, between 1 and 64 MiB.
    var queuedKilobytes: Int { max(1024, min(maxBufferedBytes / 1024 / 2, 65536)) }

    /// A configuration with every default.
    public init() {}

    /// The librdkafka properties this configuration stands for, in the order they are applied.
    ///
    /// The consumer always commits explicitly (auto-commit off) and reports partition ends, because
    /// algoqueue commits only offsets whose rows are durable and `--until-idle` needs to know the end.
    public func librdkafkaProperties() -> [(String, String)] {
        var result: [(String, String)] = [
            ("bootstrap.servers", brokers.joined(separator: ",")),
            ("group.id", groupID),
            ("client.id", clientID),
            ("auto.offset.reset", startPosition.rawValue),
            ("session.timeout.ms", String(sessionTimeout.milliseconds)),
            ("heartbeat.interval.ms", String(max(100, sessionTimeout.milliseconds / 5))),
            ("queued.max.messages.kbytes", String(queuedKilobytes)),
        ]
        for (name, value) in properties.sorted(by: { $0.key < $1.key }) {
            result.append((name, value))
        }
        // What algoqueue's guarantees depend on comes last, so no pass-through property can undo it.
        result += [
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "true"),
        ]
        return result
    }
}

extension KafkaConsumerConfiguration {
    /// What librdkafka refuses among these settings and the pass-through properties, one message per property,
    /// checked without connecting. Secret values are never echoed.
    public func propertyProblems() -> [String] {
        librdkafkaProperties().compactMap { property -> String? in
            do throws(KafkaError) {
                try RdKafkaConfig.check(property)
                return nil
            } catch {
                return error.message
            }
        }
    }
}
