import AlgoqueueAlgorithms
import AlgoqueueKafka
import AlgoqueuePipeline
import AlgoqueueSupport
import Foundation
import Testing

@Suite("Local worker processes")
struct WorkerProcessTests {
    /// The example worker shipped in examples/.
    static let worker = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples/worker.py").path

    static func pool(
        workers: Int, timeout: Duration = .seconds(20), startup: Duration = .seconds(300)
    ) throws -> ProcessAlgorithm {
        var configuration = ProcessPoolConfiguration(command: ["python3", worker])
        configuration.name = "words"
        configuration.workers = workers
        configuration.timeout = timeout
        configuration.startupTimeout = startup
        return try ProcessAlgorithm(configuration, logger: testLogger("pool"))
    }

    @Test("results and errors come back by request id, several in flight per worker")
    func answers() async throws {
        let pool = try Self.pool(workers: 1)
        var outputs: [String] = []
        await forEachConcurrently(
            0..<6, limit: 6,
            { n in
                await pool.call(
                    AlgorithmInput(
                        json: Array(#"{"text": "\#(String(repeating: "w ", count: n + 1))", "sleep": 0.5}"#.utf8)))
            }
        ) { result in
            if case .success(let answer) = result { outputs.append(answer.output) }
        }
        // One worker held all six at once: every request was asleep while every other was.
        let slept = outputs.compactMap { output -> (Double, Double)? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any],
                let times = object["slept"] as? [Double], times.count == 2
            else { return nil }
            return (times[0], times[1])
        }
        #expect(slept.count == 6)
        #expect((slept.map(\.0).max() ?? 1) < (slept.map(\.1).min() ?? 0), "requests did not overlap: \(slept)")
        #expect(outputs.count == 6)
        #expect(
            Set(
                outputs.compactMap {
                    JSONSyntax.member("words", of: Array($0.utf8)).map { String(decoding: $0, as: UTF8.self) }
                }) == ["1", "2", "3", "4", "5", "6"])
        let failed = await pool.call(AlgorithmInput(json: Array(#"{"text": "x", "fail": true}"#.utf8)))
        guard case .failure(let failure) = failed else {
            Issue.record("a worker error became a result")
            return
        }
        #expect(failure.kind == .algorithm)
        #expect(failure.message == "worker reported an error: failing on purpose")
        await pool.shutdown()
        #expect(pool.workerPIDs.isEmpty)
    }

    @Test("a worker killed mid-request is restarted and its requests are sent again; a hung one is killed")
    func crashAndHang() async throws {
        let bed = try await TestBed(topic: "work", partitions: 2)
        defer { bed.cleanUp() }
        let values =
            (0..<20).map { Array(#"{"text": "input number \#($0)", "sleep": 0.3}"#.utf8) }
            + [Array(#"{"text": "never answered", "sleep": 30}"#.utf8)]
        _ = try await produce(values, to: "work", brokers: bed.broker.bootstrapServers)
        // The hung input may reach the restarted worker before its first answer: then the start-up timeout ends it.
        let pool = try Self.pool(workers: 2, timeout: .seconds(4), startup: .seconds(8))
        var harness = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["work"], group: "g", database: bed.directory.file("r.db"),
            url: bed.endpoint.url)
        harness.algorithms = [pool]
        harness.retry.maxAttempts = 1
        harness.concurrency = 8
        let pipeline = try harness.makePipeline()
        try pool.start()
        let victim = try #require(pool.workerPIDs.first)
        let killer = Task {
            // Kill a worker while it holds requests (each takes 0.3 s, so it always holds some once calls start).
            _ = await eventually(within: .seconds(30)) { pipeline.statistics.snapshot.consumed > 0 }
            try? await Task.sleep(for: .milliseconds(150))
            kill(victim, SIGKILL)
        }
        _ = try await harness.run(pipeline, within: .seconds(90))
        await killer.value
        #expect(try await sqlite3(harness.database, "SELECT COUNT(*) FROM results") == ["21"])
        #expect(try await sqlite3(harness.database, "SELECT COUNT(*) FROM results WHERE status = 'ok'") == ["20"])
        // Every answer came from a live worker; the killed one answered nothing after its death.
        let pids = try await sqlite3(
            harness.database, "SELECT DISTINCT json_extract(output, '$.pid') FROM results WHERE status = 'ok'")
        #expect(pids.count >= 2)
        let hung = try await sqlite3(harness.database, "SELECT error FROM results WHERE status = 'error'")
        #expect(
            hung == ["the worker gave no answer within 4s (timeout)"]
                || hung == ["the worker gave no first answer within 8s of its start (algorithm.startup_timeout)"],
            "\(hung)")
        // Restarted after the kill; the hung worker was killed (its restart may come after the run closed the pool).
        #expect(pool.restarts >= 1)
        #expect(pool.hungKills == 1)
    }
}
