import AlgoqueueFlowControl
import Synchronization

/// Messages waiting for a call, taken in order by the call workers (one call per message, unordered). A worker that
/// finishes a call takes its next message here on the thread it is on, with no hop to the dispatch loop and back.
/// The dispatch loop waits while `bound` messages wait, until workers have taken half of them.
final class WorkQueue: ClosesWithIntake {
    struct State {
        var works: [OrderingLanes.Work] = []
        var head = 0
        var takers: [CheckedContinuation<OrderingLanes.Work?, Never>] = []
        var producer: CheckedContinuation<Void, Never>?
        var closed = false

        var count: Int { works.count - head }

        /// The first message, and the producer to wake when the queue has come down to `resumeAt`.
        mutating func take(resumeAt: Int) -> (OrderingLanes.Work?, CheckedContinuation<Void, Never>?) {
            guard head < works.count else { return (nil, nil) }
            let work = works[head]
            head += 1
            if head == works.count {
                works.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1024, head * 2 >= works.count {
                works.removeFirst(head)
                head = 0
            }
            guard count <= resumeAt, let producer else { return (work, nil) }
            self.producer = nil
            return (work, producer)
        }
    }

    /// How many messages may wait.
    let bound: Int
    let state = Mutex(State())

    init(bound: Int) {
        self.bound = max(4, bound)
    }

    /// Queues `work` for the next free worker, first waiting while ``bound`` messages wait. Once closed, drops it:
    /// it was never called, so its offset stays and it is consumed again.
    func put(_ work: OrderingLanes.Work) async {
        while true {
            let (placed, taker) = state.withLock { state -> (Bool, CheckedContinuation<OrderingLanes.Work?, Never>?) in
                if state.closed { return (true, nil) }
                if !state.takers.isEmpty { return (true, state.takers.removeFirst()) }
                guard state.count < bound else { return (false, nil) }
                state.works.append(work)
                return (true, nil)
            }
            if placed {
                taker?.resume(returning: work)
                return
            }
            await withCheckedContinuation { (producer: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state in
                    if state.closed || state.count < bound { return true }
                    state.producer = producer
                    return false
                }
                if now { producer.resume() }
            }
        }
    }

    /// The next message, waiting for one if none waits; nil once closed.
    func next() async -> OrderingLanes.Work? {
        let resumeAt = bound / 2
        let (work, producer) = state.withLock { $0.take(resumeAt: resumeAt) }
        producer?.resume()
        if let work { return work }
        return await withCheckedContinuation { (taker: CheckedContinuation<OrderingLanes.Work?, Never>) in
            let (work, producer, now) = state.withLock { state in
                let (work, producer) = state.take(resumeAt: resumeAt)
                if work != nil || state.closed { return (work, producer, true) }
                state.takers.append(taker)
                return (nil, nil, false)
            }
            producer?.resume()
            if now { taker.resume(returning: work) }
        }
    }

    /// Hands out nothing more: waiting workers get nil, a waiting producer returns, queued messages are dropped.
    func close() {
        typealias Waiting = (
            takers: [CheckedContinuation<OrderingLanes.Work?, Never>], producer: CheckedContinuation<Void, Never>?
        )
        let (takers, producer) = state.withLock { state -> Waiting in
            guard !state.closed else { return ([], nil) }
            state.closed = true
            defer {
                state.takers = []
                state.producer = nil
                state.works = []
                state.head = 0
            }
            return (state.takers, state.producer)
        }
        for taker in takers { taker.resume(returning: nil) }
        producer?.resume()
    }
}
