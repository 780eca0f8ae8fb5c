import AlgoqueueKafka
import Foundation
import Testing

/// Graceful stop against slow and hanging models: the promise that matters where calls take seconds.
@Suite("The service binary: stopping with slow models")
struct SlowModelStopTests {
    /// Runs `algoqueue run` with `arguments` until the endpoint has seen `callsBeforeSignal` calls (and `ready`
    /// holds), sends SIGTERM, and returns the calls the endpoint saw when the signal went and after the exit.
    func stopMidRun(
        _ bed: TestBed, _ arguments: [String], callsBeforeSignal: Int, name: String, ready: () async -> Bool = { true }
    ) async throws -> (atSignal: Int, afterExit: Int, status: Int32?, errors: String) {
        let service = try RunningProgram(try algoqueueBinary(), arguments, directory: bed.directory, name: name)
        let started = await eventually(within: .seconds(90)) {
            guard bed.endpoint.callCount >= callsBeforeSignal else { return false }
            return await ready()
        }
        #expect(started, "the service made too few calls: \(service.errorOutput)")
        let atSignal = bed.endpoint.callCount
        service.signal(SIGTERM)
        let status = await service.exitStatus(within: .seconds(60))
        return (atSignal, bed.endpoint.callCount, status, service.errorOutput)
    }

    /// Checks a stop (exit 0, at most `slots` calls started after the signal, a row for every call made), then
    /// restarts until idle and checks that all `inputs` inputs end `ok`, each called exactly once over both runs.
    func expectStopThenRestart(
        _ bed: TestBed, _ arguments: [String], database: String,
        stop: (atSignal: Int, afterExit: Int, status: Int32?, errors: String),
        slots: Int, inputs: Int, betweenRuns: () async throws -> Void = {}
    ) async throws {
        #expect(stop.status == 0, "exit status \(String(describing: stop.status)): \(stop.errors)")
        // Calls already on their way when the signal went may still arrive; never more than the free slots.
        #expect(
            stop.afterExit - stop.atSignal <= slots, "\(stop.afterExit - stop.atSignal) calls started after SIGTERM")
        #expect(stop.afterExit < inputs)
        #expect(try await sqlite3(database, "SELECT COUNT(*) FROM results") == ["\(stop.afterExit)"])
        try await betweenRuns()

