import AlgoqueueKafka
import AlgoqueuePipeline
import AlgoqueueStore
import Foundation

/// Every configuration key, in one table: the YAML reader applies them from here, `check-config --keys` prints
/// the README's table from here, and tests hold the flags of `run` and the example file to it.
public enum ConfigKeys {
    /// One row of the README table, in order.
    enum Row: Sendable {
        case setting(ConfigKey<Settings>)
        case algorithm(ConfigKey<AlgorithmSettings>)
        /// A row with no single key behind it (`algorithms`, `--until-idle`).
        case other(flag: String?, name: String?, defaultText: String, meaning: String)
    }

    typealias S = ConfigKey<Settings>
    typealias A = ConfigKey<AlgorithmSettings>

    static let rows: [Row] =
        kafka.map(Row.setting) + algorithm.map(Row.algorithm) + [
            .other(
                flag: nil, name: "algorithms", defaultText: "",
                meaning: "a list of algorithms, each with the keys above: fan-out")
        ] + patterns.map(Row.setting) + pipeline.map(Row.setting) + [
            .other(
                flag: "`--until-idle`", name: nil, defaultText: "off",
                meaning: "exit 0 once everything assigned is consumed and written, and the group has the rest committed"
            )
        ] + operations.map(Row.setting)

    static let kafka: [S] = [
        S("kafka.brokers", flag: "`--brokers h:p,...`", .list(\.kafka.brokers), "bootstrap brokers"),
        S(
            "kafka.group", flag: "`--group G`", .string(\.kafka.groupID),
            "consumer group; instances in one group share partitions"),
        S("kafka.topics", flag: "`--topic T` (repeat)", .list(\.kafka.topics), "topics to consume"),
        S("kafka.client_id", .string(\.kafka.clientID), "the client id brokers log"),
        S(
            "kafka.start_from", flag: "`--start-from P`", .choice(\.kafka.startPosition),
            "where a partition with no offset (committed or stored) starts: `earliest` or `latest` (`--start-from` "
                + "also takes a time: the first message written since); `algoqueue group reset` moves a group that has "
                + "offsets"),
        S(
            "kafka.session_timeout", .duration(\.kafka.sessionTimeout),
            "silence after which the group reassigns our partitions"),
        S(
            "kafka.max_buffered_messages", .integer(\.kafka.maxBufferedMessages),
            "consumed but unwritten messages before pausing (above a quarter, polling waits up to 1 s first; each pause/resume refetches, so small values cost throughput)"
        ),
        S("kafka.max_buffered_bytes", .integer(\.kafka.maxBufferedBytes), "the same in bytes"),
        S(
            "kafka.properties", flag: "`--kafka-property k=v`", .dictionary(\.kafka.properties),
            "any librdkafka property, passed through (SASL, SSL, ...)"),
        S(
            "kafka.dead_letter_topic", flag: "`--dead-letter-topic T`", .optional(\.pipeline.deadLetterTopic),
            "also publish messages that end as error rows here"),
    ]

