import AlgoqueueConfig
import AlgoqueueDemo
import AlgoqueueHTTPServer
import AlgoqueueKafka
import AlgoqueuePipeline
import AlgoqueueStore
import ArgumentParser
import Foundation

/// `algoqueue demo`: the whole flow on embedded defaults.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the whole flow on embedded defaults and show where the results are.",
        discussion: """
            Starts a development broker and the built-in demo algorithm (text-stats, served over HTTP on \
            127.0.0.1 by algoqueue itself), publishes sample inputs (a few of them bad on purpose), \
            consumes them until idle, and prints a summary with the SQLite file and a sqlite3 command.

            Example:
              algoqueue demo --database /tmp/demo.db
            """
    )

    @Option(name: .long, help: ArgumentHelp("The SQLite results file.", valueName: "path"))
    var database = "algoqueue-demo.db"

    func run() async throws {
        let logger = LoggingSetup.bootstrap(level: "warning")
        let topic = "demo-inputs"
        let broker = try DevBroker(logger: logger)
        try broker.createTopic(topic, partitions: 4)
        print("1. development broker on \(broker.bootstrapServers), topic \(topic) with 4 partitions")

        var producerConfiguration = KafkaProducerConfiguration()
        producerConfiguration.brokers = [broker.bootstrapServers]
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        for (index, value) in DemoAlgorithm.sampleInputs.enumerated() {
            _ = try await producer.send(KafkaRecord(topic: topic, key: Array("sample-\(index)".utf8), value: value))
        }
        await producer.close()
        print("2. published \(DemoAlgorithm.sampleInputs.count) sample inputs (5 of them bad on purpose)")

        var settings = Settings()
        settings.kafka.brokers = [broker.bootstrapServers]
        settings.kafka.topics = [topic]
        // A fresh group each run: the development broker starts empty every time.
        settings.kafka.groupID = "algoqueue-demo-\(UInt64(Date().timeIntervalSince1970 * 1000))"
        settings.algorithm.kind = .builtin
        settings.store.path = database
        settings.pipeline.untilIdle = true
        let store = try await openStore(settings.store, logger: logger)
        let wiring = try await AlgorithmWiring.make(settings, logger: logger)
        print("3. built-in algorithm text-stats listening on \(wiring.server?.baseURL ?? "?")\(DemoAlgorithm.path)")
        let pipeline = Pipeline(
            configuration: settings.pipeline, kafka: settings.kafka, store: store, algorithms: wiring.algorithms,
            logger: logger)
        let failure = await ServiceRunner.run(pipeline, logger: logger)
        await wiring.stop()
        withExtendedLifetime(broker) {}
        if let failure {
            printError("algoqueue: error: \(failure)")
            throw ExitCodes.failure
        }
        let totals = pipeline.statistics.snapshot
        print("4. consumed \(totals.consumed) messages until idle: \(totals.ok) ok, \(totals.errors) error rows\n")
        var query = ResultQuery()
        query.limit = 8
        print(ResultsTable.render(try await store.results(query)))
        store.close()
        let path = URL(fileURLWithPath: database).standardizedFileURL.path
        print(
            """

            Results are in \(path). Look inside with:
              sqlite3 -header -column \(path) \\
                "SELECT \\"partition\\", \\"offset\\", status, json_extract(output, '$.sentiment') AS sentiment, error FROM results ORDER BY \\"partition\\", \\"offset\\""
              algoqueue results --database \(path) --errors
            """)
    }
}
