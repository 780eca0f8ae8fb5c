import Foundation
import Testing

/// `algoqueue group describe` and `group reset`, and `run --start-from`, against a real broker and store.
@Suite("group: where a consumer group stands, and moving it")
struct GroupCommandTests {
    /// Per partition (in order): committed, stored, end and lag, from `group describe --format csv`.
    static func describe(_ bed: TestBed, group: String, database: String) async throws -> [[String]] {
        let result = try await algoqueue(
            [
                "group", "describe", "--brokers", bed.broker.bootstrapServers, "--group", group, "--topic", "jobs",
                "--database", database, "--format", "csv",
            ], directory: bed.directory)
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.first == "topic,partition,committed,stored,start,end,lag", "\(result.output)")
        return lines.dropFirst().map { line in
            let fields = line.split(separator: ",").map(String.init)
            return [fields[2], fields[3], fields[5], fields[6]]
        }
    }

    @Test("describe shows committed, stored, end and lag; reset moves broker and store, and the next run follows")
    func describeAndReset() async throws {
        let bed = try await TestBed(topic: "jobs", partitions: 2)
        defer { bed.cleanUp() }
        let database = bed.directory.file("group.db")
        _ = try await produce((0..<10).map { numberInput($0) }, to: "jobs", brokers: bed.broker.bootstrapServers)
        let first = try await runUntilIdle(bed, topic: "jobs", database: database, ["--group", "nightly"])
        #expect(first.status == 0, "\(first.error.suffix(600))")
        for row in try await Self.describe(bed, group: "nightly", database: database) {
            #expect(row[0] == row[2] && row[1] == row[2] && row[3] == "0", "consumed to the end: \(row)")
        }
        // The same as JSON, for scripts.
        let json = try await algoqueue(
            [
                "group", "describe", "--brokers", bed.broker.bootstrapServers, "--group", "nightly", "--database",
                database, "--format", "json",
            ], directory: bed.directory)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect(document["group"] as? String == "nightly")
        let partitions = try #require(document["partitions"] as? [[String: Any]])
        #expect(
            partitions.count == 2
                && partitions.allSatisfy { $0["lag"] as? Int == 0 && $0["topic"] as? String == "jobs" })
        _ = try await produce((10..<16).map { numberInput($0) }, to: "jobs", brokers: bed.broker.bootstrapServers)
        let behind = try await Self.describe(bed, group: "nightly", database: database)
        #expect(behind.compactMap { Int($0[3]) }.reduce(0, +) == 6)

        let reset = [
            "group", "reset", "--brokers", bed.broker.bootstrapServers, "--group", "nightly", "--topic", "jobs",
        ]
        let dry = try await algoqueue(
            reset + ["--database", database, "--to", "latest", "--dry-run"], directory: bed.directory)
        #expect(dry.status == 0 && dry.output.contains("dry run: nothing changed"), "\(dry.output)\(dry.error)")
        #expect(try await Self.describe(bed, group: "nightly", database: database) == behind)

        // Skip the backlog: nothing is called for the 6 new inputs.
        let latest = try await algoqueue(reset + ["--database", database, "--to", "latest"], directory: bed.directory)
        #expect(latest.status == 0, "\(latest.error)")
        #expect(
            latest.output.contains("reset group nightly to latest on 2 partition(s): on the broker and in \(database)"))
        for row in try await Self.describe(bed, group: "nightly", database: database) {
            #expect(row[0] == row[2] && row[1] == row[2] && row[3] == "0", "\(row)")
        }
        let skipped = try await runUntilIdle(bed, topic: "jobs", database: database, ["--group", "nightly"])
        #expect(skipped.output.contains("consumed 0 message(s)"), "\(skipped.output)")
        #expect(try await sqlite3(database, "SELECT COUNT(*) FROM results") == ["10"])

        // Back to the start: everything is read again; the inputs with rows are not called again, the 6 skipped are.
        let earliest = try await algoqueue(
            reset + ["--database", database, "--to", "earliest"], directory: bed.directory)
        #expect(earliest.status == 0, "\(earliest.error)")
        for row in try await Self.describe(bed, group: "nightly", database: database) {
            #expect(row[0] == "0" && row[1] == "0", "\(row)")
        }
        let calls = bed.endpoint.callCount
        let again = try await runUntilIdle(bed, topic: "jobs", database: database, ["--group", "nightly"])
        #expect(again.status == 0, "\(again.error.suffix(600))")
        #expect(bed.endpoint.callCount - calls == 6)
        #expect(
            try await sqlite3(database, "SELECT COUNT(*), COUNT(DISTINCT partition || '/' || offset) FROM results") == [
                "16|16"
            ])

        await bed.endpoint.stop()
    }

    @Test("reset refuses a group that has a member running")
    func liveGroupRefused() async throws {
        let bed = try await TestBed(topic: "jobs", partitions: 2)
        defer { bed.cleanUp() }
        let service = try RunningProgram(
            try algoqueueBinary(),
            runArguments(
                brokers: bed.broker.bootstrapServers, topic: "jobs", group: "live", url: bed.endpoint.url,
                database: bed.directory.file("service.db")),
            directory: bed.directory, name: "member")
        #expect(
            await eventually(within: .seconds(30)) { service.errorOutput.contains("assigned 2 partition(s)") },
            "\(service.errorOutput.suffix(600))")
        let refused = try await algoqueue(
            [
                "group", "reset", "--brokers", bed.broker.bootstrapServers, "--group", "live", "--topic", "jobs",
                "--database", bed.directory.file("service.db"), "--to", "earliest",
            ], directory: bed.directory)
        #expect(refused.status == 1)
        // The member's own log says what it did meanwhile (a rebalance it did not join would show here).
        #expect(
            refused.error.contains("group live has other members"),
            "\(refused.output)\(refused.error)\nmember: \(service.errorOutput.suffix(1500))")
        service.signal(SIGTERM)
        #expect(await service.exitStatus(within: .seconds(30)) == 0)
        await bed.endpoint.stop()
    }

    @Test(
        "--start-from latest or a time: a new group starts at the end, or at the first message since; reset --to a time"
    )
    func startFrom() async throws {
        let bed = try await TestBed(topic: "jobs", partitions: 2)
        defer { bed.cleanUp() }
        _ = try await produce((0..<8).map { numberInput($0) }, to: "jobs", brokers: bed.broker.bootstrapServers)
        let database = bed.directory.file("start.db")
        let latest = try await runUntilIdle(bed, topic: "jobs", database: database, ["--start-from", "latest"])
        #expect(latest.status == 0, "\(latest.error.suffix(600))")
        #expect(latest.output.contains("consumed 0 message(s)"), "\(latest.output)")
        #expect(bed.endpoint.callCount == 0)
        let bad = try await runUntilIdle(bed, topic: "jobs", database: database, ["--start-from", "yesterday"])
        #expect(bad.status == 78)
        #expect(bad.error.contains("--start-from: must be earliest, latest, an ISO time"), "\(bad.error)")

        // A time: 8 inputs before it, 4 after; the message timestamps decide (whole seconds apart).
        try await Task.sleep(for: .milliseconds(1_100))
        let format = DateFormatter()
        format.locale = Locale(identifier: "en_US_POSIX")
        format.timeZone = TimeZone(identifier: "UTC")
        format.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        let time = format.string(from: Date())
        try await Task.sleep(for: .milliseconds(1_100))
        _ = try await produce((8..<12).map { numberInput($0) }, to: "jobs", brokers: bed.broker.bootstrapServers)
        let since = try await runUntilIdle(
            bed, topic: "jobs", database: bed.directory.file("since.db"), ["--group", "since", "--start-from", time])
        #expect(since.status == 0, "\(since.error.suffix(600))")
        #expect(since.output.contains("consumed 4 message(s)"), "\(since.output)")
        #expect(bed.endpoint.callCount == 4)
        #expect(
            try await sqlite3(
                bed.directory.file("since.db"),
                "SELECT group_concat(output, ',') FROM (SELECT output FROM results ORDER BY output)")
                == [#"{"doubled": 16},{"doubled": 18},{"doubled": 20},{"doubled": 22}"#])
        // group reset --to the same time: the 8 older messages stay behind the group's offsets.
        let reset = try await algoqueue(
            [
                "group", "reset", "--brokers", bed.broker.bootstrapServers, "--group", "moved", "--topic", "jobs",
                "--database", bed.directory.file("moved.db"), "--to", time,
            ], directory: bed.directory)
        #expect(reset.status == 0, "\(reset.output)\(reset.error)")
        let moved = try await Self.describe(bed, group: "moved", database: bed.directory.file("moved.db"))
        #expect(moved.compactMap { Int($0[0]) }.reduce(0, +) == 8, "\(moved)")
        #expect(moved.compactMap { Int($0[3]) }.reduce(0, +) == 4)
        await bed.endpoint.stop()
    }
}
