import AlgoqueueSupport
import Synchronization

/// What a stop closes with the intake: call slots, the queue of messages waiting for a call.
package protocol ClosesWithIntake: Sendable {
    func close()
}

/// Signals `broadcast` when the intake closes: tasks waiting on it for something else (the writer to catch up) look
/// again and find the intake closed.
package struct SignalsWhenClosed: ClosesWithIntake {
    let broadcast: Broadcast

    package init(_ broadcast: Broadcast) { self.broadcast = broadcast }

    package func close() { broadcast.signal() }
}

/// Whether new calls may start. Open from the start of a run until a graceful stop, a failure or the end of an
/// idle run closes it, once. Closing closes the call limiters and the call workers' queue, and wakes every wait
/// that would lead to a call (a retry's backoff, an open circuit, a micro-batch's linger), so that no call starts
/// after it.
package final class Intake: Sendable {
    /// Open with the sleepers to wake, or closed. Methods return whom to resume; callers resume after unlocking.
    package struct State {
        var closed = false
        var sleepers: [Int: CheckedContinuation<Void, Never>] = [:]
        /// Sleepers cancelled before they registered.
        var cancelled: Set<Int> = []
        var nextID = 0
        var limiters: [any ClosesWithIntake] = []

        mutating func register(_ id: Int, _ sleeper: CheckedContinuation<Void, Never>) -> Bool {
            if closed || cancelled.remove(id) != nil { return false }
            sleepers[id] = sleeper
            return true
        }

        mutating func cancel(_ id: Int) -> CheckedContinuation<Void, Never>? {
            if let sleeper = sleepers.removeValue(forKey: id) { return sleeper }
            cancelled.insert(id)
            return nil
        }

        mutating func close() -> (sleepers: [CheckedContinuation<Void, Never>], limiters: [any ClosesWithIntake]) {
            guard !closed else { return ([], []) }
            closed = true
            defer { sleepers = [:] }
            return (Array(sleepers.values), limiters)
        }
    }

    package let state = Mutex(State())

    /// An open intake.
    package init() {}

    /// Closes `limiter` (call slots, the workers' queue) with the intake (at once if it is closed already).
    package func register(_ limiter: any ClosesWithIntake) {
        let closeNow = state.withLock { state in
            if !state.closed { state.limiters.append(limiter) }
            return state.closed
        }
        if closeNow { limiter.close() }
    }

    /// True once closed: start no call.
    package var isClosed: Bool { state.withLock { $0.closed } }

    /// Closes the intake (again is harmless).
    package func close() {
        let (sleepers, limiters) = state.withLock { $0.close() }
        for limiter in limiters { limiter.close() }
        for sleeper in sleepers { sleeper.resume() }
    }

    /// Returns when the intake closes or the task is cancelled.
    package func closed() async {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (sleeper: CheckedContinuation<Void, Never>) in
                if !state.withLock({ $0.register(id, sleeper) }) { sleeper.resume() }
            }
        } onCancel: {
            state.withLock { $0.cancel(id) }?.resume()
        }
    }

    /// Sleeps for `duration`; returns false, early, when the intake closes or the task is cancelled.
    package func sleep(for duration: Duration) async -> Bool {
        if isClosed { return false }
        let slept = await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await Task.sleep(for: duration)) != nil }
            group.addTask {
                await self.closed()
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        return slept && !isClosed && !Task.isCancelled
    }
}
