import AlgoqueueAlgorithms
import AlgoqueueKafka
import AlgoqueueOperations
import AlgoqueuePipeline
import AlgoqueueStore

/// Which algorithm to call and how.
public struct AlgorithmSettings: Sendable {
    /// What kind of target it is.
    public enum Kind: String, Sendable, CaseIterable {
        /// A plain HTTP JSON endpoint at `url`.
        case http
        /// A built-in demo algorithm (`text-stats`) served by algoqueue itself over HTTP on loopback.
        case builtin
    }

    /// Default: `.http`.
    public var kind: Kind = .http
    /// The name rows are stored under. Default: `http` (for `builtin`: `text-stats`).
    public var name: String?
    /// An optional version stored with each row.
    public var version: String?
    /// The endpoint (kind `http`).
    public var url: String?
    /// Extra request headers; values may use `${ENV_NAME}` so secrets stay out of the file.
    public var headers: [String: String] = [:]
    /// How long one call may take. Default: 300 seconds; at most 50 minutes.
    public var timeout: Duration = .seconds(300)
    /// The largest answer accepted. Default: 16 MiB.
    public var maxAnswerBytes: Int = 16 << 20

    /// Settings with every default.
    public init() {}

    /// The name rows are stored under, after defaults.
    public var effectiveName: String {
        name ?? (kind == .builtin ? "text-stats" : "http")
    }
}

/// Everything `algoqueue run` needs: built from defaults, then the config file, then flags.
public struct Settings: Sendable {
    /// Kafka connection, group and topics.
    public var kafka = KafkaConsumerConfiguration()
    /// The algorithm.
    public var algorithm = AlgorithmSettings()
    /// The results store.
    public var store = StoreConfiguration()
    /// Dispatch, limits and stopping.
    public var pipeline = PipelineConfiguration()
    /// Metrics and health endpoints.
    public var operations = OperationsConfiguration()
    /// Log level: trace, debug, info, notice, warning, error or critical. Default: `info`.
    public var logLevel = "info"

    /// Settings with every default.
    public init() {}

    /// The largest call timeout accepted.
    public static let maxCallTimeout: Duration = .seconds(50 * 60)

    /// Problems that make these settings unusable, each with the key to fix.
    public func problems() -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        if kafka.brokers.isEmpty || kafka.brokers.contains(where: { !$0.contains(":") }) {
            problems.append(ConfigProblem("kafka.brokers", "give brokers as host:port (got \(kafka.brokers))"))
        }
        if kafka.topics.isEmpty || kafka.topics.contains(where: \.isEmpty) {
            problems.append(ConfigProblem("kafka.topics", "name at least one topic to consume"))
        }
        if kafka.groupID.isEmpty { problems.append(ConfigProblem("kafka.group", "the consumer group must not be empty")) }
        for message in kafka.propertyProblems() { problems.append(ConfigProblem("kafka.properties", message)) }
        switch algorithm.kind {
        case .http:
            if let url = algorithm.url {
                if !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
                    problems.append(ConfigProblem("algorithm.url", "\"\(url)\" is not an http:// or https:// URL"))
                }
            } else {
                problems.append(ConfigProblem("algorithm.url", "no algorithm to call: give --url or algorithm.url"))
            }
        case .builtin:
            if algorithm.effectiveName != "text-stats" {
                problems.append(ConfigProblem("algorithm.name", "the built-in algorithm is text-stats"))
            }
        }
        if algorithm.timeout <= .zero || algorithm.timeout > Self.maxCallTimeout {
            problems.append(ConfigProblem("algorithm.timeout", "must be between 1ms and 50m (got \(algorithm.timeout.text))"))
        }
        if pipeline.concurrency < 1 { problems.append(ConfigProblem("pipeline.concurrency", "must be at least 1")) }
        if pipeline.maxInputBytes < 1 { problems.append(ConfigProblem("pipeline.max_input_bytes", "must be at least 1")) }
        if kafka.maxBufferedMessages < pipeline.concurrency {
            problems.append(
                ConfigProblem(
                    "kafka.max_buffered_messages",
                    "must be at least pipeline.concurrency (\(pipeline.concurrency)), or calls could never fill up"))
        }
        if store.path.isEmpty { problems.append(ConfigProblem("store.path", "give the SQLite file to write")) }
        if let listen = operations.listen, (try? OperationsService.split(listen)) == nil {
            problems.append(ConfigProblem("metrics.listen", "must be host:port, such as 127.0.0.1:9464 (got \(listen))"))
        }
        if store.maxSize < 0 { problems.append(ConfigProblem("store.max_size", "must be 0 (no limit) or a size in bytes")) }
        if pipeline.batch.maxItems < 1 {
            problems.append(ConfigProblem("batch.max_items", "must be at least 1 (1 turns micro-batching off)"))
        }
        if pipeline.batch.enabled, pipeline.ordering != .unordered {
            problems.append(ConfigProblem("batch.max_items", "micro-batches need pipeline.ordering: unordered"))
        }
        if pipeline.batch.enabled, kafka.maxBufferedMessages < pipeline.batch.maxItems {
            problems.append(ConfigProblem("kafka.max_buffered_messages", "must be at least batch.max_items, or a batch could never fill"))
        }
        if pipeline.retry.maxAttempts < 1 {
            problems.append(ConfigProblem("retry.max_attempts", "must be at least 1 (1 means no retries)"))
        }
        if pipeline.retry.initialBackoff > pipeline.retry.maxBackoff {
            problems.append(ConfigProblem("retry.initial_backoff", "must not be above retry.max_backoff"))
        }
        if pipeline.circuitBreaker.failureThreshold < 0 {
            problems.append(ConfigProblem("circuit_breaker.failure_threshold", "must be 0 (off) or more"))
        }
        if let topic = pipeline.deadLetterTopic, kafka.topics.contains(topic) {
            problems.append(
                ConfigProblem("kafka.dead_letter_topic", "must not be a topic algoqueue consumes (\(topic)): failures would loop"))
        }
        return problems
    }
}

/// One thing wrong in a configuration, with the key it is about.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    /// The dotted key, such as `kafka.topics`.
    public var key: String
    /// What is wrong and how to fix it.
    public var message: String

    /// Creates a problem.
    public init(_ key: String, _ message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "\(key): \(message)" }
}

/// A configuration that cannot be used, with every problem found.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    /// Where the configuration came from.
    public var source: String
    /// Every problem found.
    public var problems: [ConfigProblem]

    /// Creates an error.
    public init(source: String, problems: [ConfigProblem]) {
        self.source = source
        self.problems = problems
    }

    public var description: String {
        "\(source) has \(problems.count) problem(s):\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