    /// The keys of one algorithm, under `algorithm.` (and in each entry of `algorithms`).
    static let algorithm: [A] = [
        A(
            "algorithm.url", flag: "`--url U`", .optional(\.url),
            "the endpoint (kind `http`); the API base (kind `algorithmia`)"),
        A("algorithm.kind", .choice(\.kind), "`http`, `algorithmia`, `process`, or `builtin` for the text-stats demo"),
        A(
            "algorithm.name", flag: "`--algorithm-name N`", .optional(\.name), default: "`http`",
            "the name rows are stored under"),
        A("algorithm.version", .optional(\.version), "stored with each row"),
        A("algorithm.headers", flag: "`--header \"N: v\"`", .dictionary(\.headers), "extra request headers"),
        A("algorithm.timeout", flag: "`--timeout 30s`", .duration(\.timeout), "per call, at most 50 minutes"),
        A(
            "algorithm.cache", flag: "`--cache input`", .choice(\.cache),
            "`input`: an input answered `ok` before (same algorithm and version) is answered from the store, no call"),
        A(
            "algorithm.rate_limit", flag: "`--rate-limit N`", .number(\.rateLimit),
            "calls per second to this algorithm, shared by all its calls (0: no limit)"),
        A(
            "algorithm.rate_burst", .integer(\.rateBurst),
            "calls that may start at once under the limit (0: a tenth of a second's worth)"),
        A("algorithm.max_answer_bytes", .integer(\.maxAnswerBytes), "larger answers become error rows"),
        A(
            "algorithm.protocol", flag: "`--protocol P`", .choice(\.modelProtocol),
            "`raw`, `kserve-v1`, `open-inference`, `openai-embeddings`, `openai-chat` or `template`: the endpoint's request and answer shapes (see Calling model servers)"
        ),
        A("algorithm.model", .optional(\.protocolSettings.model), "`openai-*`: the model named in each request"),
        A(
            "algorithm.text_field", .string(\.protocolSettings.textField),
            "`openai-embeddings`: the field of an object input that holds the text"),
        A(
            "algorithm.parameters", .dictionary(\.protocolSettings.parameters),
            "`openai-chat`: more request fields (`temperature: 0`); values that read as JSON go as JSON"),
        A(
            "algorithm.request_template", .optional(\.protocolSettings.requestTemplate),
            "`template`: the request, JSON with `\"{{input}}\"` (or `\"{{inputs}}\"` for a micro-batch's list)"),
        A(
            "algorithm.response_pointer", .string(\.protocolSettings.responsePointer),
            "`template`: a JSON pointer to the output (or the list of outputs); empty: the whole answer"),
        A(
            "algorithm.input_tensor", .optional(\.protocolSettings.inputTensor),
            "`open-inference`: the input tensor's name (default: the model's metadata, else `input-0`)"),
        A(
            "algorithm.datatype", .optional(\.protocolSettings.datatype),
            "`open-inference`: the input datatype (default: the model's metadata, else from the values)"),
        A(
            "algorithm.tls_ca_file", flag: "`--tls-ca-file F`", .optional(\.tlsCAFile),
            "`https://`: trust the certificate authorities in this PEM file instead of the system's"),
        A(
            "algorithm.tls_cert_file", flag: "`--tls-cert-file F`", .optional(\.tlsCertificateFile),
            "`https://` with mutual TLS: the client certificate (PEM)"),
        A(
            "algorithm.tls_key_file", flag: "`--tls-key-file F`", .optional(\.tlsKeyFile),
            "`https://` with mutual TLS: the client certificate's private key (PEM)"),
        A("algorithm.algo", .optional(\.algo), "`owner/name/version` (kind `algorithmia`)"),
        A("algorithm.api_key_env", .string(\.apiKeyEnv), "the environment variable holding the API key"),
        A(
            "algorithm.api_key_file", .optional(\.apiKeyFile),
            "a file holding the API key, when the variable is not set"),
        A(
            "algorithm.api_key",
            .refused(
                "an API key is never read from the configuration file: put it in the environment variable "
                    + "named by api_key_env (default ALGORITHMIA_API_KEY) or in the file named by api_key_file"),
            "", hidden: true),
        A(
            "algorithm.command", .list(\.command, splitCommas: false),
            "the worker program and its arguments (kind `process`)"),
        A("algorithm.workers", .integer(\.workers), "worker processes (kind `process`)"),
        A(
            "algorithm.startup_timeout", .duration(\.startupTimeout),
            "how long a worker may take from its start to its first answer; not counted in `timeout` (kind `process`)"),
    ]

