import Foundation
import Testing

@Suite("The command line as a user drives it")
struct UserFlowTests {
    @Test("dev-broker, publish, run --until-idle from a config file, results, sqlite3")
    func wholeFlow() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let binary = try algoqueueBinary()
        let broker = try RunningProgram(
            binary, ["dev-broker", "--topic", "flow", "--partitions", "3"], directory: directory, name: "broker")
        defer { broker.signal(SIGKILL) }
        let listening = await eventually(within: .seconds(20)) { broker.output.contains("\n") }
        #expect(listening, "dev-broker printed no address: \(broker.errorOutput)")
        let address = broker.output.split(separator: "\n").first.map(String.init) ?? ""
        #expect(address.hasPrefix("127.0.0.1:"))

        var lines = (0..<25).map { #"{"id": "item-\#($0)", "n": \#($0)}"# }
        lines.insert("", at: 5)  // blank lines are skipped
        lines.insert(#"{"id": "broken", "n": "#, at: 10)  // reported, not published
        let inputs = directory.file("inputs.jsonl")
        try lines.joined(separator: "\n").write(toFile: inputs, atomically: true, encoding: .utf8)
        let publish = try await algoqueue(
            ["publish", "--brokers", address, "--topic", "flow", "--key-field", "id", inputs], directory: directory)
        #expect(publish.status == 65, "publish should report the invalid line: \(publish.error)")
        #expect(publish.output.contains("published 25 message(s) to flow (3 partition(s))"))
        #expect(publish.error.contains("line 11: not valid JSON"))

        let endpoint = try await TestEndpoint.start()
        let database = directory.file("results.db")
        let config = directory.file("algoqueue.yaml")
        try """
        kafka:
          brokers: [\(address)]
          topics: [flow]
          group: from-file
        algorithm:
          name: doubler
          url: \(endpoint.url)
          timeout: 10s
        store:
          path: \(database)
        pipeline:
          concurrency: 4
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let run = try await algoqueue(
            ["run", "--config", config, "--group", "from-flag", "--until-idle"], directory: directory)
        #expect(run.status == 0, "run failed: \(run.error)")
        #expect(run.output.contains("consumed 25 message(s): 25 ok, 0 error row(s)"))
        #expect(try await sqlite3(database, "SELECT DISTINCT group_id FROM consumer_offsets") == ["from-flag"])
        #expect(
            try await sqlite3(
                database,
                "SELECT COUNT(*) FROM results WHERE algorithm = 'doubler' AND key = 'item-' || json_extract(input, '$.n')"
            ) == ["25"])

        let results = try await algoqueue(["results", "--database", database, "--limit", "5"], directory: directory)
        #expect(results.status == 0)
        #expect(results.output.contains("STATUS"))
        #expect(results.output.contains(#"{"doubled":"#))
        #expect(results.output.contains("25 ok, 0 error row(s)"))
        await endpoint.stop()
        broker.signal(SIGTERM)
        #expect(await broker.exitStatus(within: .seconds(20)) == 0)
    }

    @Test("a broken configuration exits 78 listing every problem at once")
    func brokenConfiguration() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let config = directory.file("bad.yaml")
        try """
        kafka:
          topcs: [a]
        pipeline:
          concurrency: many
        algorithm:
          url: ftp://example
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let run = try await algoqueue(["run", "--config", config], directory: directory)
        #expect(run.status == 78)
        #expect(run.error.contains("kafka.topcs: unknown key; did you mean kafka.topics?"))
        #expect(run.error.contains("pipeline.concurrency: must be a whole number (got \"many\")"))
        #expect(run.error.contains("algorithm.url: \"ftp://example\" is not an http:// or https:// URL"))
        let ordering = try await algoqueue(
            ["run", "--topic", "t", "--url", "http://127.0.0.1:1/p", "--ordering", "sideways"], directory: directory)
        #expect(ordering.status == 78)
        #expect(ordering.error.contains("--ordering: must be one of unordered, key, partition (got \"sideways\")"))
        let missing = try await algoqueue(["run", "--topic", "t"], directory: directory)
        #expect(missing.status == 78)
        #expect(missing.error.contains("no algorithm to call: give --url or algorithm.url"))
    }

    @Test("migrate creates the schema once; a second migrate applies nothing")
    func migrateTwice() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let database = directory.file("results.db")
        let first = try await algoqueue(["migrate", "--database", database], directory: directory)
        #expect(first.status == 0)
        #expect(first.output.contains("applied 001_initial.sql"))
        #expect(first.output.contains("applied 002_batches_and_fan_out.sql"))
        #expect(first.output.contains("applied 003_results_outbox.sql"))
        let second = try await algoqueue(["migrate", "--database", database], directory: directory)
        #expect(second.status == 0)
        #expect(!second.output.contains("applied"))
        #expect(second.output.contains("schema version 6"))
        #expect(try await sqlite3(database, "SELECT COUNT(*) FROM schema_migrations") == ["6"])
    }

    @Test("demo runs the whole flow on embedded defaults")
    func demo() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let database = directory.file("demo.db")
        let demo = try await algoqueue(["demo", "--database", database], directory: directory)
        #expect(demo.status == 0, "demo failed: \(demo.error)")
        #expect(demo.output.contains("consumed 21 messages until idle: 16 ok, 5 error rows"))
        #expect(demo.output.contains("sqlite3 -header -column \(database)"))
        #expect(
            try await sqlite3(
                database,
                "SELECT COUNT(*) FROM results WHERE json_extract(output, '$.sentiment') IN ('positive', 'negative', 'neutral')"
            ) == ["16"])
    }
}
