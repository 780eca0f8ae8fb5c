import AlgoqueueAlgorithms
import AlgoqueueHTTPServer
import AlgoqueueKafka
import AlgoqueuePipeline
import AlgoqueueSupport
import Foundation
import Testing

@Suite("Micro-batches")
struct MicroBatchTests {
    /// `POST /batch` takes a list of `{"n": k}` and answers a list of `{"doubled": 2k}`; `/single` takes one.
    /// With `wrongLength`, every batch answer has one result too few.
    static func batchEndpoint(sizes: Locked<[Int]>, wrongLength: Bool = false) async throws -> LoopbackHTTPServer {
        try await LoopbackHTTPServer.start { request in
            let value = try? JSONSerialization.jsonObject(with: Data(request.body))
            func answer(_ item: Any) -> String {
                guard let n = (item as? [String: Any])?["n"] as? Int else { return #"{"error": "no n"}"# }
                return #"{"doubled": \#(n * 2)}"#
            }
            if request.uri.hasPrefix("/batch"), let list = value as? [Any] {
                sizes.withLock { $0.append(list.count) }
                let answers = list.map(answer).dropLast(wrongLength ? 1 : 0)
                return .json(200, "[" + answers.joined(separator: ",") + "]")
            }
            return .json(200, answer(value as Any))
        }
    }

    @Test("inputs go out in lists of at most batch.max_items; each gets its own row, the same as unbatched")
    func batches() async throws {
        let bed = try await TestBed(topic: "batch", partitions: 2)
        defer { bed.cleanUp() }
        let sizes = Locked([Int]())
        let server = try await Self.batchEndpoint(sizes: sizes)
        var values: [[UInt8]?] = (0..<250).map { numberInput($0) }
        values.insert(Array("{broken".utf8), at: 17)
        _ = try await produce(values, to: "batch", brokers: bed.broker.bootstrapServers)

        var serial = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["batch"], group: "serial",
            database: bed.directory.file("serial.db"),
            url: server.baseURL + "/single")
        serial.concurrency = 1
        _ = try await serial.runUntilIdle()
        #expect(sizes.withLock { $0 }.isEmpty)

        var batched = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["batch"], group: "batched",
            database: bed.directory.file("batched.db"),
            url: server.baseURL + "/batch")
        batched.batch.maxItems = 100
        batched.batch.linger = .milliseconds(50)
        let totals = try await batched.runUntilIdle()
        #expect(totals.durable == 251)
        let sent = sizes.withLock { $0 }
        #expect(sent.reduce(0, +) == 250)
        #expect(sent.allSatisfy { $0 <= 100 })
        #expect(sent.count < 20, "250 inputs should travel in few calls, not \(sent.count)")