    static let patterns: [S] = [
        S(
            "fan_out.fail_fast", flag: "`--fail-fast`", .boolean(\.pipeline.fanOut.failFast),
            "the first failure for an input cancels its other calls"),
        S(
            "batch_messages.mode", flag: "`--batch-messages M`", .choice(\.pipeline.batchMessages.mode),
            "`off`, `auto` or `required`: a list in a message gives a row per item"),
        S(
            "batch_messages.max_items", .integer(\.pipeline.batchMessages.maxItems),
            "the most items in one batch message"),
        S(
            "batch_messages.parallel", .boolean(\.pipeline.batchMessages.parallel),
            "items in parallel, or one after another in order"),
        S(
            "split.max_items", flag: "`--split-max-items N`", .integer(\.pipeline.split.maxItems),
            "split batches above N items into chunks for the group (0: never)"),
        S("split.topic", .optional(\.pipeline.split.topic), "where chunks go (default: the batch's topic)"),
        S("split.completion_topic", .optional(\.pipeline.split.completionTopic), "where `batch_complete` events go"),
        S(
            "results.topic", flag: "`--results-topic T`", .optional(\.pipeline.resultsTopic),
            "also publish every row written here, for `algoqueue collect` (see Scaling out)"),
        S(
            "results.value", .choice(\.pipeline.resultsValue),
            "`row`: each message is the whole row (for `collect`); `output`: the output alone (an error row: "
                + "`{\"error\": ...}`), coordinates in headers, for any Kafka consumer"),
        S(
            "results.max_outbox", .integer(\.pipeline.maxOutboxRows),
            "rows waiting for the results topic before consumption pauses"),
        S(
            "results.min_retention", .duration(\.pipeline.minResultsRetention),
            "warn at the start when the results topic keeps messages for less (or deletes by size)"),
        S(
            "sideband.input_dir", flag: "`--input-dir D`", .optional(\.pipeline.sideband.inputDirectory),
            "the only directory `{\"$file\": ...}` inputs are read from"),
        S(
            "sideband.output_dir", flag: "`--output-dir D`", .optional(\.pipeline.sideband.outputDirectory),
            "where large outputs are written"),
        S(
            "sideband.max_inline_output_bytes", .integer(\.pipeline.sideband.maxInlineOutputBytes),
            "outputs above this go to files (with `output_dir`)"),
    ]

    static let pipeline: [S] = [
        S("store.path", flag: "`--database P`", .string(\.store.path), "the SQLite file (created with mode 0640)"),
        S(
            "store.synchronous", .choice(\.store.synchronous),
            "`full` survives power loss; `normal` survives a crash of algoqueue"),
        S("store.keep_inputs", .boolean(\.store.keepInputs), "keep each input's text in its row (replay needs it)"),
        S("store.busy_timeout", .duration(\.store.busyTimeout), "how long a write waits for a reader's lock"),
        S(
            "store.max_size", .integer(\.store.maxSize),
            "the most bytes the file may grow to (0: no limit); reaching it stops the service like a full disk"),
        S(
            "retry.max_attempts", flag: "`--max-attempts N`", .integer(\.pipeline.retry.maxAttempts),
            "calls per input for retryable failures, the first included"),
        S(
            "retry.max_elapsed", .duration(\.pipeline.retry.maxElapsed),
            "no new attempt after this long since the first"),
        S(
            "retry.initial_backoff", .duration(\.pipeline.retry.initialBackoff),
            "first backoff; doubles per attempt, with full jitter"),
        S(
            "retry.max_backoff", .duration(\.pipeline.retry.maxBackoff),
            "the longest backoff (a `Retry-After` may ask for more)"),
        S(
            "circuit_breaker.failure_threshold", .integer(\.pipeline.circuitBreaker.failureThreshold),
            "failed calls in a row that pause all calls (0: off)"),
        S(
            "circuit_breaker.open_duration", .duration(\.pipeline.circuitBreaker.openDuration),
            "how long calls pause before one probe call"),
        S(
            "circuit_breaker.max_open", .optionalDuration(\.pipeline.circuitBreaker.maxOpen),
            default: "1m for `--until-idle`, off for a service",
            "a job whose circuit stays open this long stops and exits 69 naming the endpoint's error; the inputs left "
                + "are consumed by the next run (`0s`: never)"),
        S(
            "pipeline.concurrency", flag: "`--concurrency N`", .concurrency,
            "calls in flight at once, or `auto`: the limit follows the endpoint (see below)"),
        S("pipeline.concurrency_min", .integer(\.pipeline.concurrencyMin), "the lowest the limit goes with `auto`"),
        S("pipeline.concurrency_max", .integer(\.pipeline.concurrencyMax), "the highest the limit goes with `auto`"),
        S(
            "pipeline.ordering", flag: "`--ordering M`", .choice(\.pipeline.ordering),
            "`unordered`, `key` or `partition` (see below)"),
        S(
            "batch.max_items", flag: "`--batch-max-items N`", .integer(\.pipeline.batch.maxItems),
            "inputs per call as a JSON list (1: off; see below)"),
        S("batch.max_bytes", .integer(\.pipeline.batch.maxBytes), "input bytes per batch call"),
        S("batch.linger", .duration(\.pipeline.batch.linger), "how long a batch waits to fill"),
        S(
            "pipeline.max_input_bytes", .integer(\.pipeline.maxInputBytes),
            "larger inputs become error rows naming both sizes"),
        S(
            "pipeline.shutdown_timeout", flag: "`--shutdown-timeout D`", .duration(\.pipeline.shutdownTimeout),
            "how long calls in flight may finish on SIGTERM; no new call starts"),
        S(
            "pipeline.pass_headers", flag: "`--pass-header NAME`", .list(\.pipeline.passHeaders),
            "Kafka message headers passed on to the algorithm"),
        S(
            "pipeline.max_rows_per_transaction", .integer(\.pipeline.maxRowsPerTransaction),
            "the most rows in one SQLite transaction"),
        S(
            "pipeline.commit_interval", .duration(\.pipeline.commitInterval),
            "the least time between SQLite transactions: rows finishing meanwhile share one commit (one fsync); "
                + "not kept after a transaction of half `max_rows_per_transaction` or more"),
        S(
            "pipeline.max_errors", flag: "`--max-errors N`", .optionalInteger(\.pipeline.maxErrors), default: "off",
            "`--until-idle`: a job that wrote more error rows than this exits 65"),
        S(
            "pipeline.max_error_ratio", flag: "`--max-error-ratio R`", .optionalNumber(\.pipeline.maxErrorRatio),
            default: "off", "`--until-idle`: a job whose error rows are more than this share of its rows (0-1) exits 65"
        ),
        S("pipeline.progress_interval", .duration(\.pipeline.progressInterval), "how often progress is logged"),
    ]

