/// One input as handed to an algorithm: validated JSON bytes plus where they came from.
public struct AlgorithmInput: Sendable {
    /// The input as JSON bytes (already checked to be well-formed).
    public var json: [UInt8]
    /// The message key as text, if any.
    public var key: String?
    /// Source coordinates, passed to HTTP targets as `X-Algoqueue-Source: topic/partition/offset`.
    public var source: String

    /// Creates an input.
    public init(json: [UInt8], key: String? = nil, source: String = "") {
        self.json = json
        self.key = key
        self.source = source
    }
}

/// A usable answer.
public struct AlgorithmAnswer: Sendable, Equatable {
    /// The answer as JSON text.
    public var output: String

    /// Creates an answer.
    public init(output: String) {
        self.output = output
    }
}

/// Why a call gave no usable answer, in words a person can act on.
public struct AlgorithmFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The class of failure; retry policies decide by it.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// No answer within the call timeout.
        public static let timeout = Kind(name: "timeout")
        /// The endpoint could not be reached or the connection broke.
        public static let transport = Kind(name: "transport")
        /// The endpoint answered with a non-2xx status.
        public static let status = Kind(name: "status")
        /// The endpoint answered 2xx with something that is not usable (not JSON, too large).
        public static let invalidAnswer = Kind(name: "invalidAnswer")
        /// The call was cancelled (shutdown).
        public static let cancelled = Kind(name: "cancelled")
        public var description: String { name }
    }

    /// The class of failure.
    public var kind: Kind
    /// What happened.
    public var message: String
    /// The HTTP status, for `.status`.
    public var statusCode: Int?
    /// How long the endpoint asked callers to wait (`Retry-After`), if it did.
    public var retryAfter: Duration?

    /// Creates a failure.
    public init(_ kind: Kind, _ message: String, statusCode: Int? = nil, retryAfter: Duration? = nil) {
        self.kind = kind
        self.message = message
        self.statusCode = statusCode
        self.retryAfter = retryAfter
    }

    public var description: String { message }
}

/// A target that turns one input into one answer.
public protocol Algorithm: Sendable {
    /// The name rows are stored under.
    var name: String { get }
    /// The version rows are stored with, where known.
    var version: String? { get }
    /// Calls the algorithm once. Never throws: every outcome is an answer or a failure that becomes a row.
    func call(_ input: AlgorithmInput) async -> Result<AlgorithmAnswer, AlgorithmFailure>
    /// Releases connections and processes. Called once, after the last call.
    func shutdown() async
}
