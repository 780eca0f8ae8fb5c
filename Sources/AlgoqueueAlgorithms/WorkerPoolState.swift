/// The state of a ``ProcessAlgorithm``'s pool: its phase, its worker slots and the requests they hold.
///
/// Every method runs under the pool's lock and returns what the caller must do once it has unlocked: start
/// workers, write lines, resume continuations, kill processes. Nothing here blocks, writes or resumes.
struct WorkerPoolState {
    typealias Answer = Result<AlgorithmAnswer, AlgorithmFailure>
    typealias Continuation = CheckedContinuation<Answer, Never>

    enum Phase: Equatable {
        /// Created: no worker runs yet. The first `start()` or call starts them.
        case idle
        /// Workers are being started or run.
        case running
        /// `shutdown()` was called: nothing new is accepted, no worker is restarted.
        case closed
    }

    struct Slot {
        var worker: WorkerProcess?
        var generation = 0
        var inFlight: Set<Int> = []
        var startedAt = ContinuousClock.now
        /// When the worker first answered. Until then it is starting (loading a model, say): the requests it holds
        /// wait for it up to the start-up timeout, not the call timeout.
        var answeredAt: ContinuousClock.Instant?
        /// Killed by algoqueue as hung: the requests it held are not to blame.
        var killedAsHung = false
        /// Workers of this slot that died before their first answer, in a row (kept across restarts).
        var failedStarts = 0
        /// The last lines the slot's workers wrote to stderr (kept across restarts).
        var stderrTail: [String] = []
    }

    struct Request {
        var line: [UInt8]
        var continuation: Continuation
        var slot: Int?
        /// When it was last written to a worker.
        var sentAt: ContinuousClock.Instant?
        var resends = 0
    }

    /// A line to write to a worker.
    typealias Send = (worker: WorkerProcess, line: [UInt8])

    private(set) var phase = Phase.idle
    private(set) var slots: [Slot]
    private(set) var requests: [Int: Request] = [:]
    private(set) var waiting: [Int] = []
    private(set) var nextID = 1
    private(set) var restarts = 0
    /// Workers killed because they held a request beyond the timeout.
    private(set) var hungKills = 0
    /// Set when a slot's workers died before their first answer `brokenAfter` times in a row: why the command does
    /// not work. Requests waiting for a worker fail with it instead of waiting; cleared by the next answer.
    private(set) var startFailure: String?

    /// Deaths before a first answer, in a row, that make the command a configuration problem.
    static let brokenAfter = 5
    /// Lines of stderr kept per slot.
    static let stderrLines = 5
    /// The longest pause before restarting a worker that keeps dying before its first answer.
    static let maxRestartDelay: Duration = .seconds(30)

    init(workers: Int) {
        slots = Array(repeating: Slot(), count: max(1, workers))
    }

    /// Whether the caller must start the workers (the first call to start from idle).
    mutating func begin() -> Bool {
        guard phase == .idle else { return false }
        phase = .running
        return true
    }

    /// Starting the workers failed: back to idle (the next call tries again) with no worker recorded. Returns
    /// the workers that did start, to be killed, and every open request, to be failed.
    mutating func beginFailed() -> (workers: [WorkerProcess], failed: [Request]) {
        guard phase == .running else { return ([], []) }
        phase = .idle
        let workers = slots.compactMap(\.worker)
        for index in slots.indices {
            slots[index].worker = nil
            slots[index].inFlight = []
        }
        return (workers, drain())
    }

    mutating func takeID() -> Int {
        defer { nextID += 1 }
        return nextID
    }

    enum EnqueueAction {
        case send(Send)
        /// No live worker: queued until one is recorded.
        case queued
        /// Queued, and the pool is idle: start the workers.
        case queuedStart
        /// Closed: resume the continuation with a cancellation.
        case refuse
        /// No worker can start (``startFailure``): resume the continuation with this failure.
        case fail(String)
    }

