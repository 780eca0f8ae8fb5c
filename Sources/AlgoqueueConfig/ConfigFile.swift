import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import Foundation
import Yams

/// Reads the YAML configuration file onto ``Settings``: every known key is applied, every unknown key or
/// bad value becomes a ``ConfigProblem`` (all of them reported at once, with a "did you mean" for typos).
public enum ConfigFile {
    /// The keys each section accepts.
    static let sections: [String: Set<String>] = [
        "kafka": [
            "brokers", "group", "topics", "client_id", "start_from", "session_timeout", "max_buffered_messages",
            "max_buffered_bytes", "properties", "dead_letter_topic",
        ],
        "algorithm": algorithmKeys,
        "algorithms": algorithmKeys,
        "batch_messages": ["mode", "max_items", "parallel"],
        "split": ["max_items", "topic", "completion_topic"],
        "fan_out": ["fail_fast"],
        "sideband": ["input_dir", "output_dir", "max_inline_output_bytes"],
        "store": ["path", "synchronous", "keep_inputs", "busy_timeout", "max_size"],
        "retry": ["max_attempts", "max_elapsed", "initial_backoff", "max_backoff"],
        "batch": ["max_items", "max_bytes", "linger"],
        "circuit_breaker": ["failure_threshold", "open_duration"],
        "pipeline": [
            "concurrency", "ordering", "max_input_bytes", "shutdown_timeout", "max_rows_per_transaction", "commit_interval",
            "progress_interval", "pass_headers",
        ],
        "log": ["level"],
        "metrics": ["listen"],
        "health": ["stall_timeout"],
    ]

    /// The keys of one algorithm (`algorithm`, and each entry of `algorithms`).
    static let algorithmKeys: Set<String> = [
        "kind", "name", "version", "url", "headers", "timeout", "max_answer_bytes", "algo", "api_key_env", "api_key_file",
        "api_key", "command", "workers",
    ]

    /// Loads `path` over `base`, returning the settings and every problem found in the file. Check
    /// ``Settings/problems()`` too once flags are applied: flags may fix what the file leaves out.
    public static func load(
        _ path: String, over base: Settings = Settings(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> (Settings, [ConfigProblem]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            return (base, [ConfigProblem("file", "cannot read \(path): no such file or not readable")])
        }
        return parse(String(decoding: data, as: UTF8.self), over: base, environment: environment)
    }

    /// Applies YAML `text` over `base`, returning the settings and every problem found.
    public static func parse(
        _ text: String, over base: Settings = Settings(), environment: [String: String] = [:]
    ) -> (Settings, [ConfigProblem]) {
        var reader = Reader(settings: base, environment: environment)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            return (base, [ConfigProblem("file", "not valid YAML: \(error)")])
        }
        guard let root else { return (base, []) }
        guard let mapping = root.mapping else {
            return (base, [ConfigProblem("file", "the top level must be a mapping of sections (kafka, algorithm, …)")])
        }
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            guard let known = sections[key] else {
                reader.unknown(key, among: Set(sections.keys))
                continue
            }
            if key == "algorithms" {
                reader.readAlgorithms(value)
                continue
            }
            guard let section = value.mapping else {
                reader.problems.append(ConfigProblem(key, "must be a mapping of settings"))
                continue
            }
            for (fieldNode, fieldValue) in section {
                let field = fieldNode.string ?? ""
                guard known.contains(field) else {
                    reader.unknown("\(key).\(field)", among: Set(known.map { "\(key).\($0)" }))
                    continue
                }
                reader.apply("\(key).\(field)", fieldValue)
            }
        }
        return (reader.settings, reader.problems)
    }
}
