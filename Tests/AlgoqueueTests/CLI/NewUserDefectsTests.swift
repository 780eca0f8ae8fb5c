import AlgoqueueKafka
import Foundation
import Testing

/// What a new user tripped over, each checked as that user would: the binary, a real broker, `sqlite3`.
@Suite("New-user defects: calls and the store")
struct NewUserDefectsTests {
    @Test("A refused connection fails at once, then backs off as configured; the timeout is for an answer")
    func refusedConnection() async throws {
        let bed = try await TestBed(topic: "dead", partitions: 1)
        defer { bed.cleanUp() }
        _ = try await produce((0..<3).map { numberInput($0) }, to: "dead", brokers: bed.broker.bootstrapServers)
        let database = bed.directory.file("results.db")
        // Port 9 (discard) has no listener here: every connection is refused.
        let run = try await runUntilIdle(
            bed, topic: "dead", database: database, url: "http://127.0.0.1:9/predict",
            ["--timeout", "60s", "--max-attempts", "3"])
        #expect(run.status == 0, "run failed: \(run.error)")
        let rows = try await sqlite3(
            database, "SELECT attempts, error LIKE '%connection refused%', duration_ms FROM results")
        #expect(rows.count == 3)
        for row in rows {
            let fields = row.split(separator: "|")
            #expect(fields.prefix(2) == ["3", "1"], "row: \(row)")
            // Waiting out the 60 s timeout even once would put a row far above this.
            #expect((Double(fields.last ?? "") ?? .infinity) < 30_000, "row: \(row)")
        }
        await bed.endpoint.stop()
    }

