import AlgoqueueHTTPServer
import AlgoqueueKafka
import AlgoqueueOperations
import AlgoqueuePipeline
import AlgoqueueResultsTopic
import AlgoqueueStore
import AlgoqueueSupport
import ArgumentParser
import Foundation
import Metrics
import Prometheus
import ServiceLifecycle

/// `algoqueue collect`: results topics into one SQLite store.
struct CollectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "Consume results topics (run --results-topic) into one SQLite store with the same schema.",
        discussion: """
            Every instance of a group publishes each row it writes to the results topic; collect brings all of \
            them into one file, which you query with sqlite3 as you would one instance's. Rows are upserted by \
            their key (topic, partition, offset, item, algorithm): a row published twice is one row, and a newer \
            updated_at wins over an older copy. The collector's offsets are stored with the rows, in the same \
            transaction, so a crash or restart resumes without a gap. Split batches (split.max_items) whose chunks \
            were called by different instances complete here: once every item has a row for every algorithm, \
            the batch gets completed_at (view batch_progress) and, with --completion-topic, one batch_complete \
            event.

            Examples:
              algoqueue collect --brokers 127.0.0.1:9092 --topic results --database all.db
              algoqueue collect --brokers $BROKER --topic results --database all.db \\
                  --until-idle
              algoqueue collect --brokers $BROKER --topic results --database all.db \\
                  --completion-topic batches-done
              algoqueue collect --brokers $BROKER --topic results --database all.db \\
                  --metrics-listen 127.0.0.1:9465
              sqlite3 all.db "SELECT status, COUNT(*) FROM results GROUP BY status"

            Result messages the broker deleted (retention) before they were collected are counted: each gap is \
            a warning naming the partition and offsets, the summary line says how many, \
            algoqueue_collect_lost_messages_total on /metrics (with --metrics-listen) counts them, and with \
            --until-idle the exit code is 65 unless --allow-gaps.

            Exit codes: 0 stopped cleanly (or idle with --until-idle), 1 runtime failure, 64 bad flags, 65 result \
            messages were lost before they were collected (--until-idle, without --allow-gaps).
            """
    )

    @Option(name: .long, help: ArgumentHelp("Bootstrap brokers, comma-separated.", valueName: "host:port"))
    var brokers = "127.0.0.1:9092"

    @Option(
        name: .long, help: "Consumer group of the collectors (several collectors in one group share the partitions).")
    var group = "algoqueue-collect"

    @Option(name: .long, help: ArgumentHelp("A results topic to collect (repeat for several).", valueName: "topic"))
    var topic: [String] = []

    @Option(name: .long, help: ArgumentHelp("The SQLite file to collect into (created if missing).", valueName: "path"))
    var database = "algoqueue-collected.db"

    @Option(
        name: .customLong("completion-topic"),
        help: ArgumentHelp("Publish a batch_complete event here when a split batch is whole.", valueName: "topic"))
    var completionTopic: String?

    @Flag(
        name: .long,
        help: "Exit 0 once every assigned partition is read to its end and written; exit 1 when no broker answers.")
    var untilIdle = false

    @Flag(
        name: .customLong("allow-gaps"),
        help: "With --until-idle: exit 0 even when result messages were deleted before they were collected.")
    var allowGaps = false

    @Option(
        name: .customLong("kafka-property"),
        help: ArgumentHelp("A librdkafka property for the consumer (repeatable).", valueName: "name=value"))
    var kafkaProperties: [String] = []

    @Option(
        name: .customLong("metrics-listen"),
        help: ArgumentHelp(
            "Serve /metrics (rows, lost and malformed messages, completed batches) and /healthz here.",
            valueName: "host:port"))
    var metricsListen: String?

    @Flag(
        name: .customLong("metrics-allow-remote"),
        help: "Allow --metrics-listen on an address other than loopback (put access control in front of it).")
    var metricsAllowRemote = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        if topic.isEmpty { throw ValidationError("name the results topic to collect with --topic") }
        for name in topic {
            if let problem = TopicName.problem(name) { throw ValidationError("--topic \(name): \(problem)") }
        }
        if group.isEmpty { throw ValidationError("--group must not be empty") }
        var operations = OperationsConfiguration()
        operations.listen = metricsListen
        operations.allowRemote = metricsAllowRemote
        if let problem = operations.problems().first { throw ValidationError("--metrics-listen: \(problem.message)") }
        if let completionTopic {
            if let problem = TopicName.problem(completionTopic) {
                throw ValidationError("--completion-topic: \(problem)")
            }
            if topic.contains(completionTopic) {
                throw ValidationError("--completion-topic must not be a results topic")
            }
        }
    }

    func run() async throws {
        var kafka = KafkaConsumerConfiguration()
        kafka.brokers = brokers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        kafka.groupID = group
        kafka.topics = topic
        kafka.handOverBatch = 2000
        kafka.keptHeaders = ResultMessage.collectedHeaders
        let flagged = KafkaPropertyFlags.parse(kafkaProperties)
        if let problem = flagged.problems.first {
            printError("algoqueue: error: --kafka-property: \(problem)")
            throw ExitCodes.usage
        }
        kafka.properties = flagged.properties
        if let problem = kafka.problems().first {
            printError("algoqueue: error: \(problem)")
            throw ExitCodes.usage
        }
        let logger = LoggingSetup.bootstrap(level: logLevel)
        let reachability = try await BrokerCheck.atStart(kafka, untilIdle: untilIdle, logger: logger)
        // A service's check starts now; a child task, cancelled and awaited when this returns.
        async let _ = reachability?()
        let store = try await openStore(StoreConfiguration(path: database), logger: logger)
        var endpoint: LoopbackHTTPServer?
        if let metricsListen {
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            endpoint = try await CollectEndpoint.start(listen: metricsListen, registry: registry, logger: logger)
        }
        let service = CollectService(
            collector: Collector(kafka: kafka, store: store, completionTopic: completionTopic, logger: logger),
            untilIdle: untilIdle)
        let outcome = await ServiceRunner.run(service, logger: logger)
        await endpoint?.stop()
        store.close()
        let summary = service.summary.withLock { $0 }
        var malformed = summary.malformed > 0 ? " (\(summary.malformed) message(s) that were not rows passed over)" : ""
        if summary.completedBatches > 0 { malformed += "; \(summary.completedBatches) split batch(es) completed" }
        if summary.lost > 0 {
            malformed +=
                "; \(summary.lost) result message(s) LOST: deleted by the broker before they were collected ("
                + summary.gaps.joined(separator: ", ") + (summary.gaps.count == 20 ? ", ..." : "") + ")"
        }
        let processing = summary.processing.map { String(format: " (processing %.3f s)", $0.seconds) } ?? ""
        print(
            "collected \(summary.rows) row message(s) from \(topic.joined(separator: ", ")) into \(database)\(malformed)"
                + processing)
        if let outcome {
            printError("algoqueue: error: \(outcome)")
            throw ExitCodes.failure
        }
        if untilIdle, summary.lost > 0, !allowGaps {
            printError(
                "algoqueue: error: \(summary.lost) result message(s) were lost before they were collected; their rows "
                    + "are only in the stores of the instances that wrote them (--allow-gaps accepts this)")
            throw ExitCodes.dataError
        }
    }
}

/// The collector as a service, so that SIGTERM and SIGINT stop it gracefully.
struct CollectService: Service {
    let collector: Collector
    let untilIdle: Bool
    let summary = Locked(CollectSummary())

    func run() async throws {
        let result = try await collector.run(untilIdle: untilIdle)
        summary.withLock { $0 = result }
    }
}
