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
            Counts, throughput and latency come from the results store. With --brokers (or a --config that
            names them) it also shows the lag per partition: the broker's end minus the offset stored with
            the results.

            Examples:
              algoqueue stats --database results.db
              algoqueue stats --config /etc/algoqueue/algoqueue.yaml --database /var/lib/algoqueue/results.db
              algoqueue stats --database results.db --since 1h --format json
            """
    )

    @OptionGroup(title: "Settings")
    var options: SettingsOptions

    @Option(name: .long, help: ArgumentHelp("Only rows written since: an ISO time, or an age such as 2h.", valueName: "time"))
    var since: String?

    @Option(name: .long, help: "table or json.")
    var format: OutputFormat = .table

    func run() async throws {
        var settings = Settings()
        if let config = options.config {
            settings = ConfigFile.load(config).0
        }
        if let database = options.database { settings.store.path = database }
        if let brokers = options.brokers { settings.kafka.brokers = brokers.split(separator: ",").map(String.init) }
        if let group = options.group { settings.kafka.groupID = group }
        let store = try openStore(settings.store, logger: LoggingSetup.quiet(), mustExist: true)
        let stats = try store.statistics(since: TimeFilter.option(since))
        var lag: [(partition: TopicPartition, lag: Int64)] = []
        if options.brokers != nil || options.config != nil {
            let stored = try store.offsets(group: settings.kafka.groupID)
            do {
                let admin = try KafkaAdmin(configuration: settings.kafka, logger: LoggingSetup.quiet())
                for offset in stored {
                    let partition = TopicPartition(offset.topic, offset.partition)
                    lag.append((partition, max(0, try admin.highWatermark(partition) - offset.nextOffset)))
                }
            } catch {
                printError("algoqueue: warning: no lag: \(error)")
            }
        }
        store.close()
        print(StatsReport.render(stats, lag: lag.sorted { $0.partition < $1.partition }, format: format))
    }
}

/// How `results` and `stats` print.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv
}