    static let operations: [S] = [
        S(
            "metrics.listen", flag: "`--metrics-listen h:p`", .optional(\.operations.listen), default: "off",
            "serve the status page `/`, `/api/status`, `/metrics`, `/healthz`, `/readyz`"),
        S(
            "metrics.allow_remote", flag: "`--metrics-allow-remote`", .boolean(\.operations.allowRemote),
            "allow `metrics.listen` on a non-loopback address"),
        S(
            "health.stall_timeout", .duration(\.operations.stallTimeout),
            "`/readyz` turns false after this long without progress"),
        S(
            "log.level", flag: "`--log-level L`", .string(\.logLevel),
            "trace, debug, info, notice, warning, error, critical"),
    ]

    static let settingsByName: [String: S] = Dictionary(
        uniqueKeysWithValues: (kafka + patterns + pipeline + operations).map { ($0.name, $0) })
    static let algorithmByField: [String: A] = Dictionary(uniqueKeysWithValues: algorithm.map { ($0.shortName, $0) })

    /// The keys each top-level section accepts.
    static let sections: [String: Set<String>] = {
        var sections: [String: Set<String>] = [:]
        for name in settingsByName.keys {
            let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
            sections[parts[0], default: []].insert(parts[1])
        }
        sections["algorithm"] = Set(algorithmByField.keys)
        sections["algorithms"] = Set(algorithmByField.keys)
        return sections
    }()

