import AlgoqueueAlgorithms
import AlgoqueueConfig
import AlgoqueueKafka
import AlgoqueueOperations
import AlgoqueuePipeline
import AlgoqueueStore
import AlgoqueueSupport
import ArgumentParser
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// `algoqueue run`: the service.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Consume inputs, call the algorithm, write one row per input (the service).",
        discussion: """
            Settings come from defaults, then --config FILE (YAML, see deploy/algoqueue.example.yaml), \
            then these flags. Stops on SIGTERM or SIGINT after finishing calls in flight (up to \
            pipeline.shutdown_timeout), writing their rows and committing offsets.

            Examples:
              algoqueue run --config /etc/algoqueue/algoqueue.yaml
              algoqueue run --brokers $BROKER --topic inputs --url http://127.0.0.1:8080/p
              algoqueue run --config job.yaml --topic nightly --until-idle   # then exit
              algoqueue run --brokers $BROKER --topic inputs --url https://model/api \\
                  --header "Authorization: Bearer $TOKEN" --timeout 60s --concurrency 16

            A job (--until-idle) must end: when an algorithm's circuit stays open longer than \
            circuit_breaker.max_open (default 1m for a job) it stops, commits what finished and exits 69 naming the \
            endpoint's error; the inputs left are consumed again by the next run. A worker command that keeps dying \
            before its first answer stops a job with exit 78. With a limit on error rows (the two flags below), a \
            job that wrote more exits 65.

            Exit codes: 0 stopped cleanly (or idle with --until-idle), 1 runtime failure (the message says \
            what to fix; nothing past the last durable row was committed), 64 bad flags, 65 more error rows than \
            the job allows, 69 the endpoint stayed unavailable (a job), 78 bad configuration \
            (a worker command that cannot start included).
            """
    )

    @OptionGroup(title: "Settings")
    var options: SettingsOptions

    @OptionGroup(title: "Service")
    var service: ServiceOptions

    @Flag(
        name: .long,
        help: """
            Exit 0 once every partition is consumed to its end (in a group, the others' too) and written; exit 1 \
            when no broker answers within 10 s.
            """)
    var untilIdle = false

    @Option(
        name: .customLong("max-errors"),
        help: ArgumentHelp(ConfigKeys.flagHelp("pipeline.max_errors"), valueName: "N"))
    var maxErrors: Int?

    @Option(
        name: .customLong("max-error-ratio"),
        help: ArgumentHelp(ConfigKeys.flagHelp("pipeline.max_error_ratio"), valueName: "R"))
    var maxErrorRatio: Double?

    func run() async throws {
        let settings = try options.resolve(more: service.apply) { settings in
            if untilIdle { settings.pipeline.untilIdle = true }
            if let maxErrors { settings.pipeline.maxErrors = maxErrors }
            if let maxErrorRatio { settings.pipeline.maxErrorRatio = maxErrorRatio }
        }
        let logger = LoggingSetup.bootstrap(level: settings.logLevel)
        logger.info(
            "starting",
            metadata: [
                "brokers": "\(settings.kafka.brokers.joined(separator: ","))", "topics": "\(settings.kafka.topics)",
                "database": "\(settings.store.path)",
                "algorithms": "\(settings.effectiveAlgorithms.map(\.effectiveName).joined(separator: ","))",
            ])
        // A batch run must end: no broker is an error. A service keeps trying, and says so.
        let outputs = BrokerCheck.Outputs(
            topics: settings.pipeline.resultsTopic.map { [$0] } ?? [],
            minimumRetention: settings.pipeline.minResultsRetention)
        let reachability = try await BrokerCheck.atStart(
            settings.kafka, untilIdle: settings.pipeline.untilIdle, topics: true, outputs: outputs, logger: logger)
        // A service's check starts now, before anything else asks the cluster (a subscription may create a missing
        // topic); child tasks, cancelled and awaited when this returns, which stop waiting when cancelled. The
        // results topic's retention is asked beside the run too.
        async let _ = reachability?()
        async let _ = BrokerCheck.checkRetention(settings.kafka, outputs, logger: logger)
        let models = await ModelServerCheck.openInference(settings)
        for note in models.notes { logger.info("\(note)") }
        if !models.problems.isEmpty {
            printError(
                "algoqueue: error: \(ConfigError(source: options.config ?? "the command line", problems: models.problems))"
            )
            throw ExitCodes.configError
        }
        let store = try await openStore(settings.store, logger: logger)
        let wiring = try await AlgorithmWiring.make(settings, logger: logger)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let notifier = SystemdNotifier()
        let pipeline = Pipeline(
            configuration: settings.pipeline, kafka: settings.kafka, store: store, algorithms: wiring.algorithms,
            logger: logger,
            observer: PipelineObserver(
                onReady: { notifier?.send("READY=1") }, onStopping: { notifier?.send("STOPPING=1") }))
        let operations = OperationsService(
            configuration: settings.operations, pipeline: pipeline, registry: registry, notifier: notifier,
            logger: logger)
        let outcome = await withTaskGroup(of: Void.self) { live in
            // The live line on a terminal, beside the service; it ends with it.
            if LiveLine.isActive {
                live.addTask { await RunProgress.show(pipeline, untilIdle: settings.pipeline.untilIdle) }
            }
            let outcome = await ServiceRunner.run([operations, pipeline], logger: logger)
            live.cancelAll()
            return outcome
        }
        LiveLine.clear()
        await wiring.stop()
        store.close()
        let totals = pipeline.statistics.snapshot
        if settings.pipeline.untilIdle {
            let seconds =
                pipeline.statistics.processingDuration.map { String(format: " (processing %.3f s)", $0.seconds) } ?? ""
            print(
                "consumed \(totals.consumed) message(s): \(totals.ok) ok, \(totals.errors) error row(s) in \(settings.store.path)"
                    + seconds)
        }
        if let outcome {
            printError("algoqueue: error: \(outcome)")
            if let stop = outcome as? PipelineError, stop.code == .unavailable { throw ExitCodes.unavailable }
            if let stop = outcome as? PipelineError, stop.code == .configuration { throw ExitCodes.configError }
            throw ExitCodes.failure
        }
        if settings.pipeline.untilIdle,
            let exceeded = settings.pipeline.errorLimitExceeded(errors: totals.errors, rows: totals.ok + totals.errors)
        {
            printError(
                "algoqueue: error: \(exceeded); see them with: algoqueue results --database \(settings.store.path) --errors"
            )
            throw ExitCodes.dataError
        }
    }
}

/// Runs services until the last one finishes or SIGTERM/SIGINT stops them gracefully (the last first);
/// returns the failure, if any.
enum ServiceRunner {
    static func run(_ service: any Service, logger: Logger) async -> (any Error)? {
        await run([service], logger: logger)
    }

    static func run(_ services: [any Service], logger: Logger) async -> (any Error)? {
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services.map {
                    .init(
                        service: $0, successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .gracefullyShutdownGroup)
                },
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
