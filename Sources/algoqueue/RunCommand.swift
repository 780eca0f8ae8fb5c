import AlgoqueueAlgorithms
import AlgoqueueConfig
import AlgoqueueKafka
import AlgoqueuePipeline
import AlgoqueueStore
import AlgoqueueSupport
import ArgumentParser
import Logging
import ServiceLifecycle

/// `algoqueue run`: the service.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Consume inputs, call the algorithm, write one row per input (the service).",
        discussion: """
            Settings come from defaults, then --config FILE (YAML, see deploy/algoqueue.example.yaml),
            then these flags. Stops on SIGTERM or SIGINT after finishing calls in flight (up to
            pipeline.shutdown_timeout), writing their rows and committing offsets.

            Examples:
              algoqueue run --config /etc/algoqueue/algoqueue.yaml
              algoqueue run --brokers 127.0.0.1:9092 --topic inputs --url http://127.0.0.1:8080/predict
              algoqueue run --config job.yaml --topic nightly --until-idle     # a batch job: exit when done
              algoqueue run --brokers 127.0.0.1:9092 --topic inputs --url https://model/api \\
                  --header "Authorization: Bearer $TOKEN" --timeout 60s --concurrency 16

            Exit codes: 0 stopped cleanly (or idle with --until-idle), 1 runtime failure (the message says
            what to fix; nothing past the last durable row was committed), 64 bad flags, 78 bad configuration.
            """
    )

    @Option(name: .long, help: ArgumentHelp("YAML configuration file.", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Bootstrap brokers, comma-separated.", valueName: "host:port"))
    var brokers: String?

    @Option(name: .long, help: "Consumer group; instances in one group share the partitions.")
    var group: String?

    @Option(name: .long, help: ArgumentHelp("A topic to consume (repeat for several).", valueName: "topic"))
    var topic: [String] = []

    @Option(name: .long, help: "The HTTP endpoint each input is POSTed to as JSON.")
    var url: String?

    @Option(name: .customLong("algorithm-name"), help: "The name rows are stored under (default: http).")
    var algorithmName: String?

    @Option(name: .customLong("header"), help: ArgumentHelp("A request header (repeatable).", valueName: "Name: value"))
    var headers: [String] = []

    @Option(name: .long, help: ArgumentHelp("Call timeout, such as 30s or 5m (default 300s, at most 50m).", valueName: "duration"))
    var timeout: String?

    @Option(name: .long, help: "Calls in flight at once (default 8).")
    var concurrency: Int?

    @Option(name: .long, help: ArgumentHelp("The SQLite results file (default algoqueue.db).", valueName: "path"))
    var database: String?

    @Flag(name: .long, help: "Exit 0 once every assigned partition is consumed to its end and written.")
    var untilIdle = false

    @Option(name: .customLong("kafka-property"), help: ArgumentHelp("Any librdkafka property (repeatable).", valueName: "name=value"))
    var kafkaProperties: [String] = []

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    func run() async throws {
        let settings = try resolveSettings()
        let logger = LoggingSetup.bootstrap(level: settings.logLevel)
        let store: ResultsStore
        do {
            store = try ResultsStore.open(settings.store, logger: logger)
        } catch {
            printError("algoqueue: error: \(error)")
            throw ExitCodes.failure
        }
        let wiring = try await AlgorithmWiring.make(settings)
        let pipeline = Pipeline(
            configuration: settings.pipeline, kafka: settings.kafka, store: store, algorithm: wiring.algorithm,
            logger: logger)
        let outcome = await ServiceRunner.run(pipeline, logger: logger)
        await wiring.stop()
        let totals = pipeline.statistics.snapshot
        if settings.pipeline.untilIdle {
            print("consumed \(totals.consumed) message(s): \(totals.ok) ok, \(totals.errors) error row(s) in \(settings.store.path)")
        }
        if let outcome {
            printError("algoqueue: error: \(outcome)")
            throw ExitCodes.failure
        }
    }

    /// Defaults, then the file, then flags; exits 78 listing every problem.
    func resolveSettings() throws -> Settings {
        var settings = Settings()
        var problems: [ConfigProblem] = []
        if let config {
            (settings, problems) = ConfigFile.load(config)
        }
        if let brokers { settings.kafka.brokers = brokers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if let group { settings.kafka.groupID = group }
        if !topic.isEmpty { settings.kafka.topics = topic }
        if let url {
            settings.algorithm.kind = .http
            settings.algorithm.url = url
        }
        if let algorithmName { settings.algorithm.name = algorithmName }
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
        if let concurrency { settings.pipeline.concurrency = concurrency }
        if let database { settings.store.path = database }
        if untilIdle { settings.pipeline.untilIdle = true }
        for property in kafkaProperties {
            guard let equals = property.firstIndex(of: "=") else {
                problems.append(ConfigProblem("--kafka-property", "\"\(property)\" is not of the form name=value"))
                continue
            }
            settings.kafka.properties[String(property[..<equals])] = String(property[property.index(after: equals)...])
        }
        if let logLevel { settings.logLevel = logLevel }
        problems += settings.problems()
        if !problems.isEmpty {
            printError("algoqueue: error: \(ConfigError(source: config ?? "the command line", problems: problems))")
            throw ExitCodes.configError
        }
        return settings
    }
}

/// Runs a service until it finishes or SIGTERM/SIGINT stops it gracefully; returns the failure, if any.
enum ServiceRunner {
    static func run(_ service: any Service, logger: Logger) async -> (any Error)? {
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(
                        service: service, successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .gracefullyShutdownGroup)
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
            return nil
        } catch let error as ServiceGroupError {
            return error
        } catch {
            return error
        }
    }
}