    mutating func enqueue(_ id: Int, line: [UInt8], _ continuation: Continuation) -> EnqueueAction {
        guard phase != .closed else { return .refuse }
        requests[id] = Request(line: line, continuation: continuation)
        if let send = assign(id) { return .send(send) }
        if let failure = startFailure, phase == .running {
            // No live worker, and the command keeps failing: fail now rather than wait for one.
            waiting.removeAll { $0 == id }
            requests[id] = nil
            return .fail(failure)
        }
        return begin() ? .queuedStart : .queued
    }

    /// The generation a new worker in slot `index` will have.
    func nextGeneration(_ index: Int) -> Int { slots[index].generation + 1 }

    /// A worker was started in slot `index`: the queued requests go to the live workers. Nil when the pool closed
    /// meanwhile (the caller kills the new worker).
    mutating func record(_ worker: WorkerProcess, slot index: Int, generation: Int) -> [Send]? {
        guard phase == .running else { return nil }
        var slot = Slot(worker: worker, generation: generation)
        slot.failedStarts = slots[index].failedStarts
        slot.stderrTail = slots[index].stderrTail
        slots[index] = slot
        let queued = waiting
        waiting = []
        return queued.compactMap { assign($0) }
    }

    /// Sends request `id` to the live worker holding the fewest requests, or queues it when none is live.
    private mutating func assign(_ id: Int) -> Send? {
        guard let request = requests[id] else { return nil }
        let live = slots.indices.filter { slots[$0].worker != nil }
        guard let index = live.min(by: { slots[$0].inFlight.count < slots[$1].inFlight.count }),
            let worker = slots[index].worker
        else {
            waiting.append(id)
            return nil
        }
        slots[index].inFlight.insert(id)
        requests[id]?.slot = index
        requests[id]?.sentAt = .now
        return (worker, request.line)
    }

    /// Takes request `id` out (nil when it was already answered, timed out or cancelled).
    mutating func finish(_ id: Int) -> Request? {
        guard let request = requests.removeValue(forKey: id) else { return nil }
        if let slot = request.slot { slots[slot].inFlight.remove(id) }
        waiting.removeAll { $0 == id }
        return request
    }

    /// The worker in slot `index` answered: it has started.
    mutating func answered(slot index: Int) {
        guard slots[index].answeredAt == nil else { return }
        slots[index].answeredAt = .now
        slots[index].failedStarts = 0
        startFailure = nil
    }

    /// A line the worker in slot `index` wrote to stderr.
    mutating func stderr(_ line: String, slot index: Int) {
        slots[index].stderrTail.append(line)
        if slots[index].stderrTail.count > Self.stderrLines { slots[index].stderrTail.removeFirst() }
    }

    /// What the end of a request's timeout comes to.
    enum TimeoutCheck {
        /// Answered (or failed) meanwhile: nothing to do.
        case settled
        /// Not over yet: look again at this instant.
        case later(ContinuousClock.Instant)
        /// Over: the request fails, and the worker holding it (if any) is killed as hung. `starting`: that worker
        /// never answered within the start-up timeout.
        case expired(hung: WorkerProcess?, starting: Bool)
    }

    /// Whether request `id`, called `timeout` ago or more, has run out of time at `now`. The time a worker takes to
    /// start (until its first answer, at most `startup` from its start) does not count: a request sent to a starting
    /// worker has `timeout` from the moment that worker answered first (or from when it was sent, if later).
    mutating func checkTimeout(
        _ id: Int, timeout: Duration, startup: Duration, now: ContinuousClock.Instant = .now
    ) -> TimeoutCheck {
        guard let request = requests[id] else { return .settled }
        // Waiting for a worker to be started in a slot: no worker to blame.
        guard let index = request.slot, slots[index].worker != nil else { return .expired(hung: nil, starting: false) }
        guard let ready = slots[index].answeredAt else {
            let startupEnd = slots[index].startedAt + startup
            // Looked at again at least once per timeout, so that a worker that has started meanwhile is noticed.
            if now < startupEnd { return .later(min(startupEnd, now + timeout)) }
            return .expired(hung: markHung(index), starting: true)
        }
        let deadline = max(ready, request.sentAt ?? ready) + timeout
        if now < deadline { return .later(deadline) }
        return .expired(hung: markHung(index), starting: false)
    }

