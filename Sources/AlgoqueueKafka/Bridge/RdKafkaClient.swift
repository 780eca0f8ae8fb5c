import AlgoqueueSupport
import CRdKafka
import Foundation
import Logging
import Synchronization

/// What librdkafka's callbacks need to reach: set as the handle's opaque, owned by `RdKafkaClient`.
///
/// `@unchecked Sendable`: the logger is immutable; `secrets` is set while the client is created; `error` is set
/// by the consumer's `init` and `rebalance` by its `start()`, both before the poll thread starts, and the poll
/// thread (where librdkafka calls back, from inside `rd_kafka_consumer_poll`) is the only one that reads them
/// afterwards, and clears `rebalance` when it closes.
final class RdKafkaCallbackContext: @unchecked Sendable {
    let logger: Logger
    /// Values of secret properties (passwords), scrubbed from every librdkafka log line.
    var secrets: [String] = []
    /// When a failed offset commit was last logged as a warning (one a minute; the rest at debug).
    let lastCommitWarning = Locked<ContinuousClock.Instant?>(nil)
    /// Called on the polling thread from within `rd_kafka_consumer_poll` for an assignment change.
    var rebalance: ((RebalanceEvent) -> Void)?
    /// Called on the polling thread with the offsets of an asynchronous commit that failed.
    var commitFailed: (([TopicPartition: Int64]) -> Void)?
    /// Called on the polling thread for a client-level error.
    var error: ((KafkaError) -> Void)?

    init(logger: Logger) {
        self.logger = logger
    }
}

/// The single owner of one `rd_kafka_t`: creates it with the callbacks wired, destroys it in `deinit`.
///
/// `@unchecked Sendable`: librdkafka handles are thread-safe; the pointer itself never changes.
final class RdKafkaClient: @unchecked Sendable {
    enum Kind {
        case consumer
        case producer
    }

    let handle: OpaquePointer
    let context: RdKafkaCallbackContext

    /// Creates a client. `configure` may set more callbacks on the configuration before the handle is made.
    init(
        kind: Kind, properties: [(String, String)], context: RdKafkaCallbackContext,
        configure: (OpaquePointer) -> Void = { _ in }
    ) throws(KafkaError) {
        let conf = try RdKafkaConfig.make(properties)
        context.secrets = properties.filter { RdKafkaConfig.isSecret($0.0) && $0.1.count >= 4 }.map(\.1)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_log_cb(conf, rdKafkaLogCallback)
        rd_kafka_conf_set_error_cb(conf, rdKafkaErrorCallback)
        configure(conf)
        var errorBuffer = [CChar](repeating: 0, count: 512)
        let type = kind == .consumer ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER
        // rd_kafka_new takes ownership of conf on success only.
        guard let handle = rd_kafka_new(type, conf, &errorBuffer, errorBuffer.count) else {
            rd_kafka_conf_destroy(conf)
            let reason = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw KafkaError(.clientCreation, "could not create the Kafka client: \(reason)")
        }
        self.handle = handle
        self.context = context
    }

    /// Set when a consumer could not leave its group within its bound: then the handle is never destroyed, since
    /// librdkafka's destroy would run the same close (unbounded, and liable to its assertion mid-rebalance). The
    /// process is about to exit; its memory and threads go with it.
    private let abandoned = Atomic(false)

    /// The partitions librdkafka holds assigned to this consumer; nil when it cannot say.
    func assignment() -> Set<TopicPartition>? {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(handle, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return nil }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return Set(TopicPartitionList.entries(list).map(\.partition))
    }

    /// Every topic on the cluster with its partition count (asking creates nothing); blocks up to `milliseconds`.
    func partitionCounts(milliseconds: Int32) -> (topics: [String: Int]?, result: rd_kafka_resp_err_t) {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let result = rd_kafka_metadata(handle, 1, nil, &metadata, milliseconds)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { return (nil, result) }
        defer { rd_kafka_metadata_destroy(metadata) }
        var topics: [String: Int] = [:]
        for index in 0..<Int(metadata.pointee.topic_cnt) {
            let topic = metadata.pointee.topics[index]
            if topic.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                topics[String(cString: topic.topic)] = Int(topic.partition_cnt)
            }
        }
        return (topics, result)
    }

    /// Keeps `deinit` from destroying the handle (see `abandoned`).
    func abandonAtExit() {
        abandoned.store(true, ordering: .relaxed)
    }

    /// Destroys the handle on a blocking thread, not on the one that let the client go (often one of Swift
    /// concurrency's few threads: a destroy joins librdkafka's threads, and a consumer's may first close). The
    /// callback context lives until the destroy ends; the process waits for destroys under way when it exits.
    deinit {
        guard !abandoned.load(ordering: .relaxed) else { return }
        let (handle, context) = (Handle(pointer: handle), context)
        BlockingWork.start(in: Self.destroying) {
            rd_kafka_destroy(handle.pointer)
            withExtendedLifetime(context) {}
        }
    }

    /// A handle handed to the thread that destroys it; nothing else uses it then.
    private struct Handle: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    /// Destroys under way; an exit waits for them (``waitForDestroys(within:)``) so that none is cut off halfway.
    private static let destroying: DispatchGroup = {
        atexit { _ = RdKafkaClient.waitForDestroys(within: .seconds(10)) }
        return DispatchGroup()
    }()

    /// Waits until every client let go has been destroyed, at most `limit`; false when some are still going.
    static func waitForDestroys(within limit: Duration) -> Bool {
        destroying.wait(timeout: .now() + .nanoseconds(Int(limit.nanoseconds))) == .success
    }

    static func context(of handle: OpaquePointer?) -> RdKafkaCallbackContext? {
        guard let handle, let opaque = rd_kafka_opaque(handle) else { return nil }
        return Unmanaged<RdKafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
    }
}

/// librdkafka's log lines go to swift-log at the matching level (syslog levels 0–7).
private let rdKafkaLogCallback:
    @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = {
        handle, level, facility, line in
        guard let context = RdKafkaClient.context(of: handle), let line else { return }
        let swiftLevel: Logger.Level
        switch level {
        case ...2: swiftLevel = .critical
        case 3: swiftLevel = .error
        case 4: swiftLevel = .warning
        case 5: swiftLevel = .notice
        case 6: swiftLevel = .info
        default: swiftLevel = .debug
        }
        let facilityText = facility.map { String(cString: $0) } ?? "-"
        var text = String(cString: line)
        for secret in context.secrets { text = text.replacingOccurrences(of: secret, with: "[redacted]") }
        context.logger.log(level: swiftLevel, "\(text)", metadata: ["rdkafka": "\(facilityText)"])
    }

private let rdKafkaErrorCallback:
    @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
        handle, code, reason, _ in
        guard let context = RdKafkaClient.context(of: handle) else { return }
        var text = reason.map { String(cString: $0) } ?? RdKafkaConfig.describe(rd_kafka_resp_err_t(code))
        for secret in context.secrets { text = text.replacingOccurrences(of: secret, with: "[redacted]") }
        let isFatal = rd_kafka_resp_err_t(code) == RD_KAFKA_RESP_ERR__FATAL
        let error = KafkaError(isFatal ? .fatal : .consumer, text, rdkafkaCode: Int(code))
        if let report = context.error {
            report(error)
        } else {
            // librdkafka's log line already said it; only a fatal error needs saying again.
            context.logger.log(level: isFatal ? .error : .debug, "Kafka client error: \(error)")
        }
    }
