/// Why the pipeline stopped before it was asked to.
public struct PipelineError: Error, Sendable, CustomStringConvertible {
    /// The broad class of the failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The results store could not be written; nothing past the last durable row was committed.
        public static let store = Code(name: "store")
        /// The Kafka client failed for good.
        public static let kafka = Code(name: "kafka")
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
