import Synchronization

/// Bounds how many calls are in flight: ``acquire()`` waits for a free slot, ``release()`` frees one, and
/// ``close()`` ends the waiting for good (a stop), so that no call starts after it.
final class ConcurrencyLimiter: Sendable {
    /// The slots and who waits for one. Methods change the state and say whom to resume; the caller resumes
    /// them after unlocking.
    struct State {
        var available: Int
        var waiters: [CheckedContinuation<Bool, Never>] = []
        var waiterHead = 0
        var closed = false

        /// Takes a slot now (`true`), refuses because the limiter is closed (`false`), or queues `waiter` (nil).
        mutating func acquire(_ waiter: CheckedContinuation<Bool, Never>) -> Bool? {
            if closed { return false }
            if available > 0 {
                available -= 1
                return true
            }
            waiters.append(waiter)
            return nil
        }

        /// Frees a slot: hands it to the first waiter (returned, to be resumed with `true`) or makes it available.
        mutating func release() -> CheckedContinuation<Bool, Never>? {
            guard !closed, waiterHead < waiters.count else {
                available += 1
                return nil
            }
            let waiter = waiters[waiterHead]
            waiterHead += 1
            if waiterHead == waiters.count {
                waiters.removeAll(keepingCapacity: true)
                waiterHead = 0
            }
            return waiter
        }

        /// Closes the limiter; returns the waiters, to be resumed with `false`.
        mutating func close() -> ArraySlice<CheckedContinuation<Bool, Never>> {
            guard !closed else { return [] }
            closed = true
            defer {
                waiters = []
                waiterHead = 0
            }
            return waiters[waiterHead...]
        }
    }

    let capacity: Int
    let state: Mutex<State>

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        state = Mutex(State(available: max(1, capacity)))
    }

    /// Waits for a free slot; returns false, without a slot, once the limiter is closed.
    func acquire() async -> Bool {
        await withCheckedContinuation { (waiter: CheckedContinuation<Bool, Never>) in
            if let answer = state.withLock({ $0.acquire(waiter) }) { waiter.resume(returning: answer) }
        }
    }

    /// Frees a slot taken by ``acquire()``.
    func release() {
        state.withLock { $0.release() }?.resume(returning: true)
    }

    /// Starts no more calls: every waiter, now and later, gets `false`. Slots held stay held until released.
    func close() {
        for waiter in state.withLock({ $0.close() }) { waiter.resume(returning: false) }
    }

    /// Calls currently holding a slot.
    var inFlight: Int {
        state.withLock { capacity - $0.available }
    }
}
