import Dispatch
import Foundation
import Synchronization

/// Asks the broker for partitions' low and high watermarks with a bound of algoqueue's own.
///
/// librdkafka 2.0.2's watermark query (`RdKafkaClient.queryWatermarks`) ignores its timeout once its requests are sent
/// (librdkafka issue 4460): with a broker that stopped answering it can block for as long as the socket timeout, or
/// longer. So the query runs on a thread of its own, and the caller (the poll thread, the rebalance callback, a
/// stop) waits at most `within`; what has not come by then is left out, and the thread ends whenever librdkafka
/// returns. The thread keeps the client alive until then.
enum BoundedWatermarks {
    struct Watermarks: Equatable, Sendable {
        var low: Int64
        var high: Int64
    }

    static func query(_ client: RdKafkaClient, _ partitions: [TopicPartition], within bound: Duration)
        -> [TopicPartition: Watermarks]
    {
        guard !partitions.isEmpty else { return [:] }
        let done = DispatchSemaphore(value: 0)
        let deadline = ContinuousClock.now + bound
        // A class box, so that the thread and the waiter share one result however late the thread ends.
        let box = Box()
        let thread = Thread {
            for partition in partitions {
                let left = (deadline - ContinuousClock.now).milliseconds
                guard left > 0 else { break }
                if let marks = try? client.queryWatermarks(
                    partition, milliseconds: Int32(clamping: left), what: "watermarks")
                {
                    box.found.withLock { $0[partition] = Watermarks(low: marks.low, high: marks.high) }
                }
            }
            done.signal()
        }
        thread.name = "algoqueue-kafka-watermarks"
        thread.start()
        _ = done.wait(timeout: .now() + .milliseconds(Int(max(0, bound.milliseconds))))
        return box.found.withLock { $0 }
    }

    final class Box: Sendable {
        let found = Mutex<[TopicPartition: Watermarks]>([:])
    }
}