    @Test("Inputs with NUL bytes or bytes that are not UTF-8 are stored whole, as a BLOB; text stays text")
    func inputsStoredWhole() async throws {
        let bed = try await TestBed(topic: "bytes", partitions: 1)
        defer { bed.cleanUp() }
        let values: [[UInt8]] = [
            Array("ab".utf8) + [0] + Array("cd".utf8),
            [0, 1, 2] + Array("binary".utf8),
            [0xff, 0xfe, 0x41],
            numberInput(7),
        ]
        _ = try await produce(values, to: "bytes", brokers: bed.broker.bootstrapServers)
        let database = bed.directory.file("results.db")
        let run = try await runUntilIdle(bed, topic: "bytes", database: database)
        #expect(run.status == 0, "run failed: \(run.error)")
        #expect(
            try await sqlite3(
                database, "SELECT offset, typeof(input), hex(input), input_bytes, status FROM results ORDER BY offset")
                == [
                    "0|blob|6162006364|5|error", "1|blob|000102\(hex("binary"))|9|error", "2|blob|FFFE41|3|error",
                    "3|text|\(hex(#"{"n": 7}"#))|8|ok",
                ])
        await bed.endpoint.stop()
    }

    @Test("After run --until-idle the .db file alone holds every row: the write-ahead log is checkpointed")
    func checkpointOnCleanStop() async throws {
        let bed = try await TestBed(topic: "wal", partitions: 1)
        defer { bed.cleanUp() }
        _ = try await produce((0..<20).map { numberInput($0) }, to: "wal", brokers: bed.broker.bootstrapServers)
        let database = bed.directory.file("results.db")
        let run = try await runUntilIdle(bed, topic: "wal", database: database)
        #expect(run.status == 0, "run failed: \(run.error)")
        let wal = (try? FileManager.default.attributesOfItem(atPath: database + "-wal")[.size] as? Int) ?? 0
        #expect(wal == 0, "the -wal file still holds \(wal) bytes")
        let copy = bed.directory.file("copy.db")
        try FileManager.default.copyItem(atPath: database, toPath: copy)
        #expect(try await sqlite3(copy, "SELECT COUNT(*) FROM results") == ["20"])
        await bed.endpoint.stop()
    }

    @Test(
        "The key and the allowed headers reach HTTP targets and workers; other headers do not; reserved names are refused"
    )
    func keyAndHeaders() async throws {
        let bed = try await TestBed(topic: "keyed", partitions: 1)
        defer { bed.cleanUp() }
        let headers = [
            KafkaHeader(name: "traceparent", string: "00-abc-01"), KafkaHeader(name: "x-secret", string: "hunter2"),
        ]
        _ = try await produce(
            [numberInput(1)], to: "keyed", brokers: bed.broker.bootstrapServers, keys: ["customer-42"], headers: headers
        )
        let database = bed.directory.file("results.db")
        let common = [
            "run", "--brokers", bed.broker.bootstrapServers, "--topic", "keyed", "--database", database, "--until-idle",
            "--pass-header", "traceparent",
        ]
        let run = try await algoqueue(
            common + ["--group", "http", "--url", bed.endpoint.url], directory: bed.directory)
        #expect(run.status == 0, "run failed: \(run.error)")
        let seen = bed.endpoint.lastHeaders.withLock { $0 }
        #expect(seen["x-algoqueue-key"] == "customer-42")
        #expect(seen["traceparent"] == "00-abc-01")
        #expect(seen["x-secret"] == nil)

        let worker = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../../examples/worker.py"
        ).standardized.path
        let config = bed.directory.file("worker.yaml")
        try """
        algorithm:
          kind: process
          command: [python3, \(worker)]
          workers: 1
        """.write(toFile: config, atomically: true, encoding: .utf8)
        _ = try await produce(
            [Array(#"{"text": "hello world"}"#.utf8)], to: "words", brokers: bed.broker.bootstrapServers, keys: ["k-7"],
            headers: headers)
        let processRun = try await algoqueue(
            [
                "run", "--config", config, "--brokers", bed.broker.bootstrapServers, "--topic", "words", "--group",
                "words",
                "--database", database, "--until-idle", "--pass-header", "traceparent",
            ], directory: bed.directory)
        #expect(processRun.status == 0, "run failed: \(processRun.error)")
        #expect(
            try await sqlite3(
                database,
                "SELECT output ->> '$.key', output ->> '$.headers.traceparent', output -> '$.headers.x-secret' FROM results WHERE topic = 'words'"
            )
                == ["k-7|00-abc-01|"])

        let refused = try await algoqueue(
            common + ["--group", "bad", "--url", bed.endpoint.url, "--pass-header", "Content-Type"],
            directory: bed.directory)
        #expect(refused.status == 78)
        #expect(refused.error.contains("pipeline.pass_headers: \"Content-Type\" cannot be passed on"))
        await bed.endpoint.stop()
    }
}

/// `algoqueue run --until-idle` on `topic` (group named after it) into `database`, calling `url` (default: the
/// bed's endpoint), with `extra` flags.
func runUntilIdle(
    _ bed: TestBed, topic: String, database: String, url: String? = nil, _ extra: [String] = []
) async throws -> (status: Int32?, output: String, error: String) {
    try await algoqueue(
        [
            "run", "--brokers", bed.broker.bootstrapServers, "--topic", topic, "--group", topic,
            "--url", url ?? bed.endpoint.url, "--database", database, "--until-idle",
        ] + extra, directory: bed.directory)
}

func hex(_ text: String) -> String {
    text.utf8.map { String(format: "%02X", $0) }.joined()
}

