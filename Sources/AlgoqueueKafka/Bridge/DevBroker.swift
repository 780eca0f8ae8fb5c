import AlgoqueueSupport
import CRdKafka
import Glibc
import Logging
import Synchronization

/// A development Kafka cluster in this process: librdkafka's mock cluster, which speaks the real Kafka
/// protocol over TCP on 127.0.0.1 (produce, fetch, consumer groups, offset commits).
///
/// It keeps messages in memory (about 5 MB per partition before it drops the oldest) and forgets everything
/// when the process ends. For development and tests; production points algoqueue at a real cluster.
public final class DevBroker: Sendable {
    let client: RdKafkaClient
    // `nonisolated(unsafe)`: set once in init, destroyed once in deinit; the mock cluster is thread-safe.
    nonisolated(unsafe) let cluster: OpaquePointer
    /// Sockets holding the ports of brokers that are down (by broker id).
    let reserved = Mutex<[Int32: Int32]>([:])
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
        for placeholder in reserved.withLock({ $0.values }) where placeholder >= 0 { close(placeholder) }
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
    ///
    /// While it is down its port stays reserved by a bound socket that does not listen: otherwise a client
    /// reconnecting to the port (or any connection picking a source port) may take it, and the mock cluster
    /// aborts the process when it cannot listen there again. The mock cluster closes the listener and binds
    /// its port again at once; a child started in that instant would still hold the listener, so no process
    /// starts meanwhile (``withSpawnLock(_:)``).
    public func setBrokerDown(_ id: Int32) {
        _ = withSpawnLock { rd_kafka_mock_broker_set_down(cluster, id) }
        let ports = bootstrapServers.split(separator: ",").compactMap {
            $0.split(separator: ":").last.flatMap { Int($0) }
        }
        guard id >= 1, Int(id) <= ports.count else { return }
        let placeholder = Self.reservePort(ports[Int(id) - 1])
        reserved.withLock { reserved in
            if let old = reserved.updateValue(placeholder, forKey: id) { close(old) }
        }
    }

    /// Brings broker `id` back up.
    public func setBrokerUp(_ id: Int32) {
        if let placeholder = reserved.withLock({ $0.removeValue(forKey: id) }) { close(placeholder) }
        _ = withSpawnLock { rd_kafka_mock_broker_set_up(cluster, id) }
    }

    /// A socket bound (not listening) to 127.0.0.1:`port` with SO_REUSEADDR, or -1 when the port is taken.
    static func reservePort(_ port: Int) -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return -1 }
        var on: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        guard bindLoopback(descriptor, port: port) == 0 else {
            close(descriptor)
            return -1
        }
        return descriptor
    }
}
