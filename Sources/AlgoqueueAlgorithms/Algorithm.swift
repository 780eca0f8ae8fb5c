import AlgoqueueSupport

/// Header names never passed from a message to an HTTP target: they describe the request itself, or carry
/// algoqueue's own information.
public let reservedHeaderNames: Set<String> = [
    "content-type", "content-length", "content-encoding", "transfer-encoding", "host", "connection", "accept",
    "authorization", "x-algoqueue-source", "x-algoqueue-key", "x-algoqueue-item-ids",
]

/// What the bytes of an input are, and the content type they are sent with.
public enum InputContentType: String, Sendable, CaseIterable {
    /// Well-formed JSON (`application/json`): the default.
    case json
    /// UTF-8 text (`text/plain`).
    case text
    /// Bytes (`application/octet-stream`).
    case binary

    /// The MIME type sent with the input.
    public var mimeType: String {
        switch self {
        case .json: "application/json"
        case .text: "text/plain; charset=utf-8"
        case .binary: "application/octet-stream"
        }
    }
}

/// One input as handed to an algorithm: its bytes (validated JSON unless `contentType` says otherwise) plus
/// where they came from.
public struct AlgorithmInput: Sendable {
    /// The input bytes.
    public var bytes: [UInt8]
    /// What the bytes are. Default: JSON.
    public var contentType: InputContentType
    /// The message key as text, if any.
    public var key: String?
    /// Source coordinates, passed to HTTP targets as `X-Algoqueue-Source: topic/partition/offset[/item]`.
    public var source: String
    /// Message headers passed on to the algorithm (those named in `pipeline.pass_headers`), in message order.
    public var headers: [(name: String, value: String)] = []
    /// For a micro-batch (a JSON list of inputs): the id of each input, in list order (its source coordinates).
    /// HTTP targets get them as `X-Algoqueue-Item-Ids: id,id,...`, worker processes as an `"ids"` list, so an
    /// algorithm may answer `{"results": [{"id": ..., "output": ...}, {"id": ..., "error": ...}]}` in any order.
    public var itemIDs: [String] = []

    /// Creates a JSON input.
    public init(json: [UInt8], key: String? = nil, source: String = "") {
        self.init(bytes: json, contentType: .json, key: key, source: source)
    }

    /// Creates an input of any content type.
    public init(bytes: [UInt8], contentType: InputContentType, key: String? = nil, source: String = "") {
        self.bytes = bytes
        self.contentType = contentType
        self.key = key
        self.source = source
    }

    /// The input as one JSON value: JSON as is, text as a JSON string; nil for binary.
    public var jsonValue: [UInt8]? {
        switch contentType {
        case .json: bytes
        case .text: Array(JSONString.quoted(String(decoding: bytes, as: UTF8.self)).utf8)
        case .binary: nil
        }
    }
}

/// A usable answer.
public struct AlgorithmAnswer: Sendable, Equatable {
    /// The answer as JSON text.
    public var output: String
    /// What the target said about the call (JSON text), kept beside the output where the target gives it.
    public var metadata: String?
    /// The HTTP status of the answer, for HTTP targets.
    public var statusCode: Int?

    /// Creates an answer.
    public init(output: String, metadata: String? = nil, statusCode: Int? = nil) {
        self.output = output
        self.metadata = metadata
        self.statusCode = statusCode
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
        /// The algorithm ran and reported an error of its own (an Algorithmia error envelope, a worker's error).
        public static let algorithm = Kind(name: "algorithm")
        /// The input cannot go as a request: a header from its message (its key, a passed header) holds a line break.
        public static let invalidRequest = Kind(name: "invalidRequest")
        /// The endpoint's answer (or its refusal) does not fit the protocol algoqueue speaks to it: its contract, not
        /// the input, is at fault. Not retried, not split down to single inputs; it counts toward the circuit breaker.
        public static let contract = Kind(name: "contract")
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
    /// Starts what the algorithm needs before its first call (worker processes); throws when it cannot. Called
    /// once before consuming; a call before it starts it too. Default: nothing to start.
    func start() throws(AlgorithmConfigurationError)
    /// Releases connections and processes. Called once, after the last call.
    func shutdown() async
    /// Why the algorithm cannot work as configured, found while running (a worker command that dies before its first
    /// answer again and again); nil while it may. A job stops on it (exit 78); a service keeps trying. Default: nil.
    var configurationFailure: String? { get }
}

/// An algorithm whose calls are answered on threads of its own (the HTTP pool's event loops): the pipeline runs
/// each call worker there. Inside the package only; an algorithm from outside runs its calls on the global pool.
package protocol PlacesCallWorkers: Algorithm {
    /// Where the call worker numbered `worker` should run: the event loop of the connections its calls use, so that
    /// a call's request, its answer and the next call stay on one thread; nil for the global pool.
    func executor(forWorker worker: Int) -> (any TaskExecutor)?
}

extension Algorithm {
    public func start() throws(AlgorithmConfigurationError) {}
    public var configurationFailure: String? { nil }
}
