import AlgoqueueAlgorithms
import AlgoqueueFlowControl
import AlgoqueueKafka
import AlgoqueueOperations
import AlgoqueuePipeline
import AlgoqueueStore
import AlgoqueueSupport
import Foundation

/// Which algorithm to call and how.
public struct AlgorithmSettings: Sendable {
    /// What kind of target it is.
    public enum Kind: String, Sendable, CaseIterable {
        /// A plain HTTP JSON endpoint at `url`.
        case http
        /// A built-in demo algorithm (`text-stats`) served by algoqueue itself over HTTP on loopback.
        case builtin
        /// An Algorithmia-style API: `url` (the API base) plus `algo` (`owner/name/version`).
        case algorithmia
        /// A pool of local worker processes running `command`, speaking JSON lines.
        case process
    }

    /// Default: `.http`.
    public var kind: Kind = .http
    /// The name rows are stored under. Default: the kind (`http`, `process`); `text-stats` for `builtin`; the
    /// `algo` path for `algorithmia`.
    public var name: String?
    /// An optional version stored with each row.
    public var version: String?
    /// The endpoint (kind `http`), or the API base (kind `algorithmia`, default `https://api.algorithmia.com`).
    public var url: String?
    /// The algorithm path `owner/name/version` (kind `algorithmia`).
    public var algo: String?
    /// The environment variable holding the API key (kind `algorithmia`). Default: `ALGORITHMIA_API_KEY`.
    public var apiKeyEnv = "ALGORITHMIA_API_KEY"
    /// A file holding the API key, read when the environment variable is not set (kind `algorithmia`).
    public var apiKeyFile: String?
    /// The worker program and its arguments (kind `process`).
    public var command: [String] = []
    /// How many worker processes run (kind `process`). Default: 2.
    public var workers = 2
    /// How long a worker may take from its start to its first answer (kind `process`). Default: 300 seconds.
    public var startupTimeout: Duration = CallLimits.defaultTimeout
    /// Whether answers are computed once per input.
    public enum Cache: String, Sendable, CaseIterable {
        /// Every input is called.
        case off
        /// An input whose `ok` answer (same algorithm and version) is in the store is answered from it.
        case input
    }

    /// Default: `.off`.
    public var cache: Cache = .off
    /// Calls per second this algorithm may start (0: no limit).
    public var rateLimit: Double = 0
    /// Calls that may start at once under the rate limit (0: a tenth of a second's worth).
    public var rateBurst = 0
    /// The request and answer shapes of an `http` endpoint (`raw`, `kserve-v1`, `open-inference`,
    /// `openai-embeddings`, `openai-chat`, `template`). Default: `raw`.
    public var modelProtocol: ModelProtocol = .raw
    /// What the protocols read: `model`, `text_field`, `parameters`, `request_template`, `response_pointer`,
    /// `input_tensor`, `datatype` (see ``ModelProtocolSettings``).
    public var protocolSettings = ModelProtocolSettings()
    /// For `https://`: a PEM file of certificate authorities to trust instead of the system's.
    public var tlsCAFile: String?
    /// For `https://` with mutual TLS: the client certificate (PEM).
    public var tlsCertificateFile: String?
    /// For `https://` with mutual TLS: the client certificate's private key (PEM).
    public var tlsKeyFile: String?
    /// Extra request headers; values may use `${ENV_NAME}` so secrets stay out of the file.
    public var headers: [String: String] = [:]
    /// How long one call may take. Default: 300 seconds; at most 50 minutes.
    public var timeout: Duration = CallLimits.defaultTimeout
    /// The largest answer accepted. Default: 16 MiB.
    public var maxAnswerBytes: Int = CallLimits.defaultMaxAnswerBytes

    /// Settings with every default.
    public init() {}

    /// The name rows are stored under, after defaults.
    public var effectiveName: String {
        if let name { return name }
        switch kind {
        case .http: return "http"
        case .builtin: return "text-stats"
        case .algorithmia: return algo ?? "algorithmia"
        case .process: return "process"
        }
    }

    /// The API key (kind `algorithmia`): from the environment variable `apiKeyEnv`, else from `apiKeyFile`.
    public func apiKey(environment: [String: String]) -> String? {
        if let value = environment[apiKeyEnv], !value.isEmpty { return value }
        guard let apiKeyFile, let data = FileManager.default.contents(atPath: apiKeyFile) else { return nil }
        let key = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return key.isEmpty ? nil : key
    }
}

