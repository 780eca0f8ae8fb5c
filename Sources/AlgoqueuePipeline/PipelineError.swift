/// Why the pipeline stopped before it was asked to.
public struct PipelineError: Error, Sendable, CustomStringConvertible {
    /// The broad class of the failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The results store could not be written; nothing past the last durable row was committed.
        public static let store = Code(name: "store")
        /// The Kafka client failed for good.
        public static let kafka = Code(name: "kafka")
        /// A job gave up on an algorithm whose circuit stayed open longer than `circuit_breaker.max_open`.
        public static let unavailable = Code(name: "unavailable")
        /// A job found that an algorithm cannot work as configured (a worker command that cannot start).
        public static let configuration = Code(name: "configuration")
        public var description: String { name }
    }

    /// The broad class of the failure.
    public var code: Code
    /// What happened and what to fix.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
