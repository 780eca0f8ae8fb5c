import AlgoqueueKafka
import ArgumentParser
import Foundation
import ServiceLifecycle

/// `algoqueue dev-broker`: a development Kafka broker in this process.
struct DevBrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-broker",
        abstract: "Run a development Kafka broker; its first line on stdout is the bootstrap address.",
        discussion: """
            A real Kafka protocol endpoint on 127.0.0.1 (librdkafka's mock cluster): produce, fetch, \
            consumer groups and offset commits work as with Kafka. Messages live in memory (about 5 MB \
            per partition) and are gone when it stops. For development and tests, not production. \
            A topic used before it is created here gets the broker's default partition count.

            Example:
              algoqueue dev-broker --partitions 4 --topic inputs > broker.txt &
              BROKER=$(head -1 broker.txt)
              algoqueue publish --brokers $BROKER --topic inputs inputs.jsonl

            Stops on SIGTERM or SIGINT.
            """
    )

    @Option(name: .long, help: "Partitions for each topic created with --topic.")
    var partitions = 4

    @Option(name: .long, help: ArgumentHelp("A topic to create (repeatable).", valueName: "topic"))
    var topic: [String] = []

    @Option(name: .long, help: "Number of brokers in the cluster.")
    var brokers = 1

    func validate() throws {
        guard partitions >= 1 else { throw ValidationError("--partitions must be at least 1") }
        guard brokers >= 1 else { throw ValidationError("--brokers must be at least 1") }
    }

    func run() async throws {
        let logger = LoggingSetup.bootstrap(level: "warning")
        let broker = try DevBroker(brokers: brokers, logger: logger)
        for name in topic {
            try broker.createTopic(name, partitions: partitions)
        }
        print(broker.bootstrapServers)
        fflush(nil)
        printError("algoqueue dev-broker: listening on \(broker.bootstrapServers); stop with Ctrl-C")
        _ = await ServiceRunner.run(WaitForShutdown(), logger: logger)
        withExtendedLifetime(broker) {}
    }
}

/// A service that does nothing until graceful shutdown.
struct WaitForShutdown: Service {
    func run() async throws {
        try? await gracefulShutdown()
    }
}