@Suite("New-user defects: configuration checks")
struct ConfigCheckDefectsTests {
    @Test("check-config refuses a worker command that does not exist, as run does (78); bad YAML says only that")
    func checkConfig() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let config = directory.file("job.yaml")
        try """
        kafka: {brokers: [127.0.0.1:9], topics: [t], group: g}
        algorithm: {kind: process, command: [no-such-model-server, --port, "0"]}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let check = try await algoqueue(["check-config", config], directory: directory)
        #expect(check.status == 78)
        #expect(check.error.contains("algorithm.command: no-such-model-server is not found on PATH"))
        let run = try await algoqueue(
            ["run", "--config", config, "--database", directory.file("r.db")], directory: directory)
        #expect(run.status == 78, "run: \(run.error)")
        let absolute = directory.file("absolute.yaml")
        try """
        kafka: {brokers: [127.0.0.1:9], topics: [t], group: g}
        algorithm: {kind: process, command: [/opt/nothing/here]}
        """.write(toFile: absolute, atomically: true, encoding: .utf8)
        #expect(
            try await algoqueue(["check-config", absolute], directory: directory).error.contains(
                "/opt/nothing/here is not an executable file"))

        let broken = directory.file("broken.yaml")
        try "kafka: [unclosed\n".write(toFile: broken, atomically: true, encoding: .utf8)
        let bad = try await algoqueue(["check-config", broken], directory: directory)
        #expect(bad.status == 78)
        #expect(bad.error.contains("not valid YAML"))
        #expect(!bad.error.contains("no algorithm"))
    }

    @Test("check-config and run judge a configuration alike: a URL with no host, an Algorithmia path with a space")
    func checkConfigAgreesWithRun() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        try "key-123\n".write(toFile: directory.file("key"), atomically: true, encoding: .utf8)
        let cases = [
            (
                "algorithm: {url: \"http://\"}",
                #"algorithm.url: "http://" is not an http:// or https:// URL with a host"#
            ),
            (
                "algorithm: {kind: algorithmia, algo: \"nlp/Senti ment/1.0\", api_key_file: \(directory.file("key"))}",
                #"algorithm.algo: "nlp/Senti ment/1.0" is not owner/name/version"#
            ),
        ]
        for (index, (algorithm, message)) in cases.enumerated() {
            let config = directory.file("job\(index).yaml")
            try "kafka: {brokers: [127.0.0.1:9], topics: [t], group: g}\n\(algorithm)\n".write(
                toFile: config, atomically: true, encoding: .utf8)
            let check = try await algoqueue(["check-config", config], directory: directory)
            #expect(check.status == 78, "check-config passed \(algorithm)")
            #expect(check.error.contains(message), "check-config: \(check.error)")
            let run = try await algoqueue(
                ["run", "--config", config, "--database", directory.file("r.db")], directory: directory)
            #expect(run.status == 78, "run: \(run.error)")
            #expect(run.error.contains(message), "run: \(run.error)")
        }
    }
}

@Suite("New-user defects: publish")
struct PublishDefectsTests {
    @Test("publish to an address where no broker listens ends in 10 s with a clear error and sends nothing")
    func publishWithoutBroker() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let file = directory.file("inputs.jsonl")
        try #"{"n": 1}"#.write(toFile: file, atomically: true, encoding: .utf8)
        let closed = try ClosedPort()
        defer { closed.close() }
        let port = closed.port
        let publish = try await algoqueue(
            ["publish", "--brokers", "127.0.0.1:\(port)", "--topic", "nowhere", file], directory: directory)
        #expect(publish.status == 1)
        #expect(
            publish.error.contains(
                "algoqueue: error: cannot reach Kafka at 127.0.0.1:\(port): no broker answered within 10s"),
            "\(publish.error)")
        #expect(publish.error.contains("nothing was published"))
        #expect(publish.error.contains("`algoqueue dev-broker` starts one"))
        // It stopped before reading: no summary of messages sent (the delivery timeout's "published 0 message(s)").
        #expect(!publish.output.contains("published"))
    }

    @Test(
        "run and collect --until-idle with no broker at the address end in 10 s with a clear error (they waited for ever)",
        arguments: ["run", "collect"])
    func untilIdleWithoutBroker(command: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let (closed, endpoint) = (try ClosedPort(), try ClosedPort())
        defer {
            closed.close()
            endpoint.close()
        }
        let port = closed.port
        let database = directory.file("results.db")
        var arguments = [command, "--brokers", "127.0.0.1:\(port)", "--topic", "nowhere", "--database", database]
        if command == "run" { arguments += ["--url", "http://127.0.0.1:\(endpoint.port)/predict"] }
        let run = try await algoqueue(arguments + ["--until-idle"], directory: directory)
        #expect(run.status == 1, "\(run.output) \(run.error)")
        #expect(
            run.error.contains(
                "algoqueue: error: cannot reach Kafka at 127.0.0.1:\(port): no broker answered within 10s"),
            "\(run.error)")
        #expect(run.error.contains("nothing was consumed"))
        // Checked before anything else: no results file made for a run that could not start.
        #expect(!FileManager.default.fileExists(atPath: database))
    }

    @Test("a service with no broker at the address says so after 10 s and keeps trying; SIGTERM still stops it")
    func serviceWithoutBrokerWarns() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let (closed, endpoint) = (try ClosedPort(), try ClosedPort())
        defer {
            closed.close()
            endpoint.close()
        }
        let port = closed.port
        let service = try RunningProgram(
            try algoqueueBinary(),
            [
                "run", "--brokers", "127.0.0.1:\(port)", "--topic", "nowhere", "--database", directory.file("r.db"),
                "--url", "http://127.0.0.1:\(endpoint.port)/predict",
            ], directory: directory, name: "service")
        defer { service.signal(SIGKILL) }
        let warned = await eventually(within: .seconds(60)) {
            service.errorOutput.contains("warning algoqueue: cannot reach Kafka at 127.0.0.1:\(port)")
        }
        #expect(warned, "\(service.errorOutput.suffix(1500))")
        #expect(service.errorOutput.contains("still trying, and consuming as soon as one answers"))
        #expect(service.isRunning)
        service.signal(SIGTERM)
        #expect(await service.exitStatus(within: .seconds(60)) == 0)
    }

    @Test("publish keeps each partition in file order, refuses oversize lines and bad topic names before sending")
    func publishOrderSizeAndTopics() async throws {
        let bed = try await TestBed(topic: "ordered", partitions: 3)
        defer { bed.cleanUp() }
        let brokers = bed.broker.bootstrapServers
        let file = bed.directory.file("inputs.jsonl")
        try (0..<300).map { #"{"n": \#($0)}"# }.joined(separator: "\n").write(
            toFile: file, atomically: true, encoding: .utf8)
        let publish = try await algoqueue(
            ["publish", "--brokers", brokers, "--topic", "ordered", file], directory: bed.directory)
        #expect(publish.status == 0, "publish failed: \(publish.error)")
        let database = bed.directory.file("results.db")
        let run = try await runUntilIdle(bed, topic: "ordered", database: database)
        #expect(run.status == 0, "run failed: \(run.error)")
        #expect(try await sqlite3(database, "SELECT COUNT(*) FROM results") == ["300"])
        // No pair in one partition where a later offset holds an earlier line.
        #expect(
            try await sqlite3(
                database,
                "SELECT COUNT(*) FROM results a JOIN results b ON a.partition = b.partition AND a.offset < b.offset "
                    + "AND a.input ->> '$.n' > b.input ->> '$.n'") == ["0"])

        let big = bed.directory.file("big.jsonl")
        try (#"{"n": 1}"# + "\n" + #"{"text": ""# + String(repeating: "x", count: 1_200_000) + "\"}\n" + #"{"n": 2}"#)
            .write(toFile: big, atomically: true, encoding: .utf8)
        let oversize = try await algoqueue(
            ["publish", "--brokers", brokers, "--topic", "sizes", big], directory: bed.directory)
        #expect(oversize.status == 65)
        #expect(
            oversize.error.contains(
                "line 2: 1200012 bytes, above the message size limit of 1000000 bytes (message.max.bytes)"))
        #expect(oversize.output.contains("published 2 message(s)"))
        for name in ["", "bad topic!", ".."] {
            let refused = try await algoqueue(
                ["publish", "--brokers", brokers, "--topic", name, big], directory: bed.directory)
            #expect(refused.status == 64, "topic \(name): \(refused.error)")
        }
        let run78 = try await algoqueue(
            ["run", "--brokers", brokers, "--topic", "bad topic!", "--url", bed.endpoint.url, "--database", database],
            directory: bed.directory)
        #expect(run78.status == 78)
        #expect(run78.error.contains("kafka.topics: \"bad topic!\" is not a valid topic name"))
        await bed.endpoint.stop()
    }
}
