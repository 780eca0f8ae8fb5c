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
    /// A worker's start-up does not count (see `startupTimeout`).
    public var timeout: Duration = CallLimits.defaultTimeout
    /// How long a worker may take from its start to its first answer (loading a model, say). Requests sent to it
    /// meanwhile wait for it; their `timeout` counts from its first answer. Default: 300 s.
    public var startupTimeout: Duration = CallLimits.defaultTimeout
    /// The largest answer line accepted. Default: 16 MiB.
    public var maxAnswerBytes: Int = CallLimits.defaultMaxAnswerBytes
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
/// as `"input_base64"`; the message key as `"key"`, passed headers as a `"headers"` object when there are
/// any, and for a micro-batch the ids of its inputs as `"ids"`), and reads one answer per line from its
/// stdout, `{"id": 7, "result": <JSON>}` or `{"id": 7, "error": "message"}`, in any order: a worker may hold several requests at once. A worker that
/// exits or crashes is restarted and the requests it held are sent again (to any worker, up to `maxResends`
/// times); one that holds a request beyond the timeout is taken as hung, killed and restarted. Its stderr
/// goes to the log. Workers start with ``start()`` (the run calls it before consuming) or the first call,
/// never in `init`.
public final class ProcessAlgorithm: Algorithm {
    public let name: String
    public let version: String?
    let configuration: ProcessPoolConfiguration
    let logger: Logger
    let state: Mutex<WorkerPoolState>
    /// Signalled when a worker's output ends: a shutdown waiting for the workers to exit looks again.
    let workerExited = WakeSignal()

    /// Checks the configuration (the command is looked up on this process's PATH); starts no process.
    public init(_ configuration: ProcessPoolConfiguration, logger: Logger) throws(AlgorithmConfigurationError) {
        let problems = configuration.problems(path: ProcessInfo.processInfo.environment["PATH"])
        if let error = AlgorithmConfigurationError(configuration.name, problems) { throw error }
        name = configuration.name
        version = configuration.version
        self.configuration = configuration
        self.logger = logger
        state = Mutex(WorkerPoolState(workers: configuration.workers))
    }

    /// The process ids of the live workers (for tests and diagnostics).
    public var workerPIDs: [pid_t] { state.withLock { $0.slots.compactMap { $0.worker?.pid } } }

    /// How many times a worker was restarted.
    public var restarts: Int { state.withLock { $0.restarts } }

    /// How many workers were killed as hung (holding a request beyond the timeout).
    public var hungKills: Int { state.withLock { $0.hungKills } }

    /// Starts the workers (once; later calls do nothing). Throws when the command cannot be started, having
    /// stopped the workers it did start.
    public func start() throws(AlgorithmConfigurationError) {
        guard state.withLock({ $0.begin() }) else { return }
        try startWorkers()
    }

    /// Starts a worker in every slot; on failure stops those started and fails the requests waiting for them.
    func startWorkers() throws(AlgorithmConfigurationError) {
        signal(SIGPIPE, SIG_IGN)
        do {
            for index in state.withLock({ $0.slots.indices }) { try startWorker(slot: index) }
        } catch {
            let (started, failed) = state.withLock { $0.beginFailed() }
            for worker in started { worker.kill() }
            for request in failed {
                request.continuation.resume(returning: .failure(AlgorithmFailure(.transport, error.message)))
            }
            throw error
        }
    }

    /// Starts one worker in slot `index` and hands it the queued requests. Returns nil when the pool closed
    /// meanwhile (the new worker is then killed).
    @discardableResult
    func startWorker(slot index: Int) throws(AlgorithmConfigurationError) -> WorkerProcess? {
        let generation = state.withLock { $0.nextGeneration(index) }
        let logger = self.logger
        // The exit handler waits until the new worker is recorded, so that a worker dying at once is not missed.
        let recorded = DispatchSemaphore(value: 0)
        let worker = try WorkerProcess.spawn(
            configuration.command, label: "algoqueue.worker.\(index)", maxLineBytes: configuration.maxAnswerBytes,
            onLine: { [weak self] line in self?.answer(line, slot: index) },
            onStderr: { [weak self] line in
                logger.notice("worker: \(line)", metadata: ["worker": "\(index)"])
                self?.state.withLock { $0.stderr(line, slot: index) }
            },
            onExit: { [weak self] status in
                recorded.wait()
                self?.exited(slot: index, generation: generation, status: status)
            })
        logger.debug("worker started", metadata: ["worker": "\(index)", "pid": "\(worker.pid)"])
        let sends = state.withLock { $0.record(worker, slot: index, generation: generation) }
        recorded.signal()
        guard let sends else {
            worker.kill()
            return nil
        }
        for send in sends { send.worker.send(send.line) }
        return worker
    }

