import AlgoqueueKafka
import AlgoqueueResultsTopic
import Logging

/// Whether a Kafka broker answers at the configured address, asked once at the start. Without it a batch run
/// (`--until-idle`) against a wrong address or a broker that is down waits without end, and a service says so only
/// in librdkafka's first connection errors.
enum BrokerCheck {
    /// How long a broker has to answer a metadata request.
    static let wait = Duration.seconds(10)

    /// What the start-up check found: why no broker answered within ``wait`` (nil: one did), and which of the
    /// configured topics the cluster does not have (with the topics it has, for the message).
    struct Finding {
        var problem: KafkaError?
        var missingTopics: [String] = []
        var existingTopics: [String] = []
        /// Topics written to (the results topic) that the cluster does not have yet.
        var missingOutputs: [String] = []
    }

    /// Topics written to (the results topic), and the shortest retention they may have without a warning.
    struct Outputs: Sendable {
        var topics: [String] = []
        var minimumRetention = ResultsRetention.defaultMinimum
    }

    /// Asks the cluster once; `topics`: also look for the consumed topics.
    static func probe(
        _ kafka: KafkaConsumerConfiguration, topics: Bool, outputs: Outputs = Outputs(), logger: Logger
    ) async -> Finding {
        let producer: KafkaProducer
        do {
            producer = try KafkaProducer(
                configuration: KafkaProducerConfiguration(sameClusterAs: kafka), logger: logger)
        } catch {
            return Finding(problem: error)
        }
        var finding = Finding()
        do {
            try await producer.waitForBrokers(within: wait)
            if topics || !outputs.topics.isEmpty, let existing = await producer.topics(within: wait) {
                finding.missingTopics = topics ? kafka.topics.filter { existing[$0] == nil } : []
                finding.missingOutputs = outputs.topics.filter { existing[$0] == nil }
                finding.existingTopics = Array(existing.keys)
            }
        } catch {
            finding.problem = error
        }
        await producer.close(timeout: .zero)
        return finding
    }

    /// Why no broker answered within ``wait`` (nil: one did).
    static func problem(_ kafka: KafkaConsumerConfiguration, logger: Logger) async -> KafkaError? {
        await probe(kafka, topics: false, logger: logger).problem
    }

    /// What to tell the user about topics the cluster does not have.
    static func missingMessage(_ finding: Finding) -> String {
        missingMessage(finding.missingTopics, existing: finding.existingTopics)
    }

    /// "the cluster has no topic X (its topics: ...)": the cluster's own topics (`__consumer_offsets` and the like
    /// left out), at most 20 of them.
    static func missingMessage(_ missing: [String], existing: some Sequence<String>) -> String {
        let topics = existing.filter { !$0.hasPrefix("__") }.sorted()
        let there = topics.isEmpty ? "none" : topics.prefix(20).joined(separator: ", ")
        return "the cluster has no topic \(missing.joined(separator: ", ")) (its topics: \(there))"
    }

    /// What to tell the user when no broker answered at `brokers`; `outcome` says what was (not) done.
    static func message(_ brokers: [String], _ problem: KafkaError, outcome: String) -> String {
        "cannot reach Kafka at \(brokers.joined(separator: ",")): \(problem.message); \(outcome). Is a broker running "
            + "there? To try algoqueue on this machine, `algoqueue dev-broker` starts one."
    }

    /// At the start of `run` or `collect`. A run that should end (`--until-idle`) waits for the answer and exits 1
    /// without one; a service, which keeps trying, gets a check that warns once, to run beside the service as a child
    /// task (cancelled when the service ends, it stops waiting at once).
    /// `topics` (for `run`): a consumed topic the cluster does not have ends a job (exit 78) and warns a service.
    /// `outputs`: topics written to (the results topic); one the cluster does not have yet, or whose retention is
    /// shorter than the minimum, is a warning.
    static func atStart(
        _ kafka: KafkaConsumerConfiguration, untilIdle: Bool, topics: Bool = false, outputs: Outputs = Outputs(),
        logger: Logger
    ) async throws -> (@Sendable () async -> Void)? {
        guard untilIdle else { return warnUnlessReachable(kafka, topics: topics, outputs: outputs, logger: logger) }
        try await require(kafka, topics: topics, outputs: outputs, logger: logger)
        return nil
    }

    /// Warns about each results topic whose retention is shorter than the minimum (or by size), as the broker
    /// describes the topic. Runs beside the work (a child task): a broker that does not answer the question (the
    /// development broker does not) holds nothing up, and the answer is logged when it comes.
    static func checkRetention(_ kafka: KafkaConsumerConfiguration, _ outputs: Outputs, logger: Logger) async {
        guard !outputs.topics.isEmpty,
            let producer = try? KafkaProducer(
                configuration: KafkaProducerConfiguration(sameClusterAs: kafka), logger: logger)
        else { return }
        for topic in outputs.topics {
            do {
                let configuration = try await producer.topicConfiguration(topic, within: wait)
                let warnings = ResultsRetention.warnings(
                    topic: topic, configuration: configuration, minimum: outputs.minimumRetention)
                for warning in warnings { logger.warning("\(warning)") }
            } catch {
                guard !Task.isCancelled else { break }
                logger.info("\(error.message); its retention was not checked")
            }
        }
        await producer.close(timeout: .zero)
    }

    /// The warning for a topic written to that does not exist yet.
    static func warnAboutOutputs(_ finding: Finding, logger: Logger) {
        for topic in finding.missingOutputs {
            let message =
                "the results topic \(topic) does not exist yet: the broker creates it on the first write if it "
                + "allows that (auto.create.topics.enable; the development broker does); otherwise create it, or rows "
                + "wait in the outbox"
            logger.warning("\(message)")
        }
    }

    /// For a run that should end (`--until-idle`): says why and exits 1 when no broker answers, 78 when a topic to
    /// consume does not exist (a job would otherwise end at once, having consumed nothing, and exit 0).
    private static func require(
        _ kafka: KafkaConsumerConfiguration, topics: Bool, outputs: Outputs, logger: Logger
    ) async throws {
        let finding = await probe(kafka, topics: topics, outputs: outputs, logger: logger)
        warnAboutOutputs(finding, logger: logger)
        if let problem = finding.problem {
            printError("algoqueue: error: " + message(kafka.brokers, problem, outcome: "nothing was consumed"))
            throw ExitCodes.failure
        }
        if !finding.missingTopics.isEmpty {
            printError(
                "algoqueue: error: \(missingMessage(finding)); nothing was consumed. Check the name (kafka.topics, "
                    + "--topic), or publish to it first")
            throw ExitCodes.configError
        }
    }

    /// For a service, which keeps trying: a warning, once, when no broker answered within ``wait``, or when a topic
    /// to consume does not exist yet (consuming it starts once it is created).
    private static func warnUnlessReachable(
        _ kafka: KafkaConsumerConfiguration, topics: Bool, outputs: Outputs, logger: Logger
    ) -> @Sendable () async -> Void {
        {
            let finding = await probe(kafka, topics: topics, outputs: outputs, logger: logger)
            guard !Task.isCancelled else { return }
            warnAboutOutputs(finding, logger: logger)
            if let problem = finding.problem {
                logger.warning(
                    "\(message(kafka.brokers, problem, outcome: "still trying, and consuming as soon as one answers"))")
            } else if !finding.missingTopics.isEmpty {
                logger.warning("\(missingMessage(finding)); it is consumed once it is created. Is the name right?")
            }
        }
    }
}
