import AlgoqueueAlgorithms
import AlgoqueueSupport
import Foundation
import Testing

/// A worker that loads a model before it reads requests: its start-up is not counted in the call timeout, so a
/// worker restarted mid-run is not taken as hung while it loads (it was, again and again, with a timeout below the
/// load time: every input after a crash became a timeout row).
@Suite("Local worker processes: start-up")
struct WorkerStartupTests {
    /// A worker that sleeps `load` seconds, then answers each request after 0.1 s (or never, with a load of 1000).
    static func worker(_ directory: TemporaryDirectory, load: Double) throws -> String {
        let path = directory.file("worker.py")
        try """
        import json, sys, time
        time.sleep(\(load))  # loading a model
        for line in sys.stdin:
            request = json.loads(line)
            time.sleep(0.1)
            print(json.dumps({"id": request["id"], "result": {"n": request["input"]["n"]}}), flush=True)
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func pool(_ script: String, timeout: Duration, startup: Duration) throws -> ProcessAlgorithm {
        var configuration = ProcessPoolConfiguration(command: ["python3", script])
        configuration.name = "loading"
        configuration.workers = 1
        configuration.timeout = timeout
        configuration.startupTimeout = startup
        return try ProcessAlgorithm(configuration, logger: testLogger("pool"))
    }

    @Test("requests sent while a worker loads (2 s) get their 1 s timeout from its first answer: all answered")
    func loadingIsNotHung() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let pool = try Self.pool(
            try Self.worker(directory, load: 2), timeout: .seconds(1), startup: .seconds(60))
        let outputs = Locked<[String]>([])
        await forEachConcurrently(
            0..<4, limit: 4, { n in await pool.call(AlgorithmInput(json: Array(#"{"n": \#(n)}"#.utf8))) }
        ) { result in
            switch result {
            case .success(let answer): outputs.withLock { $0.append(answer.output) }
            case .failure(let failure): Issue.record("a call failed: \(failure.message)")
            }
        }
        #expect(outputs.withLock { $0.count } == 4)
        #expect(pool.hungKills == 0)
        #expect(pool.restarts == 0)
        await pool.shutdown()
    }

    @Test("a worker that never answers is killed at the start-up timeout, its request failing with that reason")
    func neverStartingIsKilled() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let pool = try Self.pool(
            try Self.worker(directory, load: 1000), timeout: .milliseconds(500), startup: .seconds(2))
        let result = await pool.call(AlgorithmInput(json: Array(#"{"n": 1}"#.utf8)))
        guard case .failure(let failure) = result else {
            Issue.record("a worker that never started answered")
            return
        }
        #expect(failure.kind == .timeout)
        #expect(
            failure.message == "the worker gave no first answer within 2s of its start (algorithm.startup_timeout)")
        #expect(pool.hungKills == 1)
        await pool.shutdown()
    }
}
