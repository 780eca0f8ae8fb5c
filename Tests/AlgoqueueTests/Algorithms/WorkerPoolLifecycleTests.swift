import AlgoqueueAlgorithms
import Foundation
import Testing

/// When a pool of worker processes starts, and what happens when it cannot.
@Suite("Worker pool lifecycle")
struct WorkerPoolLifecycleTests {
    static func pool(_ command: [String] = ["python3", WorkerProcessTests.worker], workers: Int = 2) throws
        -> ProcessAlgorithm
    {
        var configuration = ProcessPoolConfiguration(command: command)
        configuration.name = "words"
        configuration.workers = workers
        configuration.timeout = .seconds(20)
        return try ProcessAlgorithm(configuration, logger: testLogger("pool"))
    }

    static let input = AlgorithmInput(json: Array(#"{"text": "two words"}"#.utf8))

    @Test("a worker holds its three pipes and none of this process's other descriptors")
    func workersInheritNothing() async throws {
        // A pipe of ours, open while the workers start: a worker holding it would keep its reader waiting forever.
        let pipe = Pipe()
        defer { try? pipe.fileHandleForWriting.close() }
        let ours = try FileManager.default.destinationOfSymbolicLink(
            atPath: "/proc/self/fd/\(pipe.fileHandleForWriting.fileDescriptor)")
        let pool = try Self.pool(workers: 1)
        try pool.start()
        let pid = try #require(pool.workerPIDs.first)
        // Looked at once the worker answers: `python3` may be a launcher script (pyenv's shim) whose own pipes are
        // open until it runs the interpreter in the same process.
        let answered = await pool.call(Self.input)
        guard case .success = answered else {
            Issue.record("the worker did not answer: \(answered)")
            return
        }
        #expect(pool.workerPIDs.first == pid)
        // Each descriptor with its target, read together: one the starting worker closes meanwhile (a module file
        // Python reads) is left out without shifting the others.
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap {
            descriptor -> (descriptor: Int, target: String)? in
            guard let number = Int(descriptor),
                let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(descriptor)")
            else { return nil }
            return (number, target)
        }
        #expect(open.count >= 3)
        #expect(!open.contains { $0.target == ours }, "the worker holds our pipe \(ours)")
        // Beyond 0, 1 and 2, no pipe or socket (Kafka connections, other pipes) reached it.
        let inherited = open.filter {
            $0.descriptor > 2 && ($0.target.hasPrefix("pipe:") || $0.target.hasPrefix("socket:"))
        }
        #expect(inherited.isEmpty, "\(inherited)")
        await pool.shutdown()
    }

    @Test("init starts no process; start() starts the workers once; shutdown stops them")
    func startExplicitly() async throws {
        let pool = try Self.pool(workers: 2)
        #expect(pool.workerPIDs.isEmpty)
        try pool.start()
        let first = pool.workerPIDs
        #expect(first.count == 2)
        try pool.start()
        #expect(pool.workerPIDs == first)
        guard case .success(let answer) = await pool.call(Self.input) else {
            Issue.record("no answer")
            return
        }
        #expect(answer.output.contains(#""words":2"#))
        await pool.shutdown()
        #expect(pool.workerPIDs.isEmpty)
        #expect(first.allSatisfy { kill($0, 0) != 0 })
    }

    @Test("the first call starts the workers; calls made together share the one start")
    func startOnFirstCall() async throws {
        let pool = try Self.pool(workers: 2)
        var answers = 0
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<6 {
                group.addTask { if case .success = await pool.call(Self.input) { true } else { false } }
            }
            for await ok in group where ok { answers += 1 }
        }
        #expect(answers == 6)
        #expect(pool.workerPIDs.count == 2)
        #expect(pool.restarts == 0)
        await pool.shutdown()
    }

    @Test("a command that is not there is refused by init; one that cannot start: start() throws, a call fails at once")
    func cannotStart() async throws {
        #expect {
            try Self.pool(["/nonexistent/model-worker"], workers: 2)
        } throws: { error in
            "\(error)" == "algorithm words: command: /nonexistent/model-worker is not an executable file"
        }
        // An executable file whose interpreter is gone: it passes the check, and starting it fails.
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let script = directory.file("worker")
        try "#!/nonexistent/python9\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let pool = try Self.pool([script], workers: 2)
        #expect {
            try pool.start()
        } throws: { error in
            "\(error)".contains("cannot start the worker command \(script)")
        }
        #expect(pool.workerPIDs.isEmpty)
        guard case .failure(let failure) = await pool.call(Self.input) else {
            Issue.record("a call to a pool that cannot start succeeded")
            return
        }
        #expect(failure.message.contains("cannot start the worker command"))
        #expect(pool.workerPIDs.isEmpty)
        await pool.shutdown()
    }

    @Test("after shutdown a call is refused and starts nothing")
    func callAfterShutdown() async throws {
        let pool = try Self.pool(workers: 1)
        await pool.shutdown()
        guard case .failure(let failure) = await pool.call(Self.input) else {
            Issue.record("a call after shutdown succeeded")
            return
        }
        #expect(failure.kind == .cancelled)
        #expect(pool.workerPIDs.isEmpty)
    }
}
