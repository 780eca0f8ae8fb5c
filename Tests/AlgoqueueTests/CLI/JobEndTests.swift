import Foundation
import Testing

/// Runs the binary as `algoqueue(_:directory:)` does, with `directory` as its working directory (where a user runs it).
func algoqueueInDirectory(_ arguments: [String], directory: TemporaryDirectory) async throws
    -> (status: Int32?, output: String, error: String)
{
    let program = try RunningProgram(
        "/bin/sh", ["-c", #"cd "$0" && exec "$@""#, directory.path, try algoqueueBinary()] + arguments,
        directory: directory, name: "cwd-\(UUID().uuidString.prefix(8))")
    let status = await program.exitStatus(within: .seconds(120))
    return (status, program.output, program.errorOutput)
}

/// A batch job (`run --until-idle`) ends, and says why, against an endpoint that is gone, a worker command that
/// cannot start, or answers that are mostly errors.
@Suite("Jobs that must end")
struct JobEndTests {
    /// The number before " input(s) are left" in `text`.
    static func inputsLeft(_ text: String) -> Int? {
        guard let range = text.range(of: " input(s) are left") else { return nil }
        return Int(text[..<range.lowerBound].split(separator: " ").last ?? "")
    }

    @Test("a job whose endpoint refuses every connection stops after circuit_breaker.max_open with exit 69")
    func deadEndpointEndsTheJob() async throws {
        let bed = try await TestBed(topic: "dead", partitions: 2)
        defer { bed.cleanUp() }
        let closed = try ClosedPort()
        defer { closed.close() }
        _ = try await produce((0..<20).map { numberInput($0) }, to: "dead", brokers: bed.broker.bootstrapServers)
        let database = bed.directory.file("dead.db")
        let config = bed.directory.file("job.yaml")
        try """
        circuit_breaker: {failure_threshold: 3, open_duration: 500ms, max_open: 3s}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let job = try await runUntilIdle(
            bed, topic: "dead", database: database, url: "http://127.0.0.1:\(closed.port)/predict",
            ["--config", config])
        #expect(job.status == 69, "\(job.error.suffix(1500))")
        #expect(job.error.contains("the circuit stayed open for"), "\(job.error.suffix(1500))")
        #expect(job.error.lowercased().contains("connection refused"), "the endpoint's error is named")
        let left = try #require(Self.inputsLeft(job.error), "\(job.error.suffix(800))")
        let written = try await sqlite3(database, "SELECT COUNT(*) FROM results")
        let rows = Int(written.first ?? "") ?? -1
        // What finished is written and committed; the message counts exactly what is not.
        #expect(rows + left == 20, "rows \(rows), left \(left)")
        #expect(left > 0)
        // The circuit's log lines name what failed.
        #expect(job.error.contains("circuit opened: 3 calls failed in a row, the last with:"))

        // The next run, against an endpoint that answers, writes the rest: one row per input.
        let next = try await runUntilIdle(bed, topic: "dead", database: database)
        #expect(next.status == 0, "\(next.error.suffix(800))")
        #expect(
            try await sqlite3(database, "SELECT COUNT(*), COUNT(DISTINCT partition || '/' || offset) FROM results") == [
                "20|20"
            ])
        #expect(try await sqlite3(database, "SELECT COUNT(*) FROM results WHERE status = 'ok'") == ["\(left)"])
        await bed.endpoint.stop()
    }

    @Test("--max-errors and --max-error-ratio: a job with more error rows than allowed exits 65 after writing all")
    func errorLimits() async throws {
        let bed = try await TestBed(topic: "garbage", partitions: 1)
        defer { bed.cleanUp() }
        let values = (0..<8).map { numberInput($0) } + (0..<4).map { _ in Array(#"{"garbage": true}"#.utf8) }
        _ = try await produce(values, to: "garbage", brokers: bed.broker.bootstrapServers)
        let database = bed.directory.file("garbage.db")
        let strict = try await runUntilIdle(bed, topic: "garbage", database: database, ["--max-errors", "3"])
        #expect(strict.status == 65, "\(strict.error.suffix(800))")
        #expect(strict.error.contains("4 error row(s) of 12, more than pipeline.max_errors (3)"), "\(strict.error)")
        #expect(strict.error.contains("algoqueue results --database \(database) --errors"))
        #expect(
            try await sqlite3(database, "SELECT status, COUNT(*) FROM results GROUP BY status") == ["error|4", "ok|8"])

        // The same rows under a ratio: 4 of 12 is a third.
        let other = bed.directory.file("ratio.db")
        let group = ["--group", "ratio"]
        let above = try await runUntilIdle(
            bed, topic: "garbage", database: other, group + ["--max-error-ratio", "0.3"])
        #expect(above.status == 65, "\(above.error.suffix(800))")
        #expect(above.error.contains("4 error row(s) of 12 (33.3%), more than pipeline.max_error_ratio (0.3)"))
        let third = bed.directory.file("third.db")
        let within = try await runUntilIdle(
            bed, topic: "garbage", database: third,
            ["--group", "third", "--max-error-ratio", "0.34", "--max-errors", "4"])
        #expect(within.status == 0, "\(within.error.suffix(800))")
        let bad = try await runUntilIdle(bed, topic: "garbage", database: third, ["--max-error-ratio", "1.5"])
        #expect(bad.status == 78)
        #expect(bad.error.contains("pipeline.max_error_ratio: must be a share between 0 and 1"), "\(bad.error)")
        await bed.endpoint.stop()
    }

    @Test("a worker command that dies before its first answer: restarts back off, the job exits 78 with its stderr")
    func workerThatCannotStart() async throws {
        let bed = try await TestBed(topic: "worker", partitions: 1)
        defer { bed.cleanUp() }
        _ = try await produce((0..<6).map { numberInput($0) }, to: "worker", brokers: bed.broker.bootstrapServers)
        let worker = bed.directory.file("worker.py")
        try """
        import sys
        sys.stderr.write("loading model.bin\\n")
        sys.stderr.write("FileNotFoundError: model.bin is missing\\n")
        sys.exit(2)
        """.write(toFile: worker, atomically: true, encoding: .utf8)
        let config = bed.directory.file("worker.yaml")
        try """
        algorithm: {kind: process, command: [python3, \(worker)], workers: 1}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let database = bed.directory.file("worker.db")
        let job = try await algoqueueInDirectory(
            [
                "run", "--config", config, "--brokers", bed.broker.bootstrapServers, "--topic", "worker",
                "--group", "worker", "--database", database, "--until-idle",
            ], directory: bed.directory)
        #expect(job.status == 78, "\(job.error.suffix(1500))")
        #expect(
            job.error.contains("the worker command `python3 \(worker)` (run in \(bed.directory.path)) does not start"))
        #expect(job.error.contains("exited before its first answer 5 times in a row"), "\(job.error.suffix(1500))")
        #expect(job.error.contains("FileNotFoundError: model.bin is missing"))
        // Backed off: 0.25 s, 0.5 s, 1 s, 2 s between deaths, not a restart loop.
        let deaths = job.error.components(separatedBy: "worker exited (").count - 1
        #expect((5...8).contains(deaths), "\(deaths) deaths: \(job.error.suffix(1500))")
        #expect(job.error.contains("restarting it in 250ms") && job.error.contains("restarting it in 1s"))
        // Error rows written meanwhile carry the worker's last stderr line.
        for error in try await sqlite3(database, "SELECT error FROM results") {
            #expect(error.contains("model.bin is missing"), "\(error)")
        }
        await bed.endpoint.stop()
    }

    @Test("check-config and run resolve a worker's script where run does, and say where that is")
    func relativeScript() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let config = directory.file("job.yaml")
        try """
        kafka: {brokers: [127.0.0.1:9], topics: [t], group: g}
        algorithm: {kind: process, command: [python3, examples/worker.py]}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let check = try await algoqueueInDirectory(["check-config", config], directory: directory)
        #expect(check.status == 78)
        #expect(
            check.error.contains(
                "python3's script examples/worker.py does not exist in the working directory \(directory.path)"),
            "\(check.error)")
        let run = try await algoqueueInDirectory(
            ["run", "--config", config, "--database", directory.file("r.db"), "--until-idle"], directory: directory)
        #expect(run.status == 78)
        #expect(run.error.contains("examples/worker.py does not exist"), "\(run.error)")
        // Present there, it passes; `python3 -m module` names no script to look for.
        try FileManager.default.createDirectory(atPath: directory.file("examples"), withIntermediateDirectories: true)
        try "print()\n".write(toFile: directory.file("examples/worker.py"), atomically: true, encoding: .utf8)
        #expect(try await algoqueueInDirectory(["check-config", config], directory: directory).status == 0)
        let module = directory.file("module.yaml")
        try """
        kafka: {brokers: [127.0.0.1:9], topics: [t], group: g}
        algorithm: {kind: process, command: [python3, -m, http.server]}
        """.write(toFile: module, atomically: true, encoding: .utf8)
        #expect(try await algoqueue(["check-config", module], directory: directory).status == 0)
    }
}

@Suite("Topics that do not exist")
struct MissingTopicTests {
    @Test("a job on a topic the cluster does not have exits 78 naming it; a service warns and keeps running")
    func missingTopic() async throws {
        let bed = try await TestBed(topic: "inputs", partitions: 1)
        defer { bed.cleanUp() }
        let database = bed.directory.file("typo.db")
        let job = try await runUntilIdle(bed, topic: "inptus", database: database)
        #expect(job.status == 78, "\(job.error.suffix(800))")
        #expect(job.error.contains("the cluster has no topic inptus (its topics: inputs); nothing was consumed"))
        #expect(!FileManager.default.fileExists(atPath: database), "nothing was opened")

        let service = try RunningProgram(
            try algoqueueBinary(),
            [
                "run", "--brokers", bed.broker.bootstrapServers, "--topic", "inptus", "--group", "svc", "--url",
                bed.endpoint.url, "--database", database,
            ], directory: bed.directory, name: "typo-service")
        #expect(
            await eventually(within: .seconds(30)) {
                service.errorOutput.contains(
                    "the cluster has no topic inptus (its topics: inputs); it is consumed once")
                    && service.errorOutput.contains("info algoqueue: consuming")
            }, "\(service.errorOutput.suffix(800))")
        #expect(service.isRunning)
        service.signal(SIGTERM)
        #expect(await service.exitStatus(within: .seconds(30)) == 0)
        await bed.endpoint.stop()
    }
}
