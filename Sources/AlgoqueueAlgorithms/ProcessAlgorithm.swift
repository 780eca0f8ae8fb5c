import AlgoqueueSupport
import Foundation
import Logging
import Synchronization

/// How to run a pool of local worker processes.
public struct ProcessPoolConfiguration: Sendable {
    /// The name rows are stored under. Default: `process`.
    public var name: String = "process"
    /// An optional version stored with each row.
    public var version: String?
    /// The program and its arguments, such as `["python3", "examples/worker.py"]`.
    public var command: [String]
    /// How many workers run at once. Default: 2.
    public var workers: Int = 2
    /// How long one request may take; a worker holding a request longer is taken as hung and restarted.
    public var timeout: Duration = .seconds(300)
    /// The largest answer line accepted. Default: 16 MiB.
    public var maxAnswerBytes: Int = 16 << 20
    /// How many times a request is sent again after the worker holding it died. Default: 2.
    public var maxResends: Int = 2

    /// A configuration for `command`, other settings default.
    public init(command: [String]) {
        self.command = command
    }
}

/// An algorithm served by a pool of long-lived local processes speaking JSON lines.
///
/// algoqueue writes one request per line to a worker's stdin, `{"id": 7, "input": <the input>}` (binary inputs
/// as `"input_base64"`; the message key as `"key"` and passed headers as a `"headers"` object when there are
/// any), and reads one answer per line from its stdout, `{"id": 7, "result": <JSON>}` or
/// `{"id": 7, "error": "message"}`, in any order: a worker may hold several requests at once. A worker that
/// exits or crashes is restarted and the requests it held are sent again (to any worker, up to `maxResends`
/// times); one that holds a request beyond the timeout is taken as hung, killed and restarted. Its stderr
/// goes to the log.
public final class ProcessAlgorithm: Algorithm {
    public let name: String
    public let version: String?
    let configuration: ProcessPoolConfiguration
    let logger: Logger
    let state: Mutex<PoolState>

    struct Slot {
        var worker: WorkerProcess?
        var generation = 0
        var inFlight: Set<Int> = []
        var startedAt = ContinuousClock.now
        /// Killed by algoqueue as hung: the requests it held are not to blame.
        var killedAsHung = false
    }

    struct Request {
        var line: [UInt8]
        var continuation: CheckedContinuation<Result<AlgorithmAnswer, AlgorithmFailure>, Never>
        var slot: Int?
        var resends = 0
    }

    struct PoolState {
        var slots: [Slot]
        var requests: [Int: Request] = [:]
        var waiting: [Int] = []
        var nextID = 1
        var closed = false
        var restarts = 0
    }

    /// Starts the workers. Throws when the command cannot be started.
    public init(_ configuration: ProcessPoolConfiguration, logger: Logger) throws(AlgorithmConfigurationError) {
        guard !configuration.command.isEmpty else {
            throw AlgorithmConfigurationError("algorithm \(configuration.name): give the worker command")
        }
        signal(SIGPIPE, SIG_IGN)
        name = configuration.name
        version = configuration.version
        self.configuration = configuration
        self.logger = logger
        state = Mutex(PoolState(slots: Array(repeating: Slot(), count: max(1, configuration.workers))))
        for index in 0..<max(1, configuration.workers) { try start(slot: index) }
    }

    /// The process ids of the live workers (for tests and diagnostics).
    public var workerPIDs: [pid_t] { state.withLock { $0.slots.compactMap { $0.worker?.pid } } }

    /// How many times a worker was restarted.
    public var restarts: Int { state.withLock { $0.restarts } }