        let restart = try await algoqueue(arguments + ["--until-idle"], directory: bed.directory)
        #expect(restart.status == 0, "restart failed: \(restart.error)")
        #expect(
            try await sqlite3(database, "SELECT COUNT(*), SUM(status = 'ok') FROM results") == ["\(inputs)|\(inputs)"])
        #expect(bed.endpoint.callsPerInput == Dictionary(uniqueKeysWithValues: (0..<inputs).map { ($0, 1) }))
    }

    func runArguments(_ bed: TestBed, topic: String, database: String) -> [String] {
        [
            "run", "--brokers", bed.broker.bootstrapServers, "--topic", topic, "--group", topic, "--url",
            bed.endpoint.url,
            "--database", database, "--concurrency", "8", "--shutdown-timeout", "30s",
        ]
    }

    @Test(
        "2 s calls, concurrency 8: SIGTERM starts no new call, writes the 8 in flight, exits 0; a restart calls the rest once"
    )
    func unordered() async throws {
        let bed = try await TestBed(topic: "slow", partitions: 2, delay: .seconds(2))
        defer { bed.cleanUp() }
        _ = try await produce((0..<48).map { numberInput($0) }, to: "slow", brokers: bed.broker.bootstrapServers)
        let database = bed.directory.file("results.db")
        let arguments = runArguments(bed, topic: "slow", database: database)
        let stop = try await stopMidRun(bed, arguments, callsBeforeSignal: 12, name: "first")
        try await expectStopThenRestart(bed, arguments, database: database, stop: stop, slots: 8, inputs: 48)
        await bed.endpoint.stop()
    }

    @Test("Ordered by key with one slower key: rows written ahead of the offset are not called again after a stop")
    func orderedByKey() async throws {
        let bed = try await TestBed(topic: "lanes", partitions: 1, delay: .seconds(2))
        defer { bed.cleanUp() }
        // Four keys, four inputs each, round robin; key k0 takes 4 s more per call, so the others run ahead of it.
        let inputs = (0..<16).map { n in Array((n % 4 == 0 ? #"{"n": \#(n), "delayMs": 4000}"# : #"{"n": \#(n)}"#).utf8)
        }
        _ = try await produce(
            inputs, to: "lanes", brokers: bed.broker.bootstrapServers, keys: (0..<16).map { "k\($0 % 4)" })
        let database = bed.directory.file("results.db")
        let arguments = runArguments(bed, topic: "lanes", database: database) + ["--ordering", "key"]
        // Stop once k0's second input (offset 4) is in flight and the rows of offsets 5-7 are written past it.
        let stop = try await stopMidRun(bed, arguments, callsBeforeSignal: 8, name: "first") {
            guard bed.endpoint.callsPerInput[4] != nil else { return false }
            return (try? await sqlite3(database, "SELECT COUNT(*) FROM results WHERE offset IN (5, 6, 7)")) == ["3"]
        }
        try await expectStopThenRestart(bed, arguments, database: database, stop: stop, slots: 4, inputs: 16) {
            // The case under test: rows exist beyond the offset the group resumes from.
            let ahead = try await sqlite3(
                database,
                "SELECT COUNT(*) FROM results r JOIN consumer_offsets o ON r.topic = o.topic AND r.partition = o.partition "
                    + "WHERE r.offset >= o.next_offset")
            #expect(
                (Int(ahead.first ?? "") ?? 0) > 0,
                "no row was written ahead of the stored offset; the test proves nothing")
        }
        await bed.endpoint.stop()
    }

    @Test("A batch message stopped half-way keeps its finished items; a restart calls only the items left")
    func batchMessage() async throws {
        let bed = try await TestBed(topic: "batches", partitions: 1, delay: .seconds(2))
        defer { bed.cleanUp() }
        let batches = (0..<2).map { batch in
            Array(("[" + (0..<24).map { #"{"n": \#(batch * 24 + $0)}"# }.joined(separator: ",") + "]").utf8)
        }
        _ = try await produce(batches, to: "batches", brokers: bed.broker.bootstrapServers)
        let database = bed.directory.file("results.db")
        let arguments = runArguments(bed, topic: "batches", database: database) + ["--batch-messages", "auto"]
        let stop = try await stopMidRun(bed, arguments, callsBeforeSignal: 10, name: "first")
        try await expectStopThenRestart(bed, arguments, database: database, stop: stop, slots: 8, inputs: 48)
        #expect(try await sqlite3(database, "SELECT COUNT(DISTINCT offset) FROM results") == ["2"])
        await bed.endpoint.stop()
    }

    @Test(
        "30 s calls that outlast --shutdown-timeout are abandoned: exit 0, no row, offsets unmoved, called again next time"
    )
    func abandonAtDeadline() async throws {
        let bed = try await TestBed(topic: "hang", partitions: 1, hangFor: .seconds(30))
        defer { bed.cleanUp() }
        _ = try await produce(
            (0..<4).map { _ in Array(#"{"hang": true}"#.utf8) }, to: "hang", brokers: bed.broker.bootstrapServers)
        let database = bed.directory.file("results.db")
        var arguments = runArguments(bed, topic: "hang", database: database)
        arguments[arguments.firstIndex(of: "30s")!] = "2s"
        let stop = try await stopMidRun(bed, arguments, callsBeforeSignal: 4, name: "first")
        #expect(stop.status == 0, "exit status \(String(describing: stop.status)): \(stop.errors)")
        #expect(stop.afterExit == 4)
        #expect(stop.errors.contains("abandoning 4 call(s) still in flight"))
        #expect(try await sqlite3(database, "SELECT COUNT(*) FROM results") == ["0"])
        #expect(try await sqlite3(database, "SELECT COUNT(*) FROM consumer_offsets WHERE next_offset > 0") == ["0"])
        await bed.endpoint.stop()
    }
}
