/// The next offset to read on one partition for one consumer group.
public struct StoredOffset: Sendable, Hashable {
    /// The topic.
    public var topic: String
    /// The partition.
    public var partition: Int32
    /// The offset of the first message not yet durable in the store.
    public var nextOffset: Int64

    /// Creates an offset record.
    public init(topic: String, partition: Int32, nextOffset: Int64) {
        self.topic = topic
        self.partition = partition
        self.nextOffset = nextOffset
    }
}
