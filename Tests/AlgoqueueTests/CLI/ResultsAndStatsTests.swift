import Foundation
import Testing

/// `results --follow` and `stats` as a user reads them.
@Suite("New-user defects: results and stats")
struct ResultsAndStatsTests {
    @Test("results --follow prints a header and fixed columns; stats names the group it measured and prints CSV")
    func followAndStats() async throws {
        let bed = try await TestBed(topic: "nightly", partitions: 2)
        defer { bed.cleanUp() }
        let address = bed.broker.bootstrapServers
        _ = try await produce((0..<6).map { numberInput($0) }, to: "nightly", brokers: address)
        let database = bed.directory.file("results.db")
        _ = try await algoqueue(["migrate", "--database", database], directory: bed.directory)
        let follower = try RunningProgram(
            try algoqueueBinary(), ["results", "--database", database, "--follow"], directory: bed.directory,
            name: "follow")
        let run = try await runUntilIdle(bed, topic: "nightly", database: database)  // group "nightly"
        #expect(run.status == 0, "run failed: \(run.error)")

        let followed = await eventually(within: .seconds(10)) { follower.output.split(separator: "\n").count >= 7 }
        follower.signal(SIGTERM)
        _ = await follower.exitStatus(within: .seconds(10))
        #expect(followed, "follow printed: \(follower.output.prefix(400))")
        let lines = follower.output.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("TOPIC") == true, "first line: \(lines.first ?? "")")
        #expect(lines.filter { $0.hasPrefix("TOPIC") }.count == 1)
        // Fixed columns: the status column starts at the same place on every row, under its header.
        let statusColumn = lines.first.flatMap { $0.range(of: "STATUS") }.map {
            lines[0].distance(from: lines[0].startIndex, to: $0.lowerBound)
        }
        let rows = lines.dropFirst()
        #expect(rows.count == 6)
        for row in rows {
            let column = row.range(of: " ok ").map { row.distance(from: row.startIndex, to: $0.lowerBound) + 1 }
            #expect(column == statusColumn, "row: \(row)")
        }

        // The default group has no offsets in this file: stats says so and names the group that has.
        let other = try await algoqueue(
            ["stats", "--database", database, "--brokers", address], directory: bed.directory)
        #expect(other.status == 0)
        #expect(
            other.output.contains(
                "lag (group algoqueue): no offsets stored for group algoqueue in \(database); it holds offsets for "
                    + "nightly (2 partition(s)): name one with --group"), "stats: \(other.output)")
        let noBrokers = try await algoqueue(["stats", "--database", database], directory: bed.directory)
        #expect(noBrokers.output.contains("lag (group algoqueue): not measured; give --brokers"))

        let csv = try await algoqueue(
            ["stats", "--database", database, "--brokers", address, "--group", "nightly", "--format", "csv"],
            directory: bed.directory)
        let records = csv.output.split(separator: "\n").map { CSVLine.fields(String($0)) }
        #expect(records.first == ["figure", "algorithm", "status", "group", "topic", "partition", "value"])
        #expect(records.allSatisfy { $0.count == 7 })
        #expect(records.contains(["rows", "", "", "", "", "", "6"]))
        #expect(records.contains(["rows", "http", "ok", "", "", "", "6"]))
        let lag = records.filter { $0.first == "lag" }
        #expect(
            lag.map { $0[3] + "/" + $0[4] + "/" + $0[5] + "=" + $0[6] }.sorted() == [
                "nightly/nightly/0=0", "nightly/nightly/1=0",
            ])
        let json = try await algoqueue(
            ["stats", "--database", database, "--brokers", address, "--group", "nightly", "--format", "json"],
            directory: bed.directory)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect(report["group"] as? String == "nightly")
        #expect(report["lag_note"] is NSNull)
        // Without offsets for the group, CSV says why (as the table does) in a lag_note line.
        let unknown = try await algoqueue(
            ["stats", "--database", database, "--brokers", address, "--format", "csv"], directory: bed.directory)
        let note = unknown.output.split(separator: "\n").map { CSVLine.fields(String($0)) }.first {
            $0.first == "lag_note"
        }
        #expect(note?[3] == "algoqueue", "\(unknown.output)")
        #expect(note?[6].hasPrefix("no offsets stored for group algoqueue") == true, "\(unknown.output)")
        // A broker that does not answer is said to be that, not "give --brokers".
        let closed = try ClosedPort()
        defer { closed.close() }
        let silent = try await algoqueue(
            ["stats", "--database", database, "--brokers", "127.0.0.1:\(closed.port)", "--group", "nightly"],
            directory: bed.directory)
        #expect(
            silent.output.contains(
                "lag (group nightly): not measured: the broker at 127.0.0.1:\(closed.port) did not answer"),
            "\(silent.output)\(silent.error)")
        await bed.endpoint.stop()
    }
}
