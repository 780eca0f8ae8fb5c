import Foundation
import GRDB

/// Whether a call produced a result.
public enum ResultStatus: String, Sendable, Codable, CaseIterable {
    /// The algorithm answered; `output` holds its JSON.
    case ok
    /// No usable answer; `error` says why.
    case error
}

/// One row of the `results` table: one answer for one input from one algorithm.
public struct ResultRow: Sendable, Equatable {
    /// Source topic.
    public var topic: String
    /// Source partition.
    public var partition: Int32
    /// Source offset.
    public var offset: Int64
    /// Index of the item in a batch message; -1 for a whole message.
    public var item: Int
    /// The algorithm's configured name.
    public var algorithm: String
    /// The algorithm's version, where known.
    public var algorithmVersion: String?
    /// The message key as text (UTF-8, or `0x`-prefixed hex when it is not UTF-8).
    public var key: String?
    /// `ok` or `error`.
    public var status: ResultStatus
    /// The input as text, when inputs are kept and the input is UTF-8 text without NUL bytes.
    public var input: String?
    /// The input's exact bytes when it is not such text (not UTF-8, or holding a NUL byte); the `input` column
    /// then holds a BLOB (`typeof(input) = 'blob'`).
    public var rawInput: [UInt8]?
    /// The input's size in bytes.
    public var inputBytes: Int
    /// The answer as JSON text (`ok` rows).
    public var output: String?
    /// What went wrong (`error` rows).
    public var error: String?
    /// What the target said about the call (JSON text), such as an Algorithmia envelope's metadata.
    public var metadata: String?
    /// Where an output too large for the row was written; `output` is then nil.
    public var outputFile: String?
    /// How many calls were made for this row.
    public var attempts: Int
    /// Time spent on the call(s), in milliseconds.
    public var durationMilliseconds: Double
    /// The Kafka message timestamp (ISO 8601, UTC), where the broker gave one.
    public var messageTimestamp: String?
    /// When the row was first written (ISO 8601, UTC). Set by the store when empty.
    public var createdAt: String?
    /// When the row was last written (ISO 8601, UTC). Set by the store when empty.
    public var updatedAt: String?
    /// SHA-256 of the input's bytes (hex), kept when the algorithm's answers are cached (`algorithm.cache`).
    public var inputHash: String?
    /// For an answer taken from the cache: the row it came from, `topic/partition/offset/item`.
    public var cachedFrom: String?
    /// The message's W3C `traceparent` header, when it had one (it is passed to the algorithm too).
    public var traceparent: String?
    /// The HTTP status of the last attempt, for HTTP targets.
    public var httpStatus: Int?

    /// Creates a row.
    public init(
        topic: String, partition: Int32, offset: Int64, item: Int = -1, algorithm: String,
        algorithmVersion: String? = nil, key: String? = nil, status: ResultStatus, input: String? = nil,
        inputBytes: Int = 0, output: String? = nil, error: String? = nil, metadata: String? = nil,
        outputFile: String? = nil, attempts: Int = 1,
        durationMilliseconds: Double = 0, messageTimestamp: String? = nil, createdAt: String? = nil,
        updatedAt: String? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.item = item
        self.algorithm = algorithm
        self.algorithmVersion = algorithmVersion
        self.key = key
        self.status = status
        self.input = input
        self.inputBytes = inputBytes
        self.output = output
        self.error = error
        self.metadata = metadata
        self.outputFile = outputFile
        self.attempts = attempts
        self.durationMilliseconds = durationMilliseconds
        self.messageTimestamp = messageTimestamp
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
