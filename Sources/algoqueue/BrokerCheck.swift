import AlgoqueueKafka
import Logging

/// Whether a Kafka broker answers at the configured address, asked once at the start. Without it a batch run
/// (`--until-idle`) against a wrong address or a broker that is down waits without end, and a service says so only
/// in librdkafka's first connection errors.
enum BrokerCheck {
    /// How long a broker has to answer a metadata request.
    static let wait = Duration.seconds(10)

    /// Why no broker answered within ``wait`` (nil: one did).
    static func problem(_ kafka: KafkaConsumerConfiguration, logger: Logger) async -> KafkaError? {
        let producer: KafkaProducer
        do {
            producer = try KafkaProducer(
                configuration: KafkaProducerConfiguration(sameClusterAs: kafka), logger: logger)
        } catch {
            return error
        }
        var problem: KafkaError?
        do {
            try await producer.waitForBrokers(within: wait)
        } catch {
            problem = error
        }
        await producer.close(timeout: .zero)
        return problem
    }

    /// What to tell the user when no broker answered at `brokers`; `outcome` says what was (not) done.
    static func message(_ brokers: [String], _ problem: KafkaError, outcome: String) -> String {
        "cannot reach Kafka at \(brokers.joined(separator: ",")): \(problem.message); \(outcome). Is a broker running "
            + "there? To try algoqueue on this machine, `algoqueue dev-broker` starts one."
    }

    /// At the start of `run` or `collect`. A run that should end (`--until-idle`) waits for the answer and exits 1
    /// without one; a service, which keeps trying, gets a task that warns once (cancel it when the service ends).
    static func atStart(
        _ kafka: KafkaConsumerConfiguration, untilIdle: Bool, logger: Logger
    ) async throws -> Task<Void, Never>? {
        guard untilIdle else { return warnUnlessReachable(kafka, logger: logger) }
        try await require(kafka, logger: logger)
        return nil
    }

    /// For a run that should end (`--until-idle`): says why and exits 1 when no broker answers.
    private static func require(_ kafka: KafkaConsumerConfiguration, logger: Logger) async throws {
        guard let problem = await problem(kafka, logger: logger) else { return }
        printError("algoqueue: error: " + message(kafka.brokers, problem, outcome: "nothing was consumed"))
        throw ExitCodes.failure
    }

    /// For a service, which keeps trying: a warning, once, when no broker answered within ``wait``.
    private static func warnUnlessReachable(_ kafka: KafkaConsumerConfiguration, logger: Logger) -> Task<Void, Never> {
        Task {
            guard let problem = await problem(kafka, logger: logger), !Task.isCancelled else { return }
            logger.warning(
                "\(message(kafka.brokers, problem, outcome: "still trying, and consuming as soon as one answers"))")
        }
    }
}
