import Synchronization

/// A wake-up any number of tasks wait for: ``signal()`` wakes every task waiting. For a condition that another task
/// changes ("the writer caught up", "the last call ended"), waited for without polling:
///
/// ```swift
/// while true {
///     let seen = changed.generation
///     guard stillWaiting() else { break }
///     await changed.wait(since: seen, atMost: .seconds(1))
/// }
/// ```
///
/// Reading ``generation`` before checking the condition closes the gap between the check and the wait: a signal in
/// between has moved the generation, and the wait returns at once.
public final class Broadcast: Sendable {
    struct State {
        var generation: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextID: UInt64 = 0
    }

    let state = Mutex(State())

    public init() {}

    /// How many signals came so far.
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Wakes every waiting task.
    public func signal() {
        let waiters = state.withLock { state in
            state.generation &+= 1
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once a signal came after `generation` was read (at once if one came already), after `limit`, or when
    /// the task is cancelled.
    public func wait(since generation: UInt64, atMost limit: Duration) async {
        await waitAtMost(limit) { await self.waitForSignal(since: generation) }
    }

    func waitForSignal(since generation: UInt64) async {
        let id = state.withLock { state in
            state.nextID &+= 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.generation != generation || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
