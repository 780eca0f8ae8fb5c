import AlgoqueueKafka
import AlgoqueuePipeline
import AlgoqueueResultsTopic
import AlgoqueueStore
import AlgoqueueSupport
import Foundation
import Testing

@Suite("Scale-out: the results topic and collect")
struct ResultsTopicTests {
    @Test("a row survives the results topic exactly: JSON, text, null and bytes")
    func roundTrip() throws {
        var row = ResultRow(
            topic: "in", partition: 3, offset: 42, item: 7, algorithm: "sentiment", algorithmVersion: "1.2", key: "k/1",
            status: .ok, input: #"{"text": "ünïcode \"quoted\""}"#, inputBytes: 31,
            output: #"{"label": "pos", "p": [0.25, 1e-05]}"#,
            metadata: "null", attempts: 2, durationMilliseconds: 12.345678,
            messageTimestamp: "2026-11-23T10:00:00.123Z",
            createdAt: "2026-11-23T10:00:01.000Z", updatedAt: "2026-11-23T10:00:02.000Z")
        var texts = row
        texts.status = .error
        texts.output = nil
        texts.error = "HTTP 500: \"boom\"\nline two"
        texts.input = "plain text, not JSON"
        var bytes = row
        bytes.input = nil
        bytes.rawInput = [0, 1, 2, 255]
        for original in [row, texts, bytes] {
            let record = ResultMessage.record(original, topic: "results", group: "g", host: "h")
            #expect(String(decoding: record.key ?? [], as: UTF8.self) == "in/3/42/7/sentiment")
            let decoded = try #require(ResultMessage.row(record.value ?? []))
            #expect(decoded == original, "\(ResultMessage.json(original))")
        }
        row.item = -1
        #expect(ResultMessage.row(Array("not json".utf8)) == nil)
        #expect(ResultMessage.row(Array(#"{"topic": "x"}"#.utf8)) == nil)
    }

