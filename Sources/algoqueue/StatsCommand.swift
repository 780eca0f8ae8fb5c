import AlgoqueueConfig
import AlgoqueueKafka
import AlgoqueueStore
import ArgumentParser
import Foundation

/// `algoqueue stats`: how a run is going, from the store and the broker.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Counts per status and algorithm, throughput, latency percentiles and lag.",
        discussion: """
            Counts, throughput and latency come from the results store. With --brokers (or a --config that \
            names them) it also shows the lag per partition: the broker's end minus the offset stored with \
            the results.

            Examples:
              algoqueue stats --database results.db
              algoqueue stats --config /etc/algoqueue/algoqueue.yaml \\
                  --database /var/lib/algoqueue/results.db
              algoqueue stats --database results.db --since 1h --format json
              algoqueue stats --brokers $BROKER --group nightly --format csv

            Lag is measured for one consumer group: --group, the configuration's kafka.group, or the \
            default "algoqueue". When the store holds no offsets for that group, stats names the groups \
            it does hold offsets for.
            """
    )

    @Option(
        name: .long,
        help: ArgumentHelp("The configuration file run uses: its database, brokers and group.", valueName: "file"))
    var config: String?

    @Option(
        name: .long,
        help: ArgumentHelp("The SQLite results file (default \(StoreConfiguration.defaultPath)).", valueName: "path"))
    var database: String?

    @Option(
        name: .long, help: ArgumentHelp("Brokers to ask for the partitions' ends (the lag).", valueName: "host:port"))
    var brokers: String?

    @Option(name: .long, help: "The consumer group whose lag to show (kafka.group; default algoqueue).")
    var group: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Only rows written since: an ISO time, or an age such as 2h.", valueName: "time"))
    var since: String?

    @Option(name: .long, help: "table, json or csv.")
    var format: OutputFormat = .table

    func run() async throws {
        var settings = Settings()
        if let config {
            settings = ConfigFile.load(config).0
        }
        if let database = database { settings.store.path = database }
        if let brokers = brokers { settings.kafka.brokers = brokers.split(separator: ",").map(String.init) }
        if let group = group { settings.kafka.groupID = group }
        let store = try await openStore(settings.store, logger: LoggingSetup.quiet(), mustExist: true)
        let stats = try store.statistics(since: TimeFilter.option(since))
        var lag = LagReport(group: settings.kafka.groupID)
        if brokers != nil || config != nil {
            let stored = try store.offsets(group: settings.kafka.groupID)
            if stored.isEmpty {
                lag.otherGroups = try store.offsetGroups()
            }
            do {
                let admin = try KafkaAdmin(configuration: settings.kafka, logger: LoggingSetup.quiet())
                for offset in stored {
                    let partition = TopicPartition(offset.topic, offset.partition)
                    lag.entries.append(
                        (partition, max(0, try await admin.highWatermark(partition) - offset.nextOffset)))
                }
                lag.entries.sort { $0.partition < $1.partition }
                lag.measured = true
            } catch {
                lag.brokerError =
                    "the broker at \(settings.kafka.brokers.joined(separator: ",")) did not answer (\(error))"
                printError("algoqueue: warning: no lag: \(error)")
            }
        }
        store.close()
        print(StatsReport.render(stats, lag: lag, database: settings.store.path, format: format))
    }
}

/// The lag `stats` found for one consumer group, or why it found none.
struct LagReport {
    let group: String
    var entries: [(partition: TopicPartition, lag: Int64)] = []
    /// Whether the broker was asked (--brokers or --config given, and it answered).
    var measured = false
    /// Why the broker could not be asked, when it was named but did not answer.
    var brokerError: String?
    /// When the store holds no offsets for `group`: the groups it does hold offsets for.
    var otherGroups: [(group: String, partitions: Int)] = []

    var total: Int64 { entries.reduce(0) { $0 + $1.lag } }

    /// Why no lag is shown, as a sentence, or nil when there is lag to show.
    func absence(database: String) -> String? {
        guard entries.isEmpty else { return nil }
        guard measured else {
            if let brokerError { return "not measured: \(brokerError)" }
            return "not measured; give --brokers (or a --config naming them) to compare with the broker"
        }
        let others = otherGroups.map { "\($0.group) (\($0.partitions) partition(s))" }.joined(separator: ", ")
        return others.isEmpty
            ? "no offsets stored for group \(group) in \(database): nothing consumed yet"
            : "no offsets stored for group \(group) in \(database); it holds offsets for \(others): name one with --group"
    }
}

/// How `results` and `stats` print.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv
}
