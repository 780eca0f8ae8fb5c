import AlgoqueueConfig
import AlgoqueueKafka
import Foundation
import Testing

@Suite("Operations: the unit file and the daily command line")
struct DailyCLITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    @Test(
        "systemd-analyze verify passes on deploy/algoqueue.service and deploy/algoqueue-collect.service",
        arguments: [
            "algoqueue.service", "algoqueue-collect.service",
        ])
    func unitVerifies(_ name: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let unit = try String(contentsOf: Self.root.appendingPathComponent("deploy/\(name)"), encoding: .utf8)
        if name == "algoqueue.service" {
            #expect(unit.contains("Type=notify"))
            #expect(unit.contains("WatchdogSec="))
            #expect(unit.contains("LoadCredential="))
        } else {
            #expect(unit.contains("ExecStart=/usr/local/bin/algoqueue collect "))
        }
        // Verify checks that the binary exists: point it at the one just built, change nothing else.
        let local = unit.replacingOccurrences(of: "/usr/local/bin/algoqueue", with: try algoqueueBinary())
        let path = directory.file(name)
        try local.write(toFile: path, atomically: true, encoding: .utf8)
        // Documentation=man:algoqueue(1) is checked too: offer the page this repository ships.
        try FileManager.default.createDirectory(atPath: directory.file("man/man1"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: Self.root.appendingPathComponent("docs/algoqueue.1").path,
            toPath: directory.file("man/man1/algoqueue.1"))
        let result = try await runProgram(
            "/usr/bin/env", ["MANPATH=\(directory.file("man"))", "/usr/bin/systemd-analyze", "verify", path])
        #expect(result.status == 0)
        #expect(result.output.isEmpty && result.error.isEmpty, "systemd-analyze: \(result.output)\(result.error)")
    }

    @Test("check-config: a good file passes; a broken one lists every problem and exits 78")
    func checkConfig() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let good = directory.file("good.yaml")
        try
            "kafka:\n  topics: [inputs]\nalgorithm:\n  url: http://127.0.0.1:8080/predict\nmetrics:\n  listen: 127.0.0.1:9464\n"
            .write(toFile: good, atomically: true, encoding: .utf8)
        let passed = try await algoqueue(["check-config", good], directory: directory)
        #expect(passed.status == 0)
        #expect(passed.output.contains("ok (topics inputs on 127.0.0.1:9092, algorithm http"))
        let bad = directory.file("bad.yaml")
        try """
        kafka:
          topics: []
          propertes: {}
          properties:
            fetch.wait.max.ms: never
        algorithm:
          url: localhost:8080
          timeout: 2h
        pipeline:
          concurrency: 0
        metrics:
          listen: everywhere
        """.write(toFile: bad, atomically: true, encoding: .utf8)
        let failed = try await algoqueue(["check-config", bad], directory: directory)
        #expect(failed.status == 78)
        for expected in [
            "kafka.propertes: unknown key; did you mean kafka.properties?", "kafka.topics: name at least one topic",
            "fetch.wait.max.ms = \"never\" was refused",
            "algorithm.url: \"localhost:8080\" is not an http:// or https:// URL",
            "algorithm.timeout: must be between 1ms and 50m", "pipeline.concurrency: must be at least 1",
            "metrics.listen: must be host:port",
        ] {
            #expect(failed.error.contains(expected), "missing: \(expected)\n\(failed.error)")
        }
        #expect(failed.error.contains("has 7 problem(s)"))
    }

    @Test("check-config --connect reports a topic the broker does not have")
    func checkConfigConnect() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        try broker.createTopic("present", partitions: 1)
        let file = directory.file("c.yaml")
        try
            "kafka:\n  brokers: [\(broker.bootstrapServers)]\n  topics: [present, absent]\nalgorithm:\n  kind: builtin\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await algoqueue(["check-config", "--connect", file], directory: directory)
        #expect(result.status == 78)
        #expect(result.error.contains("topic absent does not exist"))
        #expect(!result.error.contains("topic present"))
    }

    @Test("publish a CSV file; results as JSON and CSV parse back; stats counts and lag; --follow sees new rows")
    func csvResultsStats() async throws {
        let bed = try await TestBed(topic: "daily", partitions: 2)
        defer { bed.cleanUp() }
        let directory = bed.directory
        let address = bed.broker.bootstrapServers
        let csv = directory.file("inputs.csv")
        var lines = ["id,n,note"]
        for n in 0..<12 { lines.append("row-\(n),\(n),\"plain, with comma\"") }
        lines.append("row-q,99,\"she said \"\"hi\"\"\"")
        lines.append("row-bad,1")  // one field short
        try lines.joined(separator: "\n").write(toFile: csv, atomically: true, encoding: .utf8)
        let publish = try await algoqueue(
            ["publish", "--brokers", address, "--topic", "daily", "--key-field", "id", csv], directory: directory)
        #expect(publish.status == 65)
        #expect(publish.output.contains("published 13 message(s) to daily"))
        #expect(publish.error.contains("line 15: has 2 field(s) where the header has 3"))

        let database = directory.file("r.db")
        _ = try await algoqueue(["migrate", "--database", database], directory: directory)
        let follower = try RunningProgram(
            try algoqueueBinary(), ["results", "--database", database, "--follow", "--format", "json"],
            directory: directory,
            name: "follow")
        let run = try await algoqueue(
            runArguments(brokers: address, topic: "daily", group: "daily", url: bed.endpoint.url, database: database)
                + ["--until-idle"],
            directory: directory)
        #expect(run.status == 0, "\(run.error)")
        #expect(
            try await sqlite3(database, "SELECT json_extract(input, '$.note') FROM results WHERE key = 'row-q'") == [
                #"she said "hi""#
            ])

        let json = try await algoqueue(
            ["results", "--database", database, "--format", "json", "--limit", "0"], directory: directory)
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]])
        #expect(objects.count == 13)
        #expect(objects.allSatisfy { ($0["status"] as? String) == "ok" })
        // The input comes back as published: a JSON object, with its size and the message's timestamp.
        #expect(objects.allSatisfy { $0["input"] is [String: Any] && ($0["input_bytes"] as? Int ?? 0) > 0 })
        #expect(objects.allSatisfy { ($0["message_timestamp"] as? String)?.hasSuffix("Z") == true })
        let doubled = objects.compactMap { ($0["output"] as? [String: Any])?["doubled"] as? Int }.sorted()
        #expect(doubled == ((0..<12).map { $0 * 2 } + [198]))

        let table = try await algoqueue(
            ["results", "--database", database, "--format", "csv", "--limit", "0"], directory: directory)
        let records = table.output.split(separator: "\n").map(String.init)
        #expect(
            records.first
                == "topic,partition,offset,item,algorithm,algorithm_version,key,status,output,error,attempts,duration_ms,created_at,updated_at,output_file,metadata,input,input_bytes,message_timestamp,cached_from,traceparent,http_status"
        )
        #expect(records.count == 14)
        let parsed = records.dropFirst().map { CSVLine.fields($0) }
        #expect(parsed.allSatisfy { $0.count == 22 && $0[7] == "ok" && $0[21] == "200" })
        #expect(parsed.allSatisfy { Int($0[17]) == $0[16].utf8.count && $0[16].hasPrefix("{") })
        #expect(Set(parsed.map { $0[6] }) == Set((0..<12).map { "row-\($0)" } + ["row-q"]))
        #expect(parsed.contains { $0[8] == #"{"doubled": 198}"# })

        let stats = try await algoqueue(
            ["stats", "--database", database, "--brokers", address, "--group", "daily", "--format", "json"],
            directory: directory)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(stats.output.utf8)) as? [String: Any])
        #expect(report["rows"] as? Int == 13)
        #expect((report["p50_ms"] as? Double).map { $0 >= 0 } == true)
        #expect((report["p99_ms"] as? Double ?? -1) >= (report["p50_ms"] as? Double ?? 0))
        let lag = try #require(report["lag"] as? [[String: Any]])
        #expect(lag.count == 2 && lag.allSatisfy { $0["lag"] as? Int == 0 })
        let badSince = try await algoqueue(
            ["stats", "--database", database, "--since", "last week"], directory: directory)
        #expect(badSince.status == 78)
        #expect(badSince.error.contains("neither an age such as 2h nor an ISO time"))
        let missing = try await algoqueue(["stats", "--database", directory.file("none.db")], directory: directory)
        #expect(missing.status == 1)
        #expect(missing.error.contains("does not exist; give the results file with --database"))
        let text = try await algoqueue(["stats", "--database", database], directory: directory)
        #expect(text.output.contains("rows: 13"))
        #expect(text.output.contains("http ok: 13"))

        let followed = await eventually(within: .seconds(10)) {
            follower.output.split(separator: "\n").count >= 13
        }
        follower.signal(SIGTERM)
        _ = await follower.exitStatus(within: .seconds(10))
        #expect(followed, "follow printed: \(follower.output.prefix(300))")
        let followedRows = follower.output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(followedRows.count == 13)
        await bed.endpoint.stop()
    }

    @Test("the man page lists every command")
    func manPage() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let page = try String(contentsOf: Self.root.appendingPathComponent("docs/algoqueue.1"), encoding: .utf8)
        let help = try await algoqueue(["--help"], directory: directory)
        let commands = help.output.split(separator: "\n").drop { !$0.hasPrefix("SUBCOMMANDS") }.dropFirst()
            .compactMap { $0.split(separator: " ").first.map(String.init) }.filter {
                $0 != "help" && !$0.hasPrefix("See")
            }
        #expect(commands.count >= 9)
        for command in commands {
            #expect(
                page.contains(".It Em \(command)") || page.contains(".Sh \"\(command.uppercased())\"")
                    || page.contains(command),
                "docs/algoqueue.1 lacks \(command): run scripts/man")
        }
        // What groff warns about (empty input lines), the exit codes and every configuration key.
        let warnings = try await runProgram(
            "/usr/bin/env",
            ["LC_ALL=C.UTF-8", "man", "--warnings", "-l", Self.root.appendingPathComponent("docs/algoqueue.1").path])
        #expect(warnings.status == 0)
        #expect(warnings.error.isEmpty, "\(warnings.error.prefix(600))")
        for code in ["64", "65", "69", "78"] { #expect(page.contains(".It \(code)\n"), "exit status \(code)") }
        #expect(page.contains(".Sh CONFIGURATION"))
        for key in ["kafka.brokers", "circuit_breaker.max_open", "pipeline.max_errors", "store.path"] {
            #expect(page.contains(".It Cm \(key)\n"), "\(key) in CONFIGURATION: run scripts/man")
        }
    }

    @Test("${credential:NAME} reads systemd's credentials directory")
    func credentials() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        try "s3cr3t-token\n".write(toFile: directory.file("model-token"), atomically: true, encoding: .utf8)
        let yaml = "algorithm:\n  url: http://h:1/p\n  headers:\n    Authorization: Bearer ${credential:model-token}\n"
        let (settings, problems) = ConfigFile.parse(yaml, environment: ["CREDENTIALS_DIRECTORY": directory.path])
        #expect(problems.isEmpty)
        #expect(settings.algorithm.headers["Authorization"] == "Bearer s3cr3t-token")
        let (_, missing) = ConfigFile.parse(yaml, environment: [:])
        #expect(missing.first?.message.contains("no file model-token in $CREDENTIALS_DIRECTORY") == true)
    }
}

/// Splits one CSV line (test side, independent of the code under test).
enum CSVLine {
    static func fields(_ line: String) -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        var characters = Array(line)[...]
        while let character = characters.popFirst() {
            if quoted {
                if character == "\"" {
                    if characters.first == "\"" {
                        current.append("\"")
                        characters = characters.dropFirst()
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(character)
                }
            } else if character == "\"" {
                quoted = true
            } else if character == "," {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields
    }
}