    @Test("a row message is read whatever the order of its members; unknown, escaped and malformed ones are handled")
    func rowMembers() throws {
        let reordered = #"""
            {"status": "ok", "extra": {"x": [1]}, "item": 0, "output": {"y": 2}, "offset": 9223372036854775807,
             "partition": 2, "algorithm": "a", "topic": "t", "attempts": 3, "duration_ms": 1.5,
             "input_text": "hi", "key": null}
            """#
        let row = try #require(ResultMessage.row(Array(reordered.utf8)))
        #expect(row.topic == "t" && row.partition == 2 && row.offset == Int64.max && row.item == 0)
        #expect(row.output == #"{"y": 2}"# && row.input == "hi" && row.key == nil && row.attempts == 3)
        #expect(row.durationMilliseconds == 1.5 && row.status == .ok && row.algorithm == "a")
        let base = #""topic": "t", "item": 0, "algorithm": "a", "status": "ok""#
        // An offset beyond Int64, a partition beyond Int32, a fractional item, a name sent escaped: not a row.
        for broken in [
            #"{\#(base), "partition": 1, "offset": 9223372036854775808}"#,
            #"{\#(base), "partition": 2147483648, "offset": 1}"#,
            #"{"topic": "t", "item": 0.5, "algorithm": "a", "status": "ok", "partition": 1, "offset": 1}"#,
            #"{\#(base), "partition": 1, "offs\u0065t": 1}"#,
            #"{\#(base), "partition": 1, "offset": 1, }"#,
        ] {
            #expect(ResultMessage.row(Array(broken.utf8)) == nil, "\(broken)")
        }
        #expect(ResultMessage.row(Array(#"{\#(base), "partition": 1, "offset": -4}"#.utf8))?.offset == -4)
    }

    @Test("a calm run publishes each row exactly once, the last ones included when it stops")
    func calmRunPublishesOnce() async throws {
        let bed = try await TestBed(topic: "calm", partitions: 2)
        defer { bed.cleanUp() }
        let total = 500
        _ = try await produce((0..<total).map { numberInput($0) }, to: "calm", brokers: bed.broker.bootstrapServers)
        let database = bed.directory.file("calm.db")
        let run = try await runUntilIdle(bed, topic: "calm", database: database, ["--results-topic", "calm-results"])
        #expect(run.status == 0, "run: \(run.error.suffix(800))")
        #expect(try await sqlite3(database, "SELECT COUNT(*) FROM results_outbox") == ["0"])
        let collect = try await algoqueue(
            [
                "collect", "--brokers", bed.broker.bootstrapServers, "--topic", "calm-results", "--database",
                bed.directory.file("all.db"), "--until-idle",
            ], directory: bed.directory)
        // Stopping the publisher used to cancel its outbox update, and rows already sent were sent again.
        #expect(collect.output.hasPrefix("collected \(total) row message(s)"), "\(collect.output)")
        // The rows went out as the writer handed them over, not read back: the collected rows are the run's, column
        // for column.
        let columns = """
            topic, "partition", "offset", item, algorithm, algorithm_version, "key", status, input, input_bytes,
            output, error, metadata, output_file, attempts, duration_ms, message_timestamp, created_at, updated_at,
            input_hash, cached_from, traceparent, http_status
            """
        let differ = """
            ATTACH '\(bed.directory.file("all.db"))' AS collected;
            SELECT (SELECT COUNT(*) FROM (SELECT \(columns) FROM main.results EXCEPT
                SELECT \(columns) FROM collected.results)),
              (SELECT COUNT(*) FROM (SELECT \(columns) FROM collected.results EXCEPT
                SELECT \(columns) FROM main.results));
            """
        #expect(try await sqlite3(database, differ) == ["0|0"])
        await bed.endpoint.stop()
    }

    @Test("an idle service with a results topic sleeps: next to no CPU once its rows are published")
    func idleServiceSleeps() async throws {
        let bed = try await TestBed(topic: "idle", partitions: 2)
        defer { bed.cleanUp() }
        _ = try await produce((0..<20).map { numberInput($0) }, to: "idle", brokers: bed.broker.bootstrapServers)
        let database = bed.directory.file("idle.db")
        let service = try RunningProgram(
            try algoqueueBinary(),
            [
                "run", "--brokers", bed.broker.bootstrapServers, "--topic", "idle", "--group", "idle", "--url",
                bed.endpoint.url, "--database", database, "--results-topic", "idle-results",
            ], directory: bed.directory, name: "idle")
        let published = await eventually(within: .seconds(60)) {
            let counts = try? await runProgram(
                "/usr/bin/sqlite3",
                [database, "SELECT (SELECT COUNT(*) FROM results), (SELECT COUNT(*) FROM results_outbox)"])
            return counts?.output == "20|0\n"
        }
        #expect(published, "\(service.errorOutput.suffix(800))")
        // The publisher's wait once ended its wake-up stream, and from then on it read the outbox in a loop.
        let before = try #require(cpuSeconds(ofProcess: service.pid))
        try await Task.sleep(for: .seconds(3))  // the idle span measured, not a wait for an event
        let used = try #require(cpuSeconds(ofProcess: service.pid)) - before
        #expect(used < 0.5, "an idle service used \(used) CPU s in 3 s")
        service.signal(SIGTERM)
        #expect(await service.exitStatus(within: .seconds(30)) == 0)
        await bed.endpoint.stop()
    }

    @Test("a small outbox limit holds writing back until the topic takes rows, and the run still finishes whole")
    func boundedOutbox() async throws {
        let bed = try await TestBed(topic: "bounded", partitions: 2)
        defer { bed.cleanUp() }
        let total = 300
        _ = try await produce((0..<total).map { numberInput($0) }, to: "bounded", brokers: bed.broker.bootstrapServers)
        let config = bed.directory.file("bounded.yaml")
        try "results:\n  topic: bounded-results\n  max_outbox: 5\n".write(
            toFile: config, atomically: true, encoding: .utf8)
        let database = bed.directory.file("bounded.db")
        let run = try await runUntilIdle(bed, topic: "bounded", database: database, ["--config", config])
        #expect(run.status == 0, "run: \(run.error.suffix(800))")
        #expect(run.error.contains("the results outbox is full: consumption pauses"), "\(run.error.suffix(800))")
        #expect(
            try await sqlite3(database, "SELECT COUNT(*), SUM(status = 'ok') FROM results") == ["\(total)|\(total)"])
        #expect(try await sqlite3(database, "SELECT COUNT(*) FROM results_outbox") == ["0"])
        await bed.endpoint.stop()
    }

    @Test(
        "three instances, one killed with -9 and restarted, publish to one results topic; collect holds one row per input"
    )
    func threeInstancesAndCollect() async throws {
        let bed = try await TestBed(topic: "work", partitions: 6, delay: .milliseconds(15))
        defer { bed.cleanUp() }
        let address = bed.broker.bootstrapServers
        let total = 600
        _ = try await produce((0..<total).map { numberInput($0) }, to: "work", brokers: address)
        func instance(_ number: Int, _ name: String) throws -> RunningProgram {
            try RunningProgram(
                try algoqueueBinary(),
                [
                    "run", "--brokers", address, "--topic", "work", "--group", "workers", "--url", bed.endpoint.url,
                    "--database", bed.directory.file("instance\(number).db"), "--results-topic", "results",
                    "--concurrency", "4", "--until-idle",
                ], directory: bed.directory, name: name)
        }
        let first = try instance(1, "i1")
        let second = try instance(2, "i2")
        let third = try instance(3, "i3")
        // Kill the second one once it has written rows (some of them still in its outbox), then start it again.
        let wrote = await eventually(within: .seconds(60)) {
            // Until instance 2 has created its file and schema, sqlite3 fails: that is not yet.
            let count = try? await runProgram(
                "/usr/bin/sqlite3", [bed.directory.file("instance2.db"), "SELECT COUNT(*) FROM results"])
            return count?.status == 0
                && (Int(count?.output.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0) >= 10
        }
        #expect(wrote, "instance 2 wrote nothing: \(second.errorOutput.suffix(500))")
        second.signal(SIGKILL)
        _ = await second.exitStatus(within: .seconds(10))
        let restarted = try instance(2, "i2-again")
        let instances = [(first, "1"), (third, "3"), (restarted, "2 (restarted)")]
        for (program, name) in instances {
            let status = await program.exitStatus(within: .seconds(120))
            let logs = instances.map { "instance \($0.1):\n\($0.0.errorOutput.suffix(1200))" }.joined(separator: "\n")
            #expect(status == 0, "instance \(name) did not end\n\(logs)")
        }

        let all = bed.directory.file("all.db")
        let collect = try await algoqueue(
            ["collect", "--brokers", address, "--topic", "results", "--database", all, "--until-idle"],
            directory: bed.directory)
        #expect(collect.status == 0, "collect: \(collect.error.suffix(800))")
        #expect(collect.output.contains("row message(s) from results into \(all)"))
        // Every input has a row, all ok, and one row per message (a message the test's producer sent twice, on
        // a retry under load, is two messages with two rows).
        let counts = try await sqlite3(
            all,
            "SELECT COUNT(DISTINCT json_extract(input, '$.n')), COUNT(*) - SUM(status = 'ok'), "
                + "COUNT(*) - COUNT(DISTINCT topic || '/' || \"partition\" || '/' || \"offset\") FROM results")
        var perInstance: [String] = []
        for n in 1...3 {
            perInstance.append(
                try await sqlite3(
                    bed.directory.file("instance\(n).db"),
                    "SELECT COUNT(*), SUM(status = 'ok'), COUNT(DISTINCT json_extract(input, '$.n')) FROM results"
                ).joined())
        }
        let errors = try await sqlite3(
            all, "SELECT \"partition\", \"offset\", error FROM results WHERE status <> 'ok' LIMIT 5")
        let found =
            "inputs with a row | error rows | extra rows per message: \(counts); instances (rows|ok|inputs): "
            + "\(perInstance); errors: \(errors)"
        #expect(counts == ["\(total)|0|0"], "\(found)")
        // The same rows as the three instance files together: what each input got, and its newest version.
        let union = (1...3).map { "SELECT * FROM i\($0).results" }.joined(separator: " UNION ALL ")
        let attach = (1...3).map { "ATTACH '\(bed.directory.file("instance\($0).db"))' AS i\($0);" }.joined()
        let content = #"topic, "partition", "offset", item, algorithm, status, output, input"#
        #expect(
            try await sqlite3(
                all,
                attach
                    + "SELECT COUNT(*) FROM (SELECT \(content) FROM (\(union)) EXCEPT SELECT \(content) FROM main.results)"
            )
                == ["0"])
        #expect(
            try await sqlite3(
                all,
                attach
                    + "SELECT COUNT(*) FROM (SELECT \(content) FROM main.results EXCEPT SELECT \(content) FROM (\(union)))"
            )
                == ["0"])
        let newest = """
            SELECT COUNT(*) FROM main.results r WHERE r.updated_at <> (SELECT MAX(u.updated_at) FROM (\(union)) u
              WHERE (u.topic, u."partition", u."offset", u.item, u.algorithm) = (r.topic, r."partition", r."offset", r.item, r.algorithm))
            """
        #expect(try await sqlite3(all, attach + newest) == ["0"])
        // Every outbox is empty: each instance published all it wrote.
        for number in 1...3 {
            #expect(
                try await sqlite3(bed.directory.file("instance\(number).db"), "SELECT COUNT(*) FROM results_outbox")
                    == ["0"])
        }
        // Collecting again changes nothing: the offsets are stored with the rows.
        let again = try await algoqueue(
            ["collect", "--brokers", address, "--topic", "results", "--database", all, "--until-idle"],
            directory: bed.directory)
        #expect(again.output.hasPrefix("collected 0 row message(s)"), "\(again.output)")
        await bed.endpoint.stop()
    }

    @Test("the broker down while rows wait in the outbox: nothing lost, each input one row in the collected store")
    func outageWithOutbox() async throws {
        let bed = try await TestBed(topic: "outage", partitions: 2, delay: .milliseconds(10))
        defer { bed.cleanUp() }
        let (directory, broker, endpoint) = (bed.directory, bed.broker, bed.endpoint)
        let total = 300
        _ = try await produce((0..<total).map { numberInput($0) }, to: "outage", brokers: broker.bootstrapServers)
        var harness = PipelineHarness(
            brokers: broker.bootstrapServers, topics: ["outage"], group: "outage", database: directory.file("r.db"),
            url: endpoint.url)
        harness.concurrency = 2
        harness.resultsTopic = "results"
        let pipeline = try harness.makePipeline()
        async let totals = harness.run(pipeline, within: .seconds(120))
        let started = await eventually(within: .seconds(30)) { pipeline.statistics.snapshot.durable >= 40 }
        #expect(started)
        broker.setBrokerDown(1)
        try await Task.sleep(for: .seconds(3))  // the outage itself, not a wait for an event
        let queued =
            try await sqlite3(harness.database, "SELECT COUNT(*) FROM results_outbox").first.flatMap { Int($0) } ?? 0
        broker.setBrokerUp(1)
        _ = try await totals
        #expect(queued > 0, "no row waited in the outbox during the outage")
        #expect(try await sqlite3(harness.database, "SELECT COUNT(*) FROM results_outbox") == ["0"])
        let all = directory.file("all.db")
        let collect = try await algoqueue(
            ["collect", "--brokers", broker.bootstrapServers, "--topic", "results", "--database", all, "--until-idle"],
            directory: directory)
        #expect(collect.status == 0, "collect: \(collect.error.suffix(800))")
        // The rows waiting out the outage all arrived. A row may be published twice (when the outage outlasts the
        // group session, a message is consumed and written again), never lost; the collected view has it once.
        let published = collect.output.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        #expect(published >= total, "\(collect.output)")
        #expect(
            try await sqlite3(
                all, "SELECT COUNT(*), COUNT(DISTINCT json_extract(input, '$.n')), SUM(status = 'ok') FROM results")
                == ["\(total)|\(total)|\(total)"])
        await endpoint.stop()
    }
}
