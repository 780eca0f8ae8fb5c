import AlgoqueueAlgorithms
import AlgoqueueKafka
import AlgoqueueOperations
import AlgoqueuePipeline
import AlgoqueueStore
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

    /// Problems with this algorithm's settings, under `prefix` (`algorithm` or `algorithms[N]`).
    func problems(_ prefix: String, environment: [String: String]) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        if kind == .http || kind == .algorithmia, let url, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            problems.append(ConfigProblem("\(prefix).url", "\"\(url)\" is not an http:// or https:// URL"))
        }
        switch kind {
        case .http:
            if url == nil {
                problems.append(ConfigProblem("\(prefix).url", "no algorithm to call: give --url or \(prefix).url"))
            }
        case .builtin:
            if effectiveName != "text-stats" {
                problems.append(ConfigProblem("\(prefix).name", "the built-in algorithm is text-stats"))
            }
        case .algorithmia:
            let parts = (algo ?? "").split(separator: "/", omittingEmptySubsequences: false)
            if !(2...3).contains(parts.count) || parts.contains(where: \.isEmpty) {
                problems.append(
                    ConfigProblem("\(prefix).algo", "give the algorithm as owner/name/version, such as nlp/Sentiment/1.0.0"))
            }
            if apiKey(environment: environment) == nil {
                problems.append(
                    ConfigProblem(
                        "\(prefix).api_key_env",
                        "no API key: set the environment variable \(apiKeyEnv)"
                            + (apiKeyFile.map { " or put the key in \($0) (\(prefix).api_key_file)" } ?? " or give \(prefix).api_key_file")))
            }
        case .process:
            if command.isEmpty {
                problems.append(ConfigProblem("\(prefix).command", "give the worker program and its arguments, such as [python3, worker.py]"))
            } else if let program = command.first, Self.executable(program, path: environment["PATH"]) == nil {
                problems.append(
                    ConfigProblem(
                        "\(prefix).command",
                        program.contains("/")
                            ? "\(program) is not an executable file" : "\(program) is not found on PATH (give its full path)"))
            }
            if workers < 1 { problems.append(ConfigProblem("\(prefix).workers", "must be at least 1")) }
        }
        if timeout <= .zero || timeout > Settings.maxCallTimeout {
            problems.append(ConfigProblem("\(prefix).timeout", "must be between 1ms and 50m (got \(timeout.text))"))
        }
        return problems
    }

    /// The executable `program` names: a path (with a `/`) as is, a bare name looked up on `path`.
    static func executable(_ program: String, path: String?) -> String? {
        let files = FileManager.default
        if program.contains("/") { return files.isExecutableFile(atPath: program) ? program : nil }
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if files.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
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

    /// The largest call timeout accepted.
    public static let maxCallTimeout: Duration = .seconds(50 * 60)

    /// Problems that make these settings unusable, each with the key to fix.
    public func problems(environment: [String: String] = ProcessInfo.processInfo.environment) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        if kafka.brokers.isEmpty || kafka.brokers.contains(where: { !$0.contains(":") }) {
            problems.append(ConfigProblem("kafka.brokers", "give brokers as host:port (got \(kafka.brokers))"))
        }
        if kafka.topics.isEmpty || kafka.topics.contains(where: \.isEmpty) {
            problems.append(ConfigProblem("kafka.topics", "name at least one topic to consume"))
        }
        let named: [(String, String?)] =
            kafka.topics.filter { !$0.isEmpty }.map { ("kafka.topics", $0) } + [
                ("kafka.dead_letter_topic", pipeline.deadLetterTopic), ("split.topic", pipeline.split.topic),
                ("split.completion_topic", pipeline.split.completionTopic),
            ]
        for case let (key, topic?) in named {
            if let problem = TopicName.problem(topic) { problems.append(ConfigProblem(key, problem)) }
        }
        if kafka.groupID.isEmpty { problems.append(ConfigProblem("kafka.group", "the consumer group must not be empty")) }
        for message in kafka.propertyProblems() { problems.append(ConfigProblem("kafka.properties", message)) }
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
        problems += patternProblems()
        if pipeline.concurrency < 1 { problems.append(ConfigProblem("pipeline.concurrency", "must be at least 1")) }
        if pipeline.maxInputBytes < 1 { problems.append(ConfigProblem("pipeline.max_input_bytes", "must be at least 1")) }
        for name in pipeline.passHeaders where reservedHeaderNames.contains(name.lowercased()) || name.isEmpty {
            problems.append(
                ConfigProblem(
                    "pipeline.pass_headers",
                    "\"\(name)\" cannot be passed on: it describes the request itself or is algoqueue's own "
                        + "(the key goes as X-Algoqueue-Key)"))
        }
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

extension Settings {
    /// Problems with batch messages, splitting, fan-out and sideband settings.
    func patternProblems() -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        let batchMessages = pipeline.batchMessages
        let split = pipeline.split
        if batchMessages.maxItems < 1 { problems.append(ConfigProblem("batch_messages.max_items", "must be at least 1")) }
        if batchMessages.mode != .off, pipeline.batch.enabled {
            problems.append(
                ConfigProblem("batch_messages.mode", "batch messages and micro-batches (batch.max_items > 1) do not mix: choose one"))
        }
        if split.maxItems < 0 { problems.append(ConfigProblem("split.max_items", "must be 0 (no splitting) or more")) }
        if split.enabled, batchMessages.mode == .off {
            problems.append(ConfigProblem("split.max_items", "splitting needs batch messages: set batch_messages.mode to auto or required"))
        }
        if let topic = split.completionTopic, kafka.topics.contains(topic) || topic == split.topic {
            problems.append(ConfigProblem("split.completion_topic", "must not be a topic algoqueue consumes (\(topic))"))
        }
        if let topic = split.topic, topic == pipeline.deadLetterTopic {
            problems.append(ConfigProblem("split.topic", "must not be the dead-letter topic"))
        }
        if pipeline.fanOut.failFast, pipeline.batch.enabled {
            problems.append(ConfigProblem("fan_out.fail_fast", "does not apply to micro-batches (batch.max_items > 1)"))
        }
        var isDirectory: ObjCBool = false
        if let directory = pipeline.sideband.inputDirectory,
            !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) || !isDirectory.boolValue
        {
            problems.append(ConfigProblem("sideband.input_dir", "\(directory) is not a directory"))
        }
        if let directory = pipeline.sideband.outputDirectory {
            if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) || !isDirectory.boolValue {
                problems.append(ConfigProblem("sideband.output_dir", "\(directory) is not a directory"))
            } else if !FileManager.default.isWritableFile(atPath: directory) {
                problems.append(ConfigProblem("sideband.output_dir", "\(directory) is not writable"))
            }
        }
        if pipeline.sideband.maxInlineOutputBytes < 0 {
            problems.append(ConfigProblem("sideband.max_inline_output_bytes", "must be 0 or more"))
        }
        return problems
    }
}
