import Dispatch

/// Work that blocks a thread (file reads and writes with `fsync`, librdkafka metadata and admin calls) runs here,
/// on a dedicated queue, never on Swift concurrency's cooperative threads.
public enum BlockingWork {
    static let queue = DispatchQueue(label: "algoqueue.blocking", qos: .utility, attributes: .concurrent)

    /// Runs `body` on the blocking queue and returns what it returned or throws what it threw.
    public static func run<Value: Sendable, Failure: Error>(
        _ body: @escaping @Sendable () throws(Failure) -> Value
    ) async throws(Failure) -> Value {
        let result: Result<Value, Failure> = await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: Result { () throws(Failure) -> Value in try body() }) }
        }
        return try result.get()
    }
}