        let query =
            "SELECT partition || '/' || offset || '|' || status || '|' || COALESCE(output, error) FROM results ORDER BY partition, offset"
        let serialRows = try await sqlite3(serial.database, query)
        let batchedRows = try await sqlite3(batched.database, query)
        #expect(serialRows.count == 251)
        #expect(batchedRows == serialRows)
        #expect(batchedRows.filter { $0.contains("|error|") }.count == 1)
        await server.stop()
        await bed.endpoint.stop()
    }

    @Test("an answer list of the wrong length is bisected down to single inputs, whose error rows say why")
    func wrongLength() async throws {
        let bed = try await TestBed(topic: "wrong", partitions: 1)
        defer { bed.cleanUp() }
        let sizes = Locked([Int]())
        let server = try await Self.batchEndpoint(sizes: sizes, wrongLength: true)
        _ = try await produce((0..<10).map { numberInput($0) }, to: "wrong", brokers: bed.broker.bootstrapServers)
        var harness = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["wrong"], group: "w", database: bed.directory.file("r.db"),
            url: server.baseURL + "/batch")
        harness.batch.maxItems = 10
        harness.batch.linger = .seconds(5)
        _ = try await harness.runUntilIdle()
        // Every answer is one short, so the batch is halved until each input is alone (and still one short).
        let calls = sizes.withLock { $0 }
        #expect(calls.first == 10)
        #expect(calls.filter { $0 == 1 }.count == 10)
        let errors = try await sqlite3(harness.database, "SELECT status, error, attempts FROM results")
        #expect(errors.count == 10)
        for row in errors {
            // Alone, the answer is still one short: 0 results for 1 input. Each call that held the input counts.
            let fields = row.split(separator: "|").map(String.init)
            #expect(fields.first == "error")
            #expect(
                fields[1].hasPrefix(
                    "the batch answer must be a list of 1 results, one per input in order, or "
                        + #"{"results": [{"id": ..., "output": ...}, ...]} (got a list of 0) "#
                        + "(alone, after its micro-batch failed; \(fields.last ?? "") calls included it)"), "\(row)")
            #expect((4...5).contains(Int(fields.last ?? "") ?? 0), "\(row)")
        }
        await server.stop()
        await bed.endpoint.stop()
    }

    @Test("a batch failing on a poison input is bisected: 996 ok, 3 poison fail alone, an error entry only its input")
    func poisonInputsAreIsolated() async throws {
        let bed = try await TestBed(topic: "poison", partitions: 2)
        defer { bed.cleanUp() }
        // Fails (HTTP 500) any batch holding a poison input; answers an {"error": ...} entry for "skip" inputs.
        let calls = Locked(0)
        let server = try await LoopbackHTTPServer.start { request in
            calls.withLock { $0 += 1 }
            let list = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [[String: Any]] ?? []
            if list.contains(where: { $0["poison"] as? Bool == true }) {
                return .json(500, #"{"error": "poisoned batch"}"#)
            }
            let answers = list.map { item in
                item["skip"] as? Bool == true
                    ? #"{"error": "cannot score this one"}"# : #"{"doubled": \#((item["n"] as? Int ?? 0) * 2)}"#
            }
            return .json(200, "[" + answers.joined(separator: ",") + "]")
        }
        let poison: Set = [17, 450, 901]
        let values = (0..<1000).map { n in
            poison.contains(n)
                ? Array(#"{"n": \#(n), "poison": true}"#.utf8)
                : n == 500 ? Array(#"{"n": 500, "skip": true}"#.utf8) : numberInput(n)
        }
        _ = try await produce(values, to: "poison", brokers: bed.broker.bootstrapServers)
        var harness = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["poison"], group: "p", database: bed.directory.file("r.db"),
            url: server.baseURL + "/batch")
        harness.batch.maxItems = 100
        // Every input is published before the run: a linger that a loaded machine cannot outrun keeps the batches
        // full, so the calls counted below are the bisection's, not those of batches cut short by a late poll.
        harness.batch.linger = .seconds(1)
        harness.retry.maxAttempts = 1
        harness.concurrency = 8
        _ = try await harness.runUntilIdle()
        #expect(try await sqlite3(harness.database, "SELECT COUNT(*), SUM(status = 'ok') FROM results") == ["1000|996"])
        let failed = try await sqlite3(
            harness.database, "SELECT json_extract(input, '$.n'), error FROM results WHERE status = 'error' ORDER BY 1")
        #expect(failed.count == 4)
        #expect(failed.map { $0.split(separator: "|").first ?? "" } == ["17", "450", "500", "901"])
        for row in failed where !row.hasPrefix("500|") {
            #expect(row.contains("|HTTP 500 Internal Server Error from http://127.0.0.1:"), "\(row)")
            #expect(row.contains(#"{"error": "poisoned batch"} (alone, after its micro-batch failed; "#), "\(row)")
        }
        #expect(failed.contains("500|the algorithm reported an error for this input: cannot score this one"))
        // Good rows are what the endpoint answered for them.
        #expect(
            try await sqlite3(
                harness.database,
                "SELECT COUNT(*) FROM results WHERE status = 'ok' AND json_extract(output, '$.doubled') = 2 * json_extract(input, '$.n')"
            )
                == ["996"])
        // Bisecting costs about log2(100) + 1 calls per poison input on top of the batches, not a call per input.
        #expect(calls.withLock { $0 } < 10 + 3 * 2 * 8)
        await server.stop()
        await bed.endpoint.stop()
    }

    @Test(
        "in micro-batches fanned out to two algorithms, large outputs go to files named after each; a failed write is an error row"
    )
    func sidebandFiles() async throws {
        let bed = try await TestBed(topic: "sidebatch", partitions: 1)
        defer { bed.cleanUp() }
        let outputs = bed.directory.file("outputs")
        try FileManager.default.createDirectory(atPath: outputs, withIntermediateDirectories: true)
        // Where algorithm b's file for offset 0 would be written first stands a directory: that write fails.
        try FileManager.default.createDirectory(
            atPath: outputs + "/sidebatch-0-0--1-b.json.partial", withIntermediateDirectories: true)
        let server = try await LoopbackHTTPServer.start { request in
            let list = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [[String: Any]] ?? []
            let answers = list.map { item in
                let n = item["n"] as? Int ?? 0
                return n.isMultiple(of: 2)
                    ? #"{"text": "\#(String(repeating: "y", count: 2000))"}"# : #"{"doubled": \#(n * 2)}"#
            }
            return .json(200, "[" + answers.joined(separator: ",") + "]")
        }
        _ = try await produce((0..<4).map(numberInput), to: "sidebatch", brokers: bed.broker.bootstrapServers)
        var harness = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["sidebatch"], group: "g",
            database: bed.directory.file("r.db"), url: server.baseURL)
        harness.batch.maxItems = 10
        harness.sideband.outputDirectory = outputs
        harness.sideband.maxInlineOutputBytes = 1000
        harness.algorithms = try ["a", "b"].map { name in
            var http = HTTPAlgorithmConfiguration(url: server.baseURL + "/batch")
            http.name = name
            return try HTTPAlgorithm(http)
        }
        _ = try await harness.runUntilIdle()
        let rows = try await sqlite3(
            harness.database,
            "SELECT offset, algorithm, status, COALESCE(output, error), output_file FROM results ORDER BY offset, algorithm"
        )
        #expect(rows.count == 8)
        #expect(rows[0] == "0|a|ok||\(outputs)/sidebatch-0-0--1-a.json")
        #expect(rows[1].hasPrefix("0|b|error|cannot write the output to \(outputs)/sidebatch-0-0--1-b.json"))
        #expect(rows[2] == #"1|a|ok|{"doubled": 2}|"#)
        #expect(rows[3] == #"1|b|ok|{"doubled": 2}|"#)
        #expect(rows[4] == "2|a|ok||\(outputs)/sidebatch-0-2--1-a.json")
        #expect(rows[5] == "2|b|ok||\(outputs)/sidebatch-0-2--1-b.json")
        for name in ["0--1-a", "2--1-a", "2--1-b"] {
            #expect(try String(contentsOfFile: outputs + "/sidebatch-0-\(name).json", encoding: .utf8).count == 2012)
        }
        await server.stop()
    }
}
