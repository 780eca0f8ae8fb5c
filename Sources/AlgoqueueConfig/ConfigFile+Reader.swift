import Foundation
import AlgoqueueAlgorithms
import AlgoqueueKafka
import AlgoqueuePipeline
import AlgoqueueStore
import AlgoqueueSupport
import Yams

extension ConfigFile {
    /// Applies one key at a time, collecting problems instead of stopping at the first.
    struct Reader {
        var settings: Settings
        let environment: [String: String]
        var problems: [ConfigProblem] = []

        init(settings: Settings, environment: [String: String]) {
            self.settings = settings
            self.environment = environment
        }

        mutating func unknown(_ key: String, among known: Set<String>) {
            let suggestion = known.min { Self.distance($0, key) < Self.distance($1, key) }
            var message = "unknown key"
            if let suggestion, Self.distance(suggestion, key) <= max(2, key.count / 3) {
                message += "; did you mean \(suggestion)?"
            }
            problems.append(ConfigProblem(key, message))
        }

        mutating func apply(_ key: String, _ node: Node) {
            switch key {
            case "kafka.brokers": if let value = list(key, node) { settings.kafka.brokers = value }
            case "kafka.group": if let value = string(key, node) { settings.kafka.groupID = value }
            case "kafka.topics": if let value = list(key, node) { settings.kafka.topics = value }
            case "kafka.client_id": if let value = string(key, node) { settings.kafka.clientID = value }
            case "kafka.start_from": if let value = choice(key, node, KafkaStartPosition.self) { settings.kafka.startPosition = value }
            case "kafka.session_timeout": if let value = duration(key, node) { settings.kafka.sessionTimeout = value }
            case "kafka.max_buffered_messages": if let value = integer(key, node) { settings.kafka.maxBufferedMessages = value }
            case "kafka.max_buffered_bytes": if let value = integer(key, node) { settings.kafka.maxBufferedBytes = value }
            case "kafka.properties": if let value = dictionary(key, node) { settings.kafka.properties = value }
            case "kafka.dead_letter_topic": if let value = string(key, node) { settings.pipeline.deadLetterTopic = value.isEmpty ? nil : value }
            case _ where key.hasPrefix("algorithm."):
                var algorithm = settings.algorithm
                applyAlgorithm(key, String(key.dropFirst("algorithm.".count)), node, to: &algorithm)
                settings.algorithm = algorithm
            case "batch_messages.mode":
                if let value = choice(key, node, BatchMessageConfiguration.Mode.self) { settings.pipeline.batchMessages.mode = value }
            case "batch_messages.max_items": if let value = integer(key, node) { settings.pipeline.batchMessages.maxItems = value }
            case "batch_messages.parallel": if let value = boolean(key, node) { settings.pipeline.batchMessages.parallel = value }
            case "split.max_items": if let value = integer(key, node) { settings.pipeline.split.maxItems = value }
            case "split.topic": if let value = string(key, node) { settings.pipeline.split.topic = value.isEmpty ? nil : value }
            case "split.completion_topic":
                if let value = string(key, node) { settings.pipeline.split.completionTopic = value.isEmpty ? nil : value }
            case "fan_out.fail_fast": if let value = boolean(key, node) { settings.pipeline.fanOut.failFast = value }
            case "sideband.input_dir":
                if let value = string(key, node) { settings.pipeline.sideband.inputDirectory = value.isEmpty ? nil : value }
            case "sideband.output_dir":
                if let value = string(key, node) { settings.pipeline.sideband.outputDirectory = value.isEmpty ? nil : value }
            case "sideband.max_inline_output_bytes":
                if let value = integer(key, node) { settings.pipeline.sideband.maxInlineOutputBytes = value }
            case "store.path": if let value = string(key, node) { settings.store.path = value }
            case "store.synchronous": if let value = choice(key, node, StoreConfiguration.Synchronous.self) { settings.store.synchronous = value }
            case "store.keep_inputs": if let value = boolean(key, node) { settings.store.keepInputs = value }
            case "store.busy_timeout": if let value = duration(key, node) { settings.store.busyTimeout = value }
            case "store.max_size": if let value = integer(key, node) { settings.store.maxSize = value }
            case "batch.max_items": if let value = integer(key, node) { settings.pipeline.batch.maxItems = value }
            case "batch.max_bytes": if let value = integer(key, node) { settings.pipeline.batch.maxBytes = value }
            case "batch.linger": if let value = duration(key, node) { settings.pipeline.batch.linger = value }
            case "retry.max_attempts": if let value = integer(key, node) { settings.pipeline.retry.maxAttempts = value }
            case "retry.max_elapsed": if let value = duration(key, node) { settings.pipeline.retry.maxElapsed = value }
            case "retry.initial_backoff": if let value = duration(key, node) { settings.pipeline.retry.initialBackoff = value }
            case "retry.max_backoff": if let value = duration(key, node) { settings.pipeline.retry.maxBackoff = value }
            case "circuit_breaker.failure_threshold": if let value = integer(key, node) { settings.pipeline.circuitBreaker.failureThreshold = value }
            case "circuit_breaker.open_duration": if let value = duration(key, node) { settings.pipeline.circuitBreaker.openDuration = value }
            case "pipeline.concurrency": if let value = integer(key, node) { settings.pipeline.concurrency = value }
            case "pipeline.ordering": if let value = choice(key, node, Ordering.self) { settings.pipeline.ordering = value }
            case "pipeline.pass_headers": if let value = list(key, node) { settings.pipeline.passHeaders = value }
            case "pipeline.max_input_bytes": if let value = integer(key, node) { settings.pipeline.maxInputBytes = value }
            case "pipeline.shutdown_timeout": if let value = duration(key, node) { settings.pipeline.shutdownTimeout = value }
            case "pipeline.max_rows_per_transaction": if let value = integer(key, node) { settings.pipeline.maxRowsPerTransaction = value }
            case "pipeline.commit_interval": if let value = duration(key, node) { settings.pipeline.commitInterval = value }
            case "pipeline.progress_interval": if let value = duration(key, node) { settings.pipeline.progressInterval = value }
            case "log.level": if let value = string(key, node) { settings.logLevel = value }
            case "metrics.listen": if let value = string(key, node) { settings.operations.listen = value.isEmpty ? nil : value }
            case "health.stall_timeout": if let value = duration(key, node) { settings.operations.stallTimeout = value }
            default: problems.append(ConfigProblem(key, "is known but not handled (a bug in algoqueue)"))
            }
        }

