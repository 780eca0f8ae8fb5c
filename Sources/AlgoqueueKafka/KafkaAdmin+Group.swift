import AlgoqueueSupport

/// What the broker says about a consumer group: its state and how many members it has.
public struct KafkaGroupState: Sendable, Equatable {
    /// `Empty`, `Stable`, `PreparingRebalance`, `CompletingRebalance`, `Dead`, or what the broker calls it.
    public var state: String
    /// Members now in the group (instances consuming).
    public var members: Int
}

extension KafkaAdmin {
    /// The group's state and member count (nil when the broker does not know the group).
    public func groupState(_ group: String) throws(KafkaError) -> KafkaGroupState? {
        try client.groupListing(group, milliseconds: timeoutMilliseconds, what: "cannot describe group \(group)").map {
            KafkaGroupState(state: $0.state, members: $0.members)
        }
    }
}
