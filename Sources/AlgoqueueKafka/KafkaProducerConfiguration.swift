import AlgoqueueSupport

/// How the producer connects and how hard it tries to deliver.
public struct KafkaProducerConfiguration: Sendable {
    /// Bootstrap brokers as `host:port`. Default: `["127.0.0.1:9092"]`.
    public var brokers: [String] = ["127.0.0.1:9092"]
    /// The client id shown in broker logs. Default: `algoqueue`.
    public var clientID: String = "algoqueue"
    /// How long librdkafka keeps trying to deliver one message before reporting failure. Default: 30 seconds.
    public var deliveryTimeout: Duration = .seconds(30)
    /// How long messages may wait to be sent together in one request. Default: 5 ms.
    public var linger: Duration = .milliseconds(5)
    /// Any librdkafka property, passed through as is; these override the settings above.
    public var properties: [String: String] = [:]

    /// A configuration with every default.
    public init() {}

    /// A producer for the cluster `consumer` reads: its brokers, client id and pass-through properties.
    public init(sameClusterAs consumer: KafkaConsumerConfiguration) {
        brokers = consumer.brokers
        clientID = consumer.clientID
        properties = consumer.properties
    }

    /// The librdkafka properties this configuration stands for, in the order they are applied.
    public func librdkafkaProperties() -> [(String, String)] {
        var result: [(String, String)] = [
            ("bootstrap.servers", brokers.joined(separator: ",")),
            ("client.id", clientID),
            ("acks", "all"),
            ("message.timeout.ms", String(deliveryTimeout.milliseconds)),
            ("linger.ms", String(linger.milliseconds)),
        ]
        for (name, value) in properties.sorted(by: { $0.key < $1.key }) {
            result.append((name, value))
        }
        return result
    }
}
