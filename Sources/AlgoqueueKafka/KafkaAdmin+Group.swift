import AlgoqueueSupport
import CRdKafka

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
        var list: UnsafePointer<rd_kafka_group_list>?
        let result = rd_kafka_list_groups(client.handle, group, &list, timeoutMilliseconds)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR, let list else {
            throw KafkaError(
                .consumer, "cannot describe group \(group): \(RdKafkaConfig.describe(result))",
                rdkafkaCode: Int(result.rawValue))
        }
        defer { rd_kafka_group_list_destroy(list) }
        for index in 0..<Int(list.pointee.group_cnt) {
            let info = list.pointee.groups[index]
            guard String(cString: info.group) == group, info.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
            return KafkaGroupState(
                state: info.state.map { String(cString: $0) } ?? "", members: Int(info.member_cnt))
        }
        return nil
    }
}