    /// Marks the worker in slot `index` as hung; returns it, to be killed.
    private mutating func markHung(_ index: Int) -> WorkerProcess? {
        if !slots[index].killedAsHung, slots[index].worker != nil { hungKills += 1 }
        slots[index].killedAsHung = true
        return slots[index].worker
    }

    struct ExitAction {
        /// Requests to fail: sent too often, or the pool is closed.
        var failed: [Request] = []
        var sends: [Send] = []
        /// Start a new worker in the slot, after `delay`.
        var restart = false
        var delay: Duration = .zero
        var wasHung = false
        var closed = false
        /// The worker died before its first answer.
        var beforeFirstAnswer = false
        /// The command just became a configuration problem (``startFailure``): log it once.
        var broke: String?
        /// Requests that were waiting for a worker, failed with ``startFailure``.
        var waitingFailed: [Request] = []
        /// The last stderr line of the slot, for the error rows.
        var lastStderr: String?
    }

    /// The worker of `generation` in slot `index` is gone: its requests are sent again (or failed when sent
    /// `maxResends` times already, or when the pool is closed).
    mutating func exited(slot index: Int, generation: Int, maxResends: Int) -> ExitAction {
        guard slots[index].generation == generation else { return ExitAction() }  // an old worker: nothing to do
        var action = ExitAction(wasHung: slots[index].killedAsHung, closed: phase != .running)
        let held = slots[index].inFlight
        action.lastStderr = slots[index].stderrTail.last
        action.beforeFirstAnswer = slots[index].answeredAt == nil && !action.wasHung
        if action.beforeFirstAnswer {
            slots[index].failedStarts += 1
            // 0.25 s, 0.5 s, 1 s, ... up to 30 s: a command that cannot start does not spin.
            let exponent = min(slots[index].failedStarts - 1, 16)
            action.delay = min(Self.maxRestartDelay, .milliseconds(250) * (1 << exponent))
        } else {
            slots[index].failedStarts = 0
        }
        slots[index].worker = nil
        slots[index].inFlight = []
        for id in held.sorted() {
            guard var request = requests[id] else { continue }
            request.slot = nil
            if !action.wasHung { request.resends += 1 }
            if request.resends > maxResends || action.closed {
                requests[id] = nil
                action.failed.append(request)
            } else {
                requests[id] = request
                if let send = assign(id) { action.sends.append(send) }
            }
        }
        if !action.closed {
            restarts += 1
            action.restart = true
        }
        if !action.closed, startFailure == nil, slots[index].failedStarts >= Self.brokenAfter {
            let tail = slots[index].stderrTail
            startFailure =
                "the worker exited before its first answer \(slots[index].failedStarts) times in a row"
                + (tail.isEmpty
                    ? " (it wrote nothing to stderr)" : "; its stderr ended with: " + tail.joined(separator: " | "))
            action.broke = startFailure
        }
        if startFailure != nil, !hasLiveWorkers {
            for id in waiting {
                if let request = requests.removeValue(forKey: id) { action.waitingFailed.append(request) }
            }
            waiting = []
        }
        return action
    }

    /// Closes the pool; returns the live workers, to be asked to finish.
    mutating func close() -> [WorkerProcess] {
        phase = .closed
        return slots.compactMap(\.worker)
    }

    var hasLiveWorkers: Bool { slots.contains { $0.worker != nil } }

    /// Every request still open, taken out (to be failed).
    mutating func drain() -> [Request] {
        defer {
            requests = [:]
            waiting = []
        }
        return Array(requests.values)
    }
}