        /// Applies `field` of one algorithm (`key` is its full name, for problems).
        mutating func applyAlgorithm(_ key: String, _ field: String, _ node: Node, to algorithm: inout AlgorithmSettings) {
            switch field {
            case "kind": if let value = choice(key, node, AlgorithmSettings.Kind.self) { algorithm.kind = value }
            case "name": if let value = string(key, node) { algorithm.name = value }
            case "version": if let value = string(key, node) { algorithm.version = value }
            case "url": if let value = string(key, node) { algorithm.url = value }
            case "headers": if let value = dictionary(key, node) { algorithm.headers = value }
            case "timeout": if let value = duration(key, node) { algorithm.timeout = value }
            case "max_answer_bytes": if let value = integer(key, node) { algorithm.maxAnswerBytes = value }
            case "algo": if let value = string(key, node) { algorithm.algo = value }
            case "api_key_env": if let value = string(key, node) { algorithm.apiKeyEnv = value }
            case "api_key_file": if let value = string(key, node) { algorithm.apiKeyFile = value.isEmpty ? nil : value }
            case "api_key":
                problems.append(
                    ConfigProblem(
                        key,
                        "an API key is never read from the configuration file: put it in the environment variable "
                            + "named by api_key_env (default ALGORITHMIA_API_KEY) or in the file named by api_key_file"))
            case "command": if let value = list(key, node, splitCommas: false) { algorithm.command = value }
            case "workers": if let value = integer(key, node) { algorithm.workers = value }
            default: problems.append(ConfigProblem(key, "is known but not handled (a bug in algoqueue)"))
            }
        }

        /// `algorithms:`, a list of algorithm mappings (fan-out).
        mutating func readAlgorithms(_ node: Node) {
            guard let sequence = node.sequence else {
                problems.append(ConfigProblem("algorithms", "must be a list of algorithms, each like the algorithm section"))
                return
            }
            var algorithms: [AlgorithmSettings] = []
            for (index, entry) in sequence.enumerated() {
                let prefix = "algorithms[\(index)]"
                guard let mapping = entry.mapping else {
                    problems.append(ConfigProblem(prefix, "must be a mapping like the algorithm section"))
                    continue
                }
                var algorithm = AlgorithmSettings()
                for (fieldNode, value) in mapping {
                    let field = fieldNode.string ?? ""
                    guard ConfigFile.algorithmKeys.contains(field) else {
                        unknown("\(prefix).\(field)", among: Set(ConfigFile.algorithmKeys.map { "\(prefix).\($0)" }))
                        continue
                    }
                    applyAlgorithm("\(prefix).\(field)", field, value, to: &algorithm)
                }
                algorithms.append(algorithm)
            }
            settings.algorithms = algorithms
        }