    /// The README's table of flags and keys, with the defaults of `defaults`.
    public static func markdownTable(defaults: Settings = Settings()) -> String {
        func cell(_ text: String) -> String { text.isEmpty ? "" : "`\(text)`" }
        var lines = ["| flag | config key | default | meaning |", "| --- | --- | --- | --- |"]
        func line(_ flag: String?, _ name: String?, _ defaultText: String, _ meaning: String) {
            let cells = [flag ?? "", name.map { "`\($0)`" } ?? "", defaultText, meaning]
            lines.append("|" + cells.map { $0.isEmpty ? " " : " \($0) " }.joined(separator: "|") + "|")
        }
        for row in rows {
            switch row {
            case .setting(let key):
                line(key.flag, key.name, key.defaultText ?? cell(key.field.render(defaults)), key.meaning)
            case .algorithm(let key) where !key.hidden:
                line(key.flag, key.name, key.defaultText ?? cell(key.field.render(defaults.algorithm)), key.meaning)
            case .algorithm: continue
            case .other(let flag, let name, let defaultText, let meaning):
                line(flag, name, defaultText, meaning)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The `--help` text of the flag that sets key `name` (from this table, so that the two never differ): the key's
    /// meaning as a sentence (without the README's "see ..." pointers), then the key and its default; a
    /// `repeatable` flag says so.
    public static func flagHelp(_ name: String, repeatable: Bool = false, defaults: Settings = Settings()) -> String {
        var found: (meaning: String, defaultText: String)?
        for row in rows {
            switch row {
            case .setting(let key) where key.name == name:
                found = (key.meaning, key.defaultText ?? key.field.render(defaults))
            case .algorithm(let key) where key.name == name:
                found = (key.meaning, key.defaultText ?? key.field.render(defaults.algorithm))
            default: continue
            }
        }
        guard let found else { preconditionFailure("flagHelp: no configuration key \(name)") }
        let meaning = found.meaning.replacingOccurrences(of: "`", with: "").replacingOccurrences(
            of: #" \(see [^)]*\)|; see below"#, with: "", options: .regularExpression)
        // A sentence starts with a capital, unless it starts with a value ("raw, kserve-v1, ...", "input: ...").
        let first = meaning.prefix { $0.isLetter }
        let startsWithValue = meaning.dropFirst(first.count).first.map { ",:/".contains($0) } ?? false
        let sentence = startsWithValue ? meaning : meaning.prefix(1).uppercased() + meaning.dropFirst()
        let defaultText = found.defaultText.replacingOccurrences(of: "`", with: "")
        return "\(sentence) (\(name)" + (defaultText.isEmpty ? "" : ", default \(defaultText)") + ")."
            + (repeatable ? " Repeatable." : "")
    }

    /// The value of every key in `settings`, as the default column shows it, by key name.
    public static func values(of settings: Settings) -> [String: String] {
        var values: [String: String] = [:]
        for row in rows {
            switch row {
            case .setting(let key): values[key.name] = key.field.render(settings)
            case .algorithm(let key) where !key.hidden: values[key.name] = key.field.render(settings.algorithm)
            case .algorithm, .other: continue
            }
        }
        return values
    }

    /// Every key name (`kafka.brokers`, `algorithm.url`, ...), for tests of the example file and the flags.
    public static var names: [String] {
        rows.compactMap { row in
            switch row {
            case .setting(let key): key.name
            case .algorithm(let key): key.hidden ? nil : key.name
            case .other(_, let name, _, _): name
            }
        }
    }

    /// Every flag the table names (`--brokers`, ...).
    /// The key each flag sets (`--brokers`: `kafka.brokers`), for the flags that set one key.
    public static var flagKeys: [String: String] {
        var keys: [String: String] = [:]
        for row in rows {
            let (cell, name): (String?, String)
            switch row {
            case .setting(let key): (cell, name) = (key.flag, key.name)
            case .algorithm(let key): (cell, name) = (key.flag, key.name)
            case .other: continue
            }
            if let flag = cell.flatMap(flagName) { keys[flag] = name }
        }
        return keys
    }

    public static var flags: [String] {
        rows.compactMap { row -> String? in
            switch row {
            case .setting(let key): key.flag
            case .algorithm(let key): key.flag
            case .other(let flag, _, _, _): flag
            }
        }.compactMap(flagName)
    }

    /// The flag a table cell names (`--topic` in "`--topic T` (repeat)").
    static func flagName(_ cell: String) -> String? {
        cell.split(whereSeparator: { $0 == "`" || $0 == " " }).first { $0.hasPrefix("--") }.map(String.init)
    }
}
