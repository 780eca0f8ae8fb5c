import AlgoqueueKafka
import Foundation
import Testing

/// `algoqueue run` arguments for a test group; a short session timeout so a killed member leaves the group quickly,
/// yet twice the development broker's first-join delay (3 s): at 3 s a member whose join waited out that delay could
/// be expired in the same instant, its join never answered, and the same race met again on every rejoin.
func runArguments(brokers: String, topic: String, group: String, url: String, database: String, concurrency: Int = 4)
    -> [String]
{
    [
        "run", "--brokers", brokers, "--topic", topic, "--group", group, "--url", url, "--database", database,
        "--concurrency", String(concurrency), "--kafka-property", "session.timeout.ms=6000",
        "--kafka-property", "heartbeat.interval.ms=500",
    ]
}

@Suite("Faults: crashes and instances coming and going")
struct CrashTests {
    @Test("kill -9 at random moments, five times, then finish: exactly one row per input")
    func killNine() async throws {
        let bed = try await TestBed(topic: "crash", partitions: 3, delay: .milliseconds(30))
        defer { bed.cleanUp() }
        let (directory, broker, endpoint) = (bed.directory, bed.broker, bed.endpoint)
        let count = 300
        _ = try await produce((0..<count).map { numberInput($0) }, to: "crash", brokers: broker.bootstrapServers)
        let database = directory.file("results.db")
        let arguments = runArguments(
            brokers: broker.bootstrapServers, topic: "crash", group: "crash", url: endpoint.url, database: database,
            concurrency: 2)
        var kills = 0
        for cycle in 0..<5 {
            let before = endpoint.callCount
            let target = before + Int.random(in: 5...30)
            let service = try RunningProgram(
                try algoqueueBinary(), arguments, directory: directory, name: "cycle\(cycle)")
            let reached = await eventually(within: .seconds(60)) {
                endpoint.callCount >= target || service.isRunning == false
            }
            #expect(reached, "cycle \(cycle): no progress: \(service.errorOutput)")
            service.signal(SIGKILL)
            #expect(await service.exitStatus(within: .seconds(10)) == SIGKILL)
            kills += 1
        }
        #expect(kills == 5)
        let rowsAfterKills = Int(try await sqlite3(database, "SELECT COUNT(*) FROM results").first ?? "") ?? 0
        #expect(rowsAfterKills < count, "the kills should have come mid-run")
        let finish = try await algoqueue(arguments + ["--until-idle"], directory: directory)
        #expect(finish.status == 0, "\(finish.error)")
        #expect(
            try await sqlite3(
                database,
                "SELECT COUNT(*), COUNT(DISTINCT partition || '/' || offset), COUNT(DISTINCT json_extract(input, '$.n')), SUM(status = 'ok') FROM results"
            )
                == ["\(count)|\(count)|\(count)|\(count)"])
        // At least once toward the algorithm: replays after kill -9 may call an input twice, never zero times.
        #expect(endpoint.callCount >= count)
        await endpoint.stop()
    }

    @Test("three instances in one group; one is killed mid-run and another joins: every input has a row")
    func group() async throws {
        let bed = try await TestBed(topic: "shared", partitions: 6, delay: .milliseconds(20))
        defer { bed.cleanUp() }
        let (directory, broker, endpoint) = (bed.directory, bed.broker, bed.endpoint)
        let count = 360
        _ = try await produce((0..<count).map { numberInput($0) }, to: "shared", brokers: broker.bootstrapServers)
        let binary = try algoqueueBinary()
        func instance(_ name: String) throws -> RunningProgram {
            try RunningProgram(
                binary,
                runArguments(
                    brokers: broker.bootstrapServers, topic: "shared", group: "shared", url: endpoint.url,
                    database: directory.file("\(name).db"), concurrency: 2),
                directory: directory, name: name)
        }
        let a = try instance("a")
        let b = try instance("b")
        let c = try instance("c")
        let busy = await eventually(within: .seconds(60)) { endpoint.callCount >= 60 }
        #expect(busy, "no progress: \(a.errorOutput)")
        b.signal(SIGKILL)
        _ = await b.exitStatus(within: .seconds(10))
        let d = try instance("d")
        let union = """
            ATTACH '\(directory.file("b.db"))' AS b; ATTACH '\(directory.file("c.db"))' AS c; ATTACH '\(directory.file("d.db"))' AS d;
            SELECT COUNT(*) FROM (SELECT partition, offset FROM main.results UNION SELECT partition, offset FROM b.results
              UNION SELECT partition, offset FROM c.results UNION SELECT partition, offset FROM d.results);
            """
        let databases = ["a", "b", "c", "d"].map { directory.file("\($0).db") }
        // While instances start, a database may be switching to WAL (a brief exclusive lock): poll without
        // asserting; the strict check comes after every instance has stopped.
        let complete = await eventually(within: .seconds(120)) {
            guard databases.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) else { return false }
            return (try? await runProgram("/usr/bin/sqlite3", [databases[0], union]))?.output == "\(count)\n"
        }
        for program in [a, c, d] { program.signal(SIGTERM) }
        for program in [a, c, d] {
            #expect(await program.exitStatus(within: .seconds(30)) == 0, "\(program.errorOutput)")
        }
        #expect(complete, "not every input has a row across the instances' databases")
        #expect(try await sqlite3(databases[0], union) == ["\(count)"])
        await endpoint.stop()
    }
}