/// Everything `algoqueue run` needs: built from defaults, then the config file, then flags.
public struct Settings: Sendable {
    /// Kafka connection, group and topics.
    public var kafka = KafkaConsumerConfiguration()
    /// The algorithm (when `algorithms` is empty).
    public var algorithm = AlgorithmSettings()
    /// Fan-out: every input goes to each of these. Empty: just `algorithm`.
    public var algorithms: [AlgorithmSettings] = []
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

    /// The algorithms each input goes to.
    public var effectiveAlgorithms: [AlgorithmSettings] { algorithms.isEmpty ? [algorithm] : algorithms }

    /// The algorithms whose answers are computed once (for ``PipelineConfiguration/cachedAlgorithms``).
    public var cachedAlgorithms: Set<String> {
        Set(effectiveAlgorithms.filter { $0.cache == .input }.map(\.effectiveName))
    }

    /// The rate limits of the algorithms that have one, by name (for ``PipelineConfiguration/rateLimits``).
    public var rateLimits: [String: RateLimit] {
        var limits: [String: RateLimit] = [:]
        for algorithm in effectiveAlgorithms where algorithm.rateLimit > 0 {
            limits[algorithm.effectiveName] = RateLimit(
                perSecond: algorithm.rateLimit, burst: algorithm.rateBurst > 0 ? algorithm.rateBurst : nil)
        }
        return limits
    }

    /// Problems that make these settings unusable, each with the key to fix.
    public func problems(environment: [String: String] = ProcessInfo.processInfo.environment) -> [ConfigProblem] {
        // Each module's own checks (the same ones its types make when run builds them), then what only the
        // settings as a whole can see.
        var problems = kafka.problems().map(ConfigProblem.init)
        if algorithms.isEmpty {
            problems += algorithm.problems("algorithm", environment: environment)
        } else {
            for (index, settings) in algorithms.enumerated() {
                problems += settings.problems("algorithms[\(index)]", environment: environment)
            }
            let names = algorithms.map(\.effectiveName)
            for name in Set(names) where names.filter({ $0 == name }).count > 1 {
                problems.append(ConfigProblem("algorithms", "two algorithms are named \(name): give each its own name"))
            }
        }
        problems += pipeline.problems().map(ConfigProblem.init)
        problems += store.problems().map(ConfigProblem.init)
        problems += operations.problems().map(ConfigProblem.init)
        if kafka.maxBufferedMessages < pipeline.concurrency {
            problems.append(
                ConfigProblem(
                    "kafka.max_buffered_messages",
                    "must be at least pipeline.concurrency (\(pipeline.concurrency)), or calls could never fill up"))
        }
        if pipeline.batch.enabled, kafka.maxBufferedMessages < pipeline.batch.maxItems {
            problems.append(
                ConfigProblem(
                    "kafka.max_buffered_messages", "must be at least batch.max_items, or a batch could never fill"))
        }
        if let topic = pipeline.deadLetterTopic, kafka.topics.contains(topic) {
            problems.append(
                ConfigProblem(
                    "kafka.dead_letter_topic", "must not be a topic algoqueue consumes (\(topic)): failures would loop")
            )
        }
        if let topic = pipeline.resultsTopic, kafka.topics.contains(topic) {
            problems.append(
                ConfigProblem("results.topic", "must not be a topic algoqueue consumes (\(topic)): rows would loop"))
        }
        if let topic = pipeline.split.completionTopic, kafka.topics.contains(topic) || topic == pipeline.split.topic {
            problems.append(
                ConfigProblem("split.completion_topic", "must not be a topic algoqueue consumes (\(topic))"))
        }
        return problems
    }
}

/// One thing wrong in a configuration, with the key it is about.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    /// A problem with the file as a whole (unreadable, not YAML): nothing else in it can be judged.
    public var isWholeFile: Bool { key == "file" }

    /// The dotted key, such as `kafka.topics`.
    public var key: String
    /// What is wrong and how to fix it.
    public var message: String

    /// Creates a problem.
    public init(_ key: String, _ message: String) {
        self.key = key
        self.message = message
    }

    /// A module's problem, whose field is a full configuration key.
    public init(_ problem: FieldProblem) {
        self.init(problem.field, problem.message)
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
