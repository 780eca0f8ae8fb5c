import AlgoqueueSupport

/// A message as consumed: its coordinates, key, value, headers and timestamp, copied out of librdkafka.
public struct KafkaMessage: Sendable {
    /// The topic the message came from.
    public var topic: String
    /// Its partition.
    public var partition: Int32
    /// Its offset in the partition.
    public var offset: Int64
    /// The key bytes, if the message has a key.
    public var key: [UInt8]?
    /// The value bytes; `nil` for a message with a null value (a tombstone).
    public var value: [UInt8]?
    /// The headers, in order; a header value may be null.
    public var headers: [KafkaHeader]
    /// The message timestamp in milliseconds since the Unix epoch, if the broker gave one.
    public var timestampMilliseconds: Int64?

    /// Creates a message (used by tests and by the consumer).
    public init(
        topic: String, partition: Int32, offset: Int64, key: [UInt8]? = nil, value: [UInt8]?,
        headers: [KafkaHeader] = [], timestampMilliseconds: Int64? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestampMilliseconds = timestampMilliseconds
    }

    /// The message's topic and partition.
    public var topicPartition: TopicPartition { TopicPartition(topic, partition) }

    /// The size of key, value and headers in bytes: what the message costs in memory.
    public var byteCount: Int {
        (key?.count ?? 0) + (value?.count ?? 0) + headers.reduce(0) { $0 + $1.name.utf8.count + ($1.value?.count ?? 0) }
    }
}

/// A Kafka record header.
public struct KafkaHeader: Sendable, Hashable {
    /// The header name.
    public var name: String
    /// The header value; `nil` for a null header.
    public var value: [UInt8]?

    /// Creates a header.
    public init(name: String, value: [UInt8]?) {
        self.name = name
        self.value = value
    }

    /// Creates a header with a UTF-8 string value.
    public init(name: String, string: String) {
        self.init(name: name, value: Array(string.utf8))
    }

    /// Creates a header whose value is `integer` in decimal digits.
    public init(name: String, integer: some BinaryInteger) {
        var digits: [UInt8] = []
        digits.reserveCapacity(20)
        JSONObjectBytes.appendDecimal(Int64(integer), to: &digits)
        self.init(name: name, value: digits)
    }
}
