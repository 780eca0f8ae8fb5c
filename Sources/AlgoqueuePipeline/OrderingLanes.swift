import AlgoqueueKafka
import AlgoqueueSupport

/// How calls for messages of one partition or one key may overlap.
public enum Ordering: String, Sendable, CaseIterable {
    /// Calls run in any order, as many at once as `concurrency` allows. The default, and the fastest.
    case unordered
    /// Calls for messages with the same key never overlap and run in offset order; messages without a key
    /// are unordered. Different keys run in parallel.
    case key
    /// One call at a time per partition, in offset order. Partitions run in parallel.
    case partition
}

extension Ordering {
    /// The lane of a message, or nil when it may run unordered.
    func lane(of message: KafkaMessage) -> String? {
        switch self {
        case .unordered: return nil
        case .partition: return "\(message.topic)\u{0}\(message.partition)"
        case .key:
            guard let key = message.key else { return nil }
            return "\(message.topic)\u{0}" + key.map { String($0, radix: 16) }.joined(separator: ",")
        }
    }
}

/// Serial lanes for ordered dispatch: the first message of an idle lane starts a lane task; later ones queue
/// behind it and run one after another. Queued messages still count against the consumer's buffer, so memory
/// stays bounded by the same limits.
final class OrderingLanes: Sendable {
    struct Work: Sendable {
        var message: KafkaMessage
        var generation: Int
    }

    struct State {
        var queues: [String: [Work]] = [:]
        var stopping = false
    }

    let state = Locked(State())

    /// Queues `work` on `lane`; returns true when the lane was idle and the caller must start its task.
    func enqueue(_ work: Work, on lane: String) -> Bool {
        state.withLock { state in
            if state.queues[lane] != nil {
                state.queues[lane]!.append(work)
                return false
            }
            state.queues[lane] = []
            return true
        }
    }

    /// The lane's next work, or nil when it is empty (the lane is then idle) or the pipeline is stopping.
    func next(on lane: String) -> Work? {
        state.withLock { state in
            guard !state.stopping, var queue = state.queues[lane], !queue.isEmpty else {
                state.queues[lane] = nil
                return nil
            }
            let work = queue.removeFirst()
            state.queues[lane] = queue
            return work
        }
    }

    /// Starts no more queued work (graceful stop); what is queued is consumed again next time.
    func stop() {
        state.withLock { $0.stopping = true }
    }
}
