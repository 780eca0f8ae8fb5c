/// An error from the Kafka layer: what went wrong, in words a person can act on.
///
/// The description never carries payload bytes or secrets (SASL passwords are not echoed back).
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// The broad class of the failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String

        /// A configuration property was unknown or had an invalid value.
        public static let configuration = Code(name: "configuration")
        /// A client handle (consumer, producer, development broker) could not be created.
        public static let clientCreation = Code(name: "clientCreation")
        /// Subscribing to the topics failed.
        public static let subscription = Code(name: "subscription")
        /// A message could not be produced or was not delivered.
        public static let delivery = Code(name: "delivery")
        /// The client reported an error while consuming (broker unreachable, unknown topic, …).
        public static let consumer = Code(name: "consumer")
        /// A fatal client error: the client cannot go on and must be restarted.
        public static let fatal = Code(name: "fatal")
        /// The client was closed: it cannot be started again.
        public static let closed = Code(name: "closed")
        /// A wait was cancelled; what it waited for goes on (a record may still be delivered: await it again).
        public static let cancelled = Code(name: "cancelled")

        public var description: String { name }
    }

    /// The broad class of the failure.
    public var code: Code
    /// What happened and, where possible, what to do about it.
    public var message: String
    /// librdkafka's error code, where there is one (its `resp_err` code as a plain integer).
    public var rdkafkaCode: Int?

    /// Creates an error.
    public init(_ code: Code, _ message: String, rdkafkaCode: Int? = nil) {
        self.code = code
        self.message = message
        self.rdkafkaCode = rdkafkaCode
    }

    public var description: String {
        if let rdkafkaCode {
            return "\(message) (kafka error \(rdkafkaCode))"
        }
        return message
    }
}

extension KafkaError {
    /// What a wait for the cluster throws when its task is cancelled (``BlockingWork/run(orOnCancel:_:)``): it stops
    /// waiting; the call itself ends on its own timeout.
    static let stoppedWaiting: @Sendable () -> KafkaError = {
        KafkaError(.cancelled, "stopped waiting for the cluster's answer")
    }
}
