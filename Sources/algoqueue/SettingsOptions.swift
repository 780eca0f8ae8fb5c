import AlgoqueueAlgorithms
import AlgoqueueConfig
import AlgoqueuePipeline
import AlgoqueueStore
import AlgoqueueSupport
import ArgumentParser

/// The flags `run` and `replay` share (those of `run` alone are in ``ServiceOptions``): each overrides the
/// configuration file's key of the same meaning.
struct SettingsOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("YAML configuration file.", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp(ConfigKeys.flagHelp("kafka.brokers"), valueName: "host:port"))
    var brokers: String?

    @Option(name: .long, help: ArgumentHelp(ConfigKeys.flagHelp("kafka.group")))
    var group: String?

    @Option(name: .long, help: ArgumentHelp(ConfigKeys.flagHelp("kafka.topics", repeatable: true), valueName: "topic"))
    var topic: [String] = []

    @Option(name: .long, help: ArgumentHelp(ConfigKeys.flagHelp("algorithm.url")))
    var url: String?

    @Option(name: .customLong("algorithm-name"), help: ArgumentHelp(ConfigKeys.flagHelp("algorithm.name")))
    var algorithmName: String?

    @Option(
        name: .customLong("header"),
        help: ArgumentHelp(ConfigKeys.flagHelp("algorithm.headers", repeatable: true), valueName: "Name: value"))
    var headers: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(ConfigKeys.flagHelp("algorithm.timeout"), valueName: "duration"))
    var timeout: String?

    @Option(
        name: .customLong("protocol"),
        help: ArgumentHelp(ConfigKeys.flagHelp("algorithm.protocol"), valueName: "name"))
    var modelProtocol: String?

    @Option(
        name: .customLong("tls-ca-file"),
        help: ArgumentHelp(ConfigKeys.flagHelp("algorithm.tls_ca_file"), valueName: "file"))
    var tlsCAFile: String?

    @Option(
        name: .customLong("tls-cert-file"),
        help: ArgumentHelp(ConfigKeys.flagHelp("algorithm.tls_cert_file"), valueName: "file"))
    var tlsCertificateFile: String?

    @Option(
        name: .customLong("tls-key-file"),
        help: ArgumentHelp(ConfigKeys.flagHelp("algorithm.tls_key_file"), valueName: "file"))
    var tlsKeyFile: String?

    @Option(
        name: .long,
        help: ArgumentHelp(ConfigKeys.flagHelp("pipeline.concurrency"), valueName: "N|auto"))
    var concurrency: String?

    @Option(
        name: .customLong("input-dir"),
        help: ArgumentHelp(ConfigKeys.flagHelp("sideband.input_dir"), valueName: "dir"))
    var inputDir: String?

    @Option(
        name: .customLong("output-dir"),
        help: ArgumentHelp(ConfigKeys.flagHelp("sideband.output_dir"), valueName: "dir"))
    var outputDir: String?

    @Option(
        name: .customLong("max-attempts"),
        help: ArgumentHelp(ConfigKeys.flagHelp("retry.max_attempts")))
    var maxAttempts: Int?

    @Option(
        name: .customLong("cache"),
        help: ArgumentHelp(ConfigKeys.flagHelp("algorithm.cache"), valueName: "mode"))
    var cache: String?

    @Option(
        name: .customLong("rate-limit"),
        help: ArgumentHelp(ConfigKeys.flagHelp("algorithm.rate_limit"), valueName: "N"))
    var rateLimit: Double?

    @Option(
        name: .customLong("results-topic"),
        help: ArgumentHelp(ConfigKeys.flagHelp("results.topic"), valueName: "topic"))
    var resultsTopic: String?

    @Option(
        name: .long,
        help: ArgumentHelp(ConfigKeys.flagHelp("store.path"), valueName: "path"))
    var database: String?

    @Option(
        name: .customLong("kafka-property"),
        help: ArgumentHelp(ConfigKeys.flagHelp("kafka.properties", repeatable: true), valueName: "name=value"))
    var kafkaProperties: [String] = []

    @Option(name: .long, help: ArgumentHelp(ConfigKeys.flagHelp("log.level")))
    var logLevel: String?

    /// Defaults, then the file, then these flags, then `more` (the service's flags, see ``ServiceOptions``), then
    /// `adjust`; exits 78 listing every problem.
    func resolve(
        more: (inout Settings, inout [ConfigProblem]) -> Void = { _, _ in },
        _ adjust: (inout Settings) -> Void = { _ in }
    ) throws -> Settings {
        var settings = Settings()
        var problems: [ConfigProblem] = []
        if let config {
            (settings, problems) = ConfigFile.load(config)
        }
        if let brokers {
            settings.kafka.brokers = brokers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        if let group { settings.kafka.groupID = group }
        if !topic.isEmpty { settings.kafka.topics = topic }
        if let url {
            settings.algorithm.kind = .http
            settings.algorithm.url = url
        }
        if let algorithmName { settings.algorithm.name = algorithmName }
        if let modelProtocol {
            if let value = ModelProtocol(rawValue: modelProtocol) {
                settings.algorithm.modelProtocol = value
            } else {
                problems.append(
                    ConfigProblem(
                        "--protocol",
                        "\"\(modelProtocol)\" is not one of \(ModelProtocol.allCases.map(\.rawValue).joined(separator: ", "))"
                    ))
            }
        }
        if let tlsCAFile { settings.algorithm.tlsCAFile = tlsCAFile }
        if let tlsCertificateFile { settings.algorithm.tlsCertificateFile = tlsCertificateFile }
        if let tlsKeyFile { settings.algorithm.tlsKeyFile = tlsKeyFile }
        for header in headers {
            guard let colon = header.firstIndex(of: ":") else {
                problems.append(ConfigProblem("--header", "\"\(header)\" is not of the form \"Name: value\""))
                continue
            }
            settings.algorithm.headers[String(header[..<colon]).trimmingCharacters(in: .whitespaces)] =
                String(header[header.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
        }
        if let timeout {
            if let value = Duration(text: timeout) {
                settings.algorithm.timeout = value
            } else {
                problems.append(ConfigProblem("--timeout", "\"\(timeout)\" is not a duration such as 30s or 5m"))
            }
        }
        if let concurrency {
            if concurrency.lowercased() == "auto" {
                settings.pipeline.adaptiveConcurrency = true
            } else if let value = Int(concurrency) {
                settings.pipeline.concurrency = value
                settings.pipeline.adaptiveConcurrency = false
            } else {
                problems.append(ConfigProblem("--concurrency", "must be a number or auto (got \"\(concurrency)\")"))
            }
        }
        if let maxAttempts { settings.pipeline.retry.maxAttempts = maxAttempts }
        if let resultsTopic { settings.pipeline.resultsTopic = resultsTopic }
        if let cache {
            if let mode = AlgorithmSettings.Cache(rawValue: cache.lowercased()) {
                settings.algorithm.cache = mode
                for index in settings.algorithms.indices { settings.algorithms[index].cache = mode }
            } else {
                problems.append(ConfigProblem("--cache", "must be one of off, input (got \"\(cache)\")"))
            }
        }
        if let rateLimit {
            settings.algorithm.rateLimit = rateLimit
            for index in settings.algorithms.indices { settings.algorithms[index].rateLimit = rateLimit }
        }
        if let inputDir { settings.pipeline.sideband.inputDirectory = inputDir }
        if let outputDir { settings.pipeline.sideband.outputDirectory = outputDir }
        if let database { settings.store.path = database }
        let flagged = KafkaPropertyFlags.parse(kafkaProperties)
        settings.kafka.properties.merge(flagged.properties) { $1 }
        problems += flagged.problems.map { ConfigProblem("--kafka-property", $0) }
        if let logLevel { settings.logLevel = logLevel }
        more(&settings, &problems)
        adjust(&settings)
        settings.pipeline.rateLimits = settings.rateLimits
        settings.pipeline.cachedAlgorithms = settings.cachedAlgorithms
        if !problems.contains(where: \.isWholeFile) { problems += settings.problems() }
        if !problems.isEmpty {
            printError("algoqueue: error: \(ConfigError(source: config ?? "the command line", problems: problems))")
            throw ExitCodes.configError
        }
        return settings
    }
}
