import Synchronization

/// Bounds how many calls are in flight: ``acquire()`` waits for a free slot, ``release()`` frees one.
final class ConcurrencyLimiter: Sendable {
    struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
        var waiterHead = 0
    }

    let capacity: Int
    let state: Mutex<State>

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        state = Mutex(State(available: max(1, capacity)))
    }

    func acquire() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state -> Bool in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiters.append(waiter)
                return false
            }
            if granted { waiter.resume() }
        }
    }

    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiterHead < state.waiters.count {
                let waiter = state.waiters[state.waiterHead]
                state.waiterHead += 1
                if state.waiterHead == state.waiters.count {
                    state.waiters.removeAll(keepingCapacity: true)
                    state.waiterHead = 0
                }
                return waiter
            }
            state.available += 1
            return nil
        }
        next?.resume()
    }

    /// Calls currently holding a slot.
    var inFlight: Int {
        state.withLock { capacity - $0.available }
    }
}