    func start(slot index: Int) throws(AlgorithmConfigurationError) {
        let generation = state.withLock { $0.slots[index].generation + 1 }
        let logger = self.logger
        // The exit handler waits until the new worker is recorded, so that a worker dying at once is not missed.
        let recorded = DispatchSemaphore(value: 0)
        let worker = try WorkerProcess.spawn(
            configuration.command, label: "algoqueue.worker.\(index)", maxLineBytes: configuration.maxAnswerBytes,
            onLine: { [weak self] line in self?.answer(line, slot: index) },
            onStderr: { line in logger.notice("worker: \(line)", metadata: ["worker": "\(index)"]) },
            onExit: { [weak self] status in
                recorded.wait()
                self?.exited(slot: index, generation: generation, status: status)
            })
        logger.debug("worker started", metadata: ["worker": "\(index)", "pid": "\(worker.pid)"])
        let sends = state.withLock { state -> [(WorkerProcess, [UInt8])] in
            state.slots[index] = Slot(worker: worker, generation: generation)
            let waiting = state.waiting
            state.waiting = []
            return waiting.compactMap { Self.assign($0, in: &state) }
        }
        recorded.signal()
        for (worker, line) in sends { worker.send(line) }
    }

    public func call(_ input: AlgorithmInput) async -> Result<AlgorithmAnswer, AlgorithmFailure> {
        var line = Array(#"{"id":"#.utf8)
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        line += Array(String(id).utf8)
        switch input.contentType {
        case .json: line += Array(#","input":"#.utf8) + input.bytes
        case .text: line += Array(#","input":"#.utf8) + Array(JSONString.quoted(String(decoding: input.bytes, as: UTF8.self)).utf8)
        case .binary: line += Array(#","input_base64":""#.utf8) + Array(Data(input.bytes).base64EncodedString().utf8) + [UInt8(ascii: "\"")]
        }
        if let key = input.key { line += Array(#","key":"#.utf8) + Array(JSONString.quoted(key).utf8) }
        if !input.headers.isEmpty {
            let members = input.headers.map { JSONString.quoted($0.name) + ":" + JSONString.quoted($0.value) }
            line += Array((#","headers":{"# + members.joined(separator: ",") + "}").utf8)
        }
        line.append(UInt8(ascii: "}"))
        let timeout = configuration.timeout
        let timer = Task { [weak self] in
            try await Task.sleep(for: timeout)
            self?.timedOut(id)
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let send = state.withLock { state -> (WorkerProcess, [UInt8])? in
                    guard !state.closed, !Task.isCancelled else {
                        continuation.resume(returning: .failure(AlgorithmFailure(.cancelled, "the call was cancelled")))
                        return nil
                    }
                    state.requests[id] = Request(line: line, continuation: continuation)
                    return Self.assign(id, in: &state)
                }
                if let (worker, line) = send { worker.send(line) }
            }
        } onCancel: {
            finish(id, .failure(AlgorithmFailure(.cancelled, "the call was cancelled")))
        }
    }

    /// Request `id` outlived the timeout: it fails, and the worker holding it is taken as hung and killed (the
    /// other requests it held are sent again once its exit is noticed).
    func timedOut(_ id: Int) {
        let hung = state.withLock { state -> WorkerProcess? in
            guard let slot = state.requests[id]?.slot else { return nil }
            state.slots[slot].killedAsHung = true
            return state.slots[slot].worker
        }
        finish(id, .failure(AlgorithmFailure(.timeout, "the worker gave no answer within \(configuration.timeout.text) (timeout)")))
        if let hung {
            logger.warning("a worker held a request beyond \(configuration.timeout.text); killing it", metadata: ["pid": "\(hung.pid)"])
            hung.kill()
        }
    }

    /// Sends request `id` to the live worker holding the fewest requests, or queues it when none is live.
    static func assign(_ id: Int, in state: inout PoolState) -> (WorkerProcess, [UInt8])? {
        guard let request = state.requests[id] else { return nil }
        let live = state.slots.indices.filter { state.slots[$0].worker != nil }
        guard let index = live.min(by: { state.slots[$0].inFlight.count < state.slots[$1].inFlight.count }),
            let worker = state.slots[index].worker
        else {
            state.waiting.append(id)
            return nil
        }
        state.slots[index].inFlight.insert(id)
        state.requests[id]?.slot = index
        return (worker, request.line)
    }

    /// Resolves request `id` (if it is still waiting) with `result`.
    func finish(_ id: Int, _ result: Result<AlgorithmAnswer, AlgorithmFailure>) {
        let request = state.withLock { state -> Request? in
            guard let request = state.requests.removeValue(forKey: id) else { return nil }
            if let slot = request.slot { state.slots[slot].inFlight.remove(id) }
            state.waiting.removeAll { $0 == id }
            return request
        }
        request?.continuation.resume(returning: result)
    }

    /// One line from a worker's stdout.
    func answer(_ line: [UInt8], slot: Int) {
        guard let members = JSONSyntax.objectMembers(line),
            let idRange = members.first(where: { $0.name == "id" })?.value,
            let id = Int(String(decoding: line[idRange], as: UTF8.self))
        else {
            logger.warning(
                "worker wrote a line that is not an answer ({\"id\": N, \"result\": ...}); ignored",
                metadata: ["worker": "\(slot)", "line": "\(String(decoding: line.prefix(200), as: UTF8.self))"])
            return
        }
        if let result = members.first(where: { $0.name == "result" })?.value {
            finish(id, .success(AlgorithmAnswer(output: String(decoding: line[result], as: UTF8.self))))
        } else if let error = members.first(where: { $0.name == "error" })?.value {
            let bytes = Array(line[error])
            let message = AlgorithmiaAlgorithm.errorMessage(bytes) ?? String(decoding: bytes, as: UTF8.self)
            finish(id, .failure(AlgorithmFailure(.algorithm, "worker reported an error: \(message)")))
        } else {
            finish(id, .failure(AlgorithmFailure(.invalidAnswer, "worker answered request \(id) with neither \"result\" nor \"error\"")))
        }
    }

    /// A worker's stdout ended: send its requests again (or fail those sent too often) and start a new one.
    func exited(slot index: Int, generation: Int, status: String) {
        let (failed, sends, closed, wasHung) = state.withLock { state -> ([Request], [(WorkerProcess, [UInt8])], Bool, Bool) in
            guard state.slots[index].generation == generation else { return ([], [], true, false) }
            let held = state.slots[index].inFlight
            let wasHung = state.slots[index].killedAsHung
            state.slots[index].worker = nil
            state.slots[index].inFlight = []
            var failed: [Request] = []
            var sends: [(WorkerProcess, [UInt8])] = []
            for id in held.sorted() {
                guard var request = state.requests[id] else { continue }
                request.slot = nil
                if !wasHung { request.resends += 1 }
                if request.resends > configuration.maxResends || state.closed {
                    state.requests[id] = nil
                    failed.append(request)
                } else {
                    state.requests[id] = request
                    if let send = Self.assign(id, in: &state) { sends.append(send) }
                }
            }
            if !state.closed { state.restarts += 1 }
            return (failed, sends, state.closed, wasHung)
        }
        for request in failed {
            request.continuation.resume(
                returning: .failure(
                    AlgorithmFailure(
                        .transport,
                        closed ? "the worker pool was shut down" : "the worker died (\(status)) while handling this input, "
                            + "\(request.resends) time(s); not sent again")))
        }
        for (worker, line) in sends { worker.send(line) }
        guard !closed else { return }
        logger.warning(
            wasHung ? "worker was hung and is restarted" : "worker exited (\(status)); restarting it",
            metadata: ["worker": "\(index)"])
        let quick = state.withLock { ContinuousClock.now - $0.slots[index].startedAt < .seconds(1) }
        Task {
            // A worker that dies right after starting is restarted once a second, not in a tight loop.
            if quick { try? await Task.sleep(for: .seconds(1)) }
            do {
                try start(slot: index)
            } catch {
                logger.error("cannot restart worker \(index): \(error)")
            }
        }
    }

    public func shutdown() async {
        let workers = state.withLock { state -> [WorkerProcess] in
            state.closed = true
            return state.slots.compactMap(\.worker)
        }
        for worker in workers { worker.closeInput() }
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline, state.withLock({ $0.slots.contains { $0.worker != nil } }) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for worker in state.withLock({ $0.slots.compactMap(\.worker) }) { worker.kill() }
        let left = state.withLock { state -> [Request] in
            defer { state.requests = [:] }
            return Array(state.requests.values)
        }
        for request in left { request.continuation.resume(returning: .failure(AlgorithmFailure(.cancelled, "the worker pool was shut down"))) }
    }
}