        mutating func string(_ key: String, _ node: Node) -> String? {
            guard let scalar = node.scalar else {
                problems.append(ConfigProblem(key, "must be a single value"))
                return nil
            }
            return expand(key, scalar.string)
        }

        mutating func integer(_ key: String, _ node: Node) -> Int? {
            guard let text = string(key, node) else { return nil }
            guard let value = Int(text.replacingOccurrences(of: "_", with: "")) else {
                problems.append(ConfigProblem(key, "must be a whole number (got \"\(text)\")"))
                return nil
            }
            return value
        }

        mutating func boolean(_ key: String, _ node: Node) -> Bool? {
            guard let text = string(key, node) else { return nil }
            switch text.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default:
                problems.append(ConfigProblem(key, "must be true or false (got \"\(text)\")"))
                return nil
            }
        }

        mutating func duration(_ key: String, _ node: Node) -> Duration? {
            guard let text = string(key, node) else { return nil }
            guard let value = Duration(text: text) else {
                problems.append(ConfigProblem(key, "must be a duration such as 500ms, 30s, 5m (got \"\(text)\")"))
                return nil
            }
            return value
        }

        mutating func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ node: Node, _: T.Type) -> T?
        where T.RawValue == String {
            guard let text = string(key, node) else { return nil }
            guard let value = T(rawValue: text.lowercased()) else {
                let options = T.allCases.map(\.rawValue).joined(separator: ", ")
                problems.append(ConfigProblem(key, "must be one of \(options) (got \"\(text)\")"))
                return nil
            }
            return value
        }

        /// A list, or one comma-separated string (one space-separated string when `splitCommas` is false).
        mutating func list(_ key: String, _ node: Node, splitCommas: Bool = true) -> [String]? {
            if let sequence = node.sequence {
                var values: [String] = []
                for item in sequence {
                    guard let value = string(key, item) else { return nil }
                    values.append(value)
                }
                return values
            }
            return string(key, node).map { text in
                splitCommas
                    ? text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    : text.split(separator: " ").map(String.init)
            }
        }

        mutating func dictionary(_ key: String, _ node: Node) -> [String: String]? {
            guard let mapping = node.mapping else {
                problems.append(ConfigProblem(key, "must be a mapping of names to values"))
                return nil
            }
            var values: [String: String] = [:]
            for (name, value) in mapping {
                guard let name = name.string, let text = string("\(key).\(name)", value) else { continue }
                values[name] = text
            }
            return values
        }

        /// Replaces `${NAME}` with the environment variable NAME; a missing variable is a problem.
        mutating func expand(_ key: String, _ text: String) -> String {
            guard text.contains("${") else { return text }
            var result = ""
            var rest = Substring(text)
            while let start = rest.range(of: "${") {
                result += rest[..<start.lowerBound]
                guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                    problems.append(ConfigProblem(key, "has an unclosed ${"))
                    return text
                }
                let name = String(rest[start.upperBound..<end])
                if name.hasPrefix("credential:") {
                    let credential = String(name.dropFirst("credential:".count))
                    if let value = readCredential(credential) {
                        result += value
                    } else {
                        problems.append(
                            ConfigProblem(
                                key,
                                "uses ${\(name)}, but there is no file \(credential) in $CREDENTIALS_DIRECTORY "
                                    + "(set by systemd's LoadCredential=\(credential):PATH)"))
                    }
                } else if let value = environment[name] {
                    result += value
                } else {
                    problems.append(ConfigProblem(key, "uses ${\(name)}, but the environment variable \(name) is not set"))
                }
                rest = rest[rest.index(after: end)...]
            }
            return result + rest
        }

        /// The content of a systemd credential, without its trailing line break.
        func readCredential(_ name: String) -> String? {
            guard let directory = environment["CREDENTIALS_DIRECTORY"], !name.contains("/"),
                let data = FileManager.default.contents(atPath: directory + "/" + name)
            else { return nil }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        }

        /// Edit distance, for "did you mean".
        static func distance(_ a: String, _ b: String) -> Int {
            let a = Array(a)
            let b = Array(b)
            guard !a.isEmpty else { return b.count }
            guard !b.isEmpty else { return a.count }
            var previous = Array(0...b.count)
            for i in 1...a.count {
                var current = [i] + Array(repeating: 0, count: b.count)
                for j in 1...b.count {
                    current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                }
                previous = current
            }
            return previous[b.count]
        }
    }
}