    public func call(_ input: AlgorithmInput) async -> Result<AlgorithmAnswer, AlgorithmFailure> {
        let id = state.withLock { $0.takeID() }
        let line = Self.requestLine(id, input)
        let timeout = configuration.timeout
        // The timeout is a child task of this call: it ends with the call, whichever finishes first.
        return await withTaskGroup(of: Void.self) { group in
            group.addTask { [weak self] in
                var deadline = ContinuousClock.now + timeout
                while (try? await Task.sleep(until: deadline, clock: .continuous)) != nil {
                    guard let later = self?.timedOut(id) else { return }
                    deadline = later
                }
            }
            let answer = await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let action =
                        Task.isCancelled ? .refuse : state.withLock { $0.enqueue(id, line: line, continuation) }
                    switch action {
                    case .send(let send): send.worker.send(send.line)
                    case .queued: break
                    case .queuedStart: try? startWorkers()  // a failure fails the queued requests
                    case .refuse:
                        continuation.resume(returning: .failure(AlgorithmFailure(.cancelled, "the call was cancelled")))
                    case .fail(let reason):
                        continuation.resume(returning: .failure(AlgorithmFailure(.transport, describe(reason))))
                    }
                }
            } onCancel: {
                finish(id, .failure(AlgorithmFailure(.cancelled, "the call was cancelled")))
            }
            group.cancelAll()
            return answer
        }
    }

    /// `{"id":7,"input":...}` with the key and passed headers when there are any.
    static func requestLine(_ id: Int, _ input: AlgorithmInput) -> [UInt8] {
        var line = Array(#"{"id":"#.utf8) + Array(String(id).utf8)
        switch input.contentType {
        case .json: line += Array(#","input":"#.utf8) + input.bytes
        case .text:
            line +=
                Array(#","input":"#.utf8) + Array(JSONString.quoted(String(decoding: input.bytes, as: UTF8.self)).utf8)
        case .binary:
            line +=
                Array(#","input_base64":""#.utf8) + Array(Data(input.bytes).base64EncodedString().utf8) + [
                    UInt8(ascii: "\"")
                ]
        }
        if let key = input.key { line += Array(#","key":"#.utf8) + Array(JSONString.quoted(key).utf8) }
        if !input.itemIDs.isEmpty {
            line += Array((#","ids":["# + input.itemIDs.map(JSONString.quoted).joined(separator: ",") + "]").utf8)
        }
        if !input.headers.isEmpty {
            let members = input.headers.map { JSONString.quoted($0.name) + ":" + JSONString.quoted($0.value) }
            line += Array((#","headers":{"# + members.joined(separator: ",") + "}").utf8)
        }
        line.append(UInt8(ascii: "}"))
        return line
    }

    /// Request `id` was called `timeout` ago: unless the worker holding it has spent part of that starting (then the
    /// instant to look again is returned), it fails, and the worker is taken as hung and killed (the other requests
    /// it held are sent again once its exit is noticed).
    func timedOut(_ id: Int) -> ContinuousClock.Instant? {
        let check = state.withLock {
            $0.checkTimeout(id, timeout: configuration.timeout, startup: configuration.startupTimeout)
        }
        switch check {
        case .settled: return nil
        case .later(let instant): return instant
        case .expired(let hung, let starting):
            let reason =
                starting
                ? "the worker gave no first answer within \(configuration.startupTimeout.text) of its start "
                    + "(algorithm.startup_timeout)"
                : "the worker gave no answer within \(configuration.timeout.text) (timeout)"
            finish(id, .failure(AlgorithmFailure(.timeout, reason)))
            if let hung {
                let what =
                    starting
                    ? "gave no first answer within \(configuration.startupTimeout.text) of its start"
                    : "held a request beyond \(configuration.timeout.text)"
                logger.warning("a worker \(what); killing it", metadata: ["pid": "\(hung.pid)"])
                hung.kill()
            }
            return nil
        }
    }

    /// Resolves request `id` (if it is still waiting) with `result`.
    /// `answeredBy`: the slot whose worker answered, which has started (marked under the same lock).
    func finish(_ id: Int, _ result: Result<AlgorithmAnswer, AlgorithmFailure>, answeredBy slot: Int? = nil) {
        let request = state.withLock { state in
            if let slot { state.answered(slot: slot) }
            return state.finish(id)
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
        let outcome: Result<AlgorithmAnswer, AlgorithmFailure>
        if let result = members.first(where: { $0.name == "result" })?.value {
            outcome = .success(AlgorithmAnswer(output: String(decoding: line[result], as: UTF8.self)))
        } else if let error = members.first(where: { $0.name == "error" })?.value {
            let bytes = Array(line[error])
            let message = AlgorithmiaAlgorithm.errorMessage(bytes) ?? String(decoding: bytes, as: UTF8.self)
            outcome = .failure(AlgorithmFailure(.algorithm, "worker reported an error: \(message)"))
        } else {
            outcome = .failure(
                AlgorithmFailure(.invalidAnswer, "worker answered request \(id) with neither \"result\" nor \"error\""))
        }
        finish(id, outcome, answeredBy: slot)
    }

    /// A worker's stdout ended (called on its reader thread): send its requests again (or fail those sent too
    /// often) and start a new worker in its place, on this same thread.
    func exited(slot index: Int, generation: Int, status: String) {
        let action = state.withLock {
            $0.exited(slot: index, generation: generation, maxResends: configuration.maxResends)
        }
        defer { workerExited.signal() }
        let stderr = action.lastStderr.map { "; its last stderr line: \($0)" } ?? ""
        for request in action.failed {
            request.continuation.resume(
                returning: .failure(
                    AlgorithmFailure(
                        .transport,
                        action.closed
                            ? "the worker pool was shut down"
                            : "the worker died (\(status)) while handling this input, "
                                + "\(request.resends) time(s); not sent again" + stderr)))
        }
        if let broke = action.broke { logger.error("\(describe(broke))", metadata: ["worker": "\(index)"]) }
        for request in action.waitingFailed {
            request.continuation.resume(
                returning: .failure(
                    AlgorithmFailure(.transport, describe(state.withLock { $0.startFailure } ?? status))))
        }
        for send in action.sends { send.worker.send(send.line) }
        guard action.restart else { return }
        let what =
            action.wasHung
            ? "worker was hung and is restarted"
            : "worker exited (\(status))\(action.beforeFirstAnswer ? " before its first answer" : "")\(stderr); "
                + "restarting it\(action.delay > .zero ? " in \(action.delay.text)" : "")"
        logger.warning("\(what)", metadata: ["worker": "\(index)"])
        // A worker that keeps dying before its first answer is restarted after a pause that doubles each time.
        if action.delay > .zero { Thread.sleep(forTimeInterval: action.delay.seconds) }
        do {
            try startWorker(slot: index)
        } catch {
            logger.error("cannot restart worker \(index): \(error)")
        }
    }

    /// Set while the worker command keeps dying before its first answer (see ``WorkerPoolState/startFailure``).
    public var configurationFailure: String? {
        state.withLock { $0.startFailure }.map(describe)
    }

    /// `reason` with the command and the directory it runs in (where its relative paths are resolved).
    func describe(_ reason: String) -> String {
        "the worker command `\(configuration.command.joined(separator: " "))` (run in "
            + "\(FileManager.default.currentDirectoryPath)) does not start: \(reason)"
    }

    public func shutdown() async {
        let workers = state.withLock { $0.close() }
        for worker in workers { worker.closeInput() }
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline, state.withLock({ $0.hasLiveWorkers }) {
            await workerExited.wait(atMost: deadline - ContinuousClock.now)
        }
        for worker in state.withLock({ $0.slots.compactMap(\.worker) }) { worker.kill() }
        let left = state.withLock { $0.drain() }
        for request in left {
            request.continuation.resume(
                returning: .failure(AlgorithmFailure(.cancelled, "the worker pool was shut down")))
        }
    }
}
