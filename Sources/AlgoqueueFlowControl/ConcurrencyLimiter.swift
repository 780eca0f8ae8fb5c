import AlgoqueueSupport
import Synchronization

/// Bounds how many calls are in flight: ``acquire()`` waits for a free slot, ``release()`` frees one, and
/// ``close()`` ends the waiting for good (a stop), so that no call starts after it.
package final class ConcurrencyLimiter: ClosesWithIntake {
    /// The slots and who waits for one. Methods change the state and say whom to resume; the caller resumes
    /// them after unlocking.
    package struct State {
        /// How many calls may be in flight (fixed, or moved by ``AdaptiveLimit``).
        var limit: Int
        var inUse = 0
        var waiters: [CheckedContinuation<Bool, Never>] = []
        var waiterHead = 0
        var closed = false

        /// Takes a slot now (`true`), refuses because the limiter is closed (`false`), or queues `waiter` (nil).
        mutating func acquire(_ waiter: CheckedContinuation<Bool, Never>) -> Bool? {
            if closed { return false }
            if inUse < limit {
                inUse += 1
                return true
            }
            waiters.append(waiter)
            return nil
        }

        mutating func nextWaiter() -> CheckedContinuation<Bool, Never>? {
            guard !closed, inUse < limit, waiterHead < waiters.count else { return nil }
            let waiter = waiters[waiterHead]
            waiterHead += 1
            if waiterHead == waiters.count {
                waiters.removeAll(keepingCapacity: true)
                waiterHead = 0
            }
            inUse += 1
            return waiter
        }

        /// Frees a slot: hands it to the first waiter (returned, to be resumed with `true`) unless the limit has
        /// come down below the calls still in flight.
        mutating func release() -> CheckedContinuation<Bool, Never>? {
            inUse -= 1
            return nextWaiter()
        }

        /// Moves the limit; returns the waiters a higher limit lets in, to be resumed with `true`.
        mutating func setLimit(_ newLimit: Int) -> [CheckedContinuation<Bool, Never>] {
            limit = max(1, newLimit)
            var admitted: [CheckedContinuation<Bool, Never>] = []
            while let waiter = nextWaiter() { admitted.append(waiter) }
            return admitted
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

    package let state: Mutex<State>
    /// Signalled when the last call in flight releases its slot (a stop waits for that).
    package let idle = Broadcast()

    package init(capacity: Int) {
        state = Mutex(State(limit: max(1, capacity)))
    }

    /// The current limit.
    package var limit: Int { state.withLock { $0.limit } }

    /// Moves the limit (waiters are let in at once when it goes up; calls in flight above a lower limit finish).
    package func setLimit(_ limit: Int) {
        for waiter in state.withLock({ $0.setLimit(limit) }) { waiter.resume(returning: true) }
    }

    /// Waits for a free slot; returns false, without a slot, once the limiter is closed.
    package func acquire() async -> Bool {
        await withCheckedContinuation { (waiter: CheckedContinuation<Bool, Never>) in
            if let answer = state.withLock({ $0.acquire(waiter) }) { waiter.resume(returning: answer) }
        }
    }

    /// Frees a slot taken by ``acquire()``.
    package func release() {
        let (next, idle) = state.withLock { state in
            let next = state.release()
            return (next, state.inUse == 0)
        }
        next?.resume(returning: true)
        if idle { self.idle.signal() }
    }

    /// Returns once no call holds a slot, or at `deadline`; false when calls are still in flight then.
    package func waitUntilIdle(before deadline: ContinuousClock.Instant) async -> Bool {
        while true {
            let seen = idle.generation
            if inFlight == 0 { return true }
            let now = ContinuousClock.now
            guard now < deadline, !Task.isCancelled else { return false }
            await idle.wait(since: seen, atMost: deadline - now)
        }
    }

    /// Starts no more calls: every waiter, now and later, gets `false`. Slots held stay held until released.
    package func close() {
        for waiter in state.withLock({ $0.close() }) { waiter.resume(returning: false) }
    }

    /// Calls currently holding a slot.
    package var inFlight: Int {
        state.withLock { $0.inUse }
    }
}
