import Dispatch
import Synchronization

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

    /// Starts `body` on the blocking queue and returns at once; `group` counts it until it ends, for whoever must
    /// wait for such work before the process exits (a Kafka client's destroy, started from a `deinit`).
    public static func start(in group: DispatchGroup, _ body: @escaping @Sendable () -> Void) {
        queue.async(group: group, execute: body)
    }

    /// ``run(_:)`` that stops waiting as soon as the task is cancelled, throwing `cancelled()`: `body` still runs to
    /// its end on the blocking queue (a librdkafka call with a timeout of its own), its result dropped. For waits a
    /// stop should not sit out, so that the task (a child of a service) ends with its parent.
    public static func run<Value: Sendable, Failure: Error>(
        orOnCancel cancelled: @escaping @Sendable () -> Failure,
        _ body: @escaping @Sendable () throws(Failure) -> Value
    ) async throws(Failure) -> Value {
        // Whoever comes first, the work or the cancel, takes the continuation and resumes it; the other finds none.
        let waiter = Mutex<(continuation: CheckedContinuation<Result<Value, Failure>, Never>?, cancelled: Bool)>(
            (nil, false))
        let result: Result<Value, Failure> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let cancelledAlready = waiter.withLock { state in
                    if !state.cancelled { state.continuation = continuation }
                    return state.cancelled
                }
                if cancelledAlready { return continuation.resume(returning: .failure(cancelled())) }
                queue.async {
                    let result = Result { () throws(Failure) -> Value in try body() }
                    waiter.withLock { state in
                        defer { state.continuation = nil }
                        return state.continuation
                    }?.resume(returning: result)
                }
            }
        } onCancel: {
            waiter.withLock { state in
                state.cancelled = true
                defer { state.continuation = nil }
                return state.continuation
            }?.resume(returning: .failure(cancelled()))
        }
        return try result.get()
    }
}
