import AlgoqueueConfig
import AlgoqueueKafka
import ArgumentParser

/// `algoqueue check-config`: every problem of a configuration file at once.
struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a configuration file and report every problem at once.",
        discussion: """
            Reports unknown keys (with a "did you mean"), values of the wrong kind, bad URLs, impossible \
            limits, librdkafka properties it refuses, and ${ENV} or ${credential:NAME} references that are \
            not set. With --connect it also asks the brokers whether the topics exist. An algorithm with \
            protocol open-inference is asked for its model's metadata: whether the model is there and ready, \
            and what tensors it takes.

            Examples:
              algoqueue check-config /etc/algoqueue/algoqueue.yaml
              algoqueue check-config --connect job.yaml
              algoqueue check-config --keys   # every key, flag and default (Markdown)

            Exit codes: 0 no problem, 78 problems (listed on standard error), 1 --connect could not reach \
            the brokers.
            """
    )

    @Argument(help: ArgumentHelp("The YAML configuration file.", valueName: "file"))
    var file: String?

    @Flag(name: .long, help: "Also connect to the brokers and check that the topics exist.")
    var connect = false

    @Flag(
        name: .long, help: "Print every configuration key with its run flag and default (the README's table), and exit."
    )
    var keys = false

    func validate() throws {
        if !keys, file == nil { throw ValidationError("give the configuration file to check (or --keys)") }
    }

    func run() async throws {
        if keys {
            print(ConfigKeys.markdownTable())
            return
        }
        guard let file else { return }
        var (settings, problems) = ConfigFile.load(file)
        // A file that is not YAML says nothing else; "no algorithm to call" would only mislead.
        if !problems.contains(where: \.isWholeFile) { problems += settings.problems() }
        if connect, problems.isEmpty {
            settings.kafka.groupID = settings.kafka.groupID.isEmpty ? "algoqueue" : settings.kafka.groupID
            do {
                let topics = try await KafkaAdmin(configuration: settings.kafka, logger: LoggingSetup.quiet()).topics()
                for topic in settings.kafka.topics where topics[topic] == nil {
                    problems.append(
                        ConfigProblem(
                            "kafka.topics",
                            "topic \(topic) does not exist on \(settings.kafka.brokers.joined(separator: ","))"))
                }
            } catch {
                printError("algoqueue: error: \(error)")
                throw ExitCodes.failure
            }
        }
        var notes: [String] = []
        if problems.isEmpty {
            let models = await ModelServerCheck.openInference(settings)
            problems += models.problems
            notes = models.notes
        }
        for note in notes { print(note) }
        guard problems.isEmpty else {
            printError("algoqueue: error: \(ConfigError(source: file, problems: problems))")
            throw ExitCodes.configError
        }
        print(
            "\(file): ok (topics \(settings.kafka.topics.joined(separator: ", ")) on \(settings.kafka.brokers.joined(separator: ",")), "
                + (settings.algorithms.isEmpty ? "algorithm " : "algorithms ")
                + "\(settings.effectiveAlgorithms.map(\.effectiveName).joined(separator: ", ")), results in \(settings.store.path))"
        )
    }
}
