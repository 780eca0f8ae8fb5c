import Synchronization

/// A wake-up one task waits for, with a time limit: ``signal()`` wakes the waiter (or the next ``wait(atMost:)``
/// returns at once); signals while nobody waits collapse into one.
///
/// Unlike waiting on an `AsyncStream` in a task that is then cancelled (which ends the stream for good, so every
/// later wait returns at once and the waiter spins), a cancelled or timed-out wait leaves the signal usable.
public final class WakeSignal: Sendable {
    struct State {
        var pending = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var nextID: UInt64 = 0
    }

    let state = Mutex(State())

    public init() {}

    /// Wakes the waiter, or lets the next wait return at once.
    public func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume()
    }

    /// Returns after a ``signal()`` (or at once if one came since the last wait), after `limit`, or when the task
    /// is cancelled. One waiter at a time.
    public func wait(atMost limit: Duration) async {
        await waitAtMost(limit) { await self.waitForSignal() }
    }

    /// Returns after a ``signal()`` (or at once if one came since the last wait), or when the task is cancelled.
    /// One waiter at a time.
    public func wait() async { await waitForSignal() }

    func waitForSignal() async {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = (id, continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard let waiter = state.waiter, waiter.id == id else { return nil }
                state.waiter = nil
                return waiter.continuation
            }
            waiter?.resume()
        }
    }
}

/// Runs `wait` (a wait that ends when cancelled) for at most `limit`: whichever ends first ends the other.
func waitAtMost(_ limit: Duration, _ wait: @escaping @Sendable () async -> Void) async {
    await withTaskGroup(of: Void.self) { group in
        group.addTask { await wait() }
        group.addTask { try? await Task.sleep(for: limit) }
        await group.next()
        group.cancelAll()
    }
}
