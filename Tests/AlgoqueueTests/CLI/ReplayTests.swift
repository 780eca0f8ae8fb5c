import AlgoqueueKafka
import Foundation
import Testing

@Suite("Replaying failed inputs")
struct ReplayTests {
    @Test("results --errors lists the failures; replay re-runs them and replaces the rows in place")
    func replay() async throws {
        let bed = try await TestBed(topic: "again", partitions: 2)
        defer { bed.cleanUp() }
        let (directory, broker, endpoint) = (bed.directory, bed.broker, bed.endpoint)
        // n < 6 fail their first 5 calls: 3 attempts in the run fail, the replay's 3rd attempt succeeds.
        let values: [[UInt8]?] = (0..<20).map { n in
            n < 6 ? Array(#"{"n": \#(n), "failTimes": 5}"#.utf8) : numberInput(n)
        }
        _ = try await produce(values, to: "again", brokers: broker.bootstrapServers)
        let database = directory.file("results.db")
        let common = ["--url", endpoint.url, "--algorithm-name", "doubler", "--database", database]
        let run = try await algoqueue(
            ["run", "--brokers", broker.bootstrapServers, "--topic", "again", "--group", "again", "--until-idle"]
                + common,
            directory: directory)
        #expect(run.status == 0, "\(run.error)")
        #expect(run.output.contains("14 ok, 6 error row(s)"))
        let before = try await sqlite3(
            database,
            "SELECT partition || '/' || offset || '|' || created_at || '|' || updated_at FROM results WHERE status = 'error' ORDER BY 1"
        )

        let listed = try await algoqueue(["results", "--database", database, "--errors"], directory: directory)
        #expect(listed.output.split(separator: "\n").filter { $0.contains("HTTP 500") }.count == 6)

        let none = try await algoqueue(["replay", "--error-contains", "no such error"] + common, directory: directory)
        #expect(none.status == 0)
        #expect(none.output.contains("replayed 0 of 0 error row(s) of doubler"))
        #expect(!none.output.contains("error rows are stored under"))
        // Under another name than the rows': replay says which names have error rows.
        let misnamed = try await algoqueue(
            ["replay", "--dry-run", "--url", endpoint.url, "--algorithm-name", "http", "--database", database],
            directory: directory)
        #expect(misnamed.output.contains("0 error row(s) of http match"), "\(misnamed.output)")
        #expect(
            misnamed.output.contains(
                "error rows are stored under doubler (6): replay works on the rows of http; name the algorithm with --algorithm-name"
            ),
            "\(misnamed.output)")
        let dry = try await algoqueue(
            ["replay", "--dry-run", "--error-contains", "http 500", "--since", "1h"] + common, directory: directory)
        #expect(dry.output.contains("6 error row(s) of doubler match; 6 can be replayed"))
        #expect(endpoint.callCount == 14 + 6 * 3)

        let replay = try await algoqueue(["replay", "--error-contains", "HTTP 500"] + common, directory: directory)
        #expect(replay.status == 0, "\(replay.error)")
        #expect(replay.output.contains("replayed 6 of 6 error row(s) of doubler: 6 now ok, 0 still failing"))
        #expect(endpoint.callCount == 14 + 6 * 3 + 6 * 3)
        #expect(try await sqlite3(database, "SELECT COUNT(*), SUM(status = 'ok') FROM results") == ["20|20"])
        #expect(
            try await sqlite3(
                database,
                "SELECT COUNT(*) FROM results WHERE json_extract(output, '$.doubled') = 2 * json_extract(input, '$.n')")
                == ["20"])
        let after = try await sqlite3(
            database,
            "SELECT partition || '/' || offset || '|' || created_at || '|' || updated_at FROM results WHERE json_extract(input, '$.n') < 6 ORDER BY 1"
        )
        #expect(after.count == 6)
        for (old, new) in zip(before, after) {
            let oldParts = old.split(separator: "|")
            let newParts = new.split(separator: "|")
            #expect(oldParts[0] == newParts[0])  // same row
            #expect(oldParts[1] == newParts[1])  // created_at kept
            #expect(oldParts[2] < newParts[2])  // updated_at moved
        }
        let badSince = try await algoqueue(["replay", "--since", "yesterday"] + common, directory: directory)
        #expect(badSince.status == 78)
        #expect(badSince.error.contains("neither an age such as 2h nor an ISO time"))
        await endpoint.stop()
    }
}

@Suite("Replaying failed inputs with a results topic")
struct ReplayRepublishTests {
    @Test("replay republishes the rows it replaces; the collected file ends with the newer, ok rows")
    func replayRepublishes() async throws {
        let bed = try await TestBed(topic: "redo", partitions: 1)
        defer { bed.cleanUp() }
        let (directory, broker, endpoint) = (bed.directory, bed.broker, bed.endpoint)
        // Inputs 0-3 fail their first call; the run makes one attempt, the replay's succeeds.
        let values: [[UInt8]?] = (0..<10).map { n in
            n < 4 ? Array(#"{"n": \#(n), "failTimes": 1}"#.utf8) : numberInput(n)
        }
        _ = try await produce(values, to: "redo", brokers: broker.bootstrapServers)
        let database = directory.file("results.db")
        let common = [
            "--brokers", broker.bootstrapServers, "--url", endpoint.url, "--database", database, "--results-topic",
            "redo-results", "--max-attempts", "1",
        ]
        let run = try await algoqueue(
            ["run", "--topic", "redo", "--group", "redo", "--until-idle"] + common, directory: directory)
        #expect(run.output.contains("6 ok, 4 error row(s)"), "\(run.output)\(run.error)")
        let replay = try await algoqueue(["replay"] + common, directory: directory)
        #expect(replay.output.contains("4 now ok"), "\(replay.output)\(replay.error)")
        #expect(try await sqlite3(database, "SELECT COUNT(*) FROM results_outbox") == ["0"])
        let all = directory.file("all.db")
        let collect = try await algoqueue(
            [
                "collect", "--brokers", broker.bootstrapServers, "--topic", "redo-results", "--database", all,
                "--until-idle",
            ],
            directory: directory)
        // 10 rows from the run, 4 again from the replay; the newer versions win.
        #expect(collect.output.hasPrefix("collected 14 row message(s)"), "\(collect.output)")
        #expect(try await sqlite3(all, "SELECT COUNT(*), SUM(status = 'ok') FROM results") == ["10|10"])
        await endpoint.stop()
    }
}
