import CRdKafka
import Logging

/// A development Kafka cluster in this process: librdkafka's mock cluster, which speaks the real Kafka
/// protocol over TCP on 127.0.0.1 (produce, fetch, consumer groups, offset commits).
///
/// It keeps messages in memory (about 5 MB per partition before it drops the oldest) and forgets everything
/// when the process ends. For development and tests; production points algoqueue at a real cluster.
public final class DevBroker: Sendable {
    let client: RdKafkaClient
    // `nonisolated(unsafe)`: set once in init, destroyed once in deinit; the mock cluster is thread-safe.
    nonisolated(unsafe) let cluster: OpaquePointer
    /// The bootstrap address to give consumers and producers, such as `127.0.0.1:39021`.
    public let bootstrapServers: String

    /// Starts a cluster of `brokers` brokers listening on ephemeral loopback ports.
    public init(brokers: Int = 1, logger: Logger) throws(KafkaError) {
        client = try RdKafkaClient(
            kind: .producer, properties: [("client.id", "algoqueue-dev-broker")],
            context: RdKafkaCallbackContext(logger: logger))
        guard let cluster = rd_kafka_mock_cluster_new(client.handle, Int32(brokers)) else {
            throw KafkaError(.clientCreation, "could not start the development broker")
        }
        self.cluster = cluster
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
    }

    /// Creates a topic with `partitions` partitions (topics used before they are created get the default count).
    public func createTopic(_ name: String, partitions: Int) throws(KafkaError) {
        let result = rd_kafka_mock_topic_create(cluster, name, Int32(partitions), 1)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(
                .configuration, "could not create topic \(name): \(RdKafkaConfig.describe(result))",
                rdkafkaCode: Int(result.rawValue))
        }
    }

    /// Takes broker `id` (from 1) down: its connections are closed and it refuses new ones until ``setBrokerUp(_:)``.
    public func setBrokerDown(_ id: Int32) {
        rd_kafka_mock_broker_set_down(cluster, id)
    }

    /// Brings broker `id` back up.
    public func setBrokerUp(_ id: Int32) {
        rd_kafka_mock_broker_set_up(cluster, id)
    }
}
