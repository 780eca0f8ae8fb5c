import AlgoqueueAlgorithms
import AlgoqueueHTTPServer
import AlgoqueuePipeline
import AlgoqueueSupport
import Foundation
import Testing

@Suite("Flow control: micro-batch answers by id")
struct BatchResultsFormTests {
    /// An endpoint answering `{"results": [...]}` in reverse order, correlated by the ids algoqueue sends: an
    /// `error` entry for inputs with n % 50 == 7, and no entry at all for n == 123.
    @Test(
        #"an HTTP endpoint answering {"results": [...]} by id, out of order: each input gets its own row, one call each"#
    )
    func httpResultsByID() async throws {
        let bed = try await TestBed(topic: "byid", partitions: 2)
        defer { bed.cleanUp() }
        let sent = Locked([Int]())
        let server = try await LoopbackHTTPServer.start { request in
            let list = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [[String: Any]] ?? []
            let ids = request.header("X-Algoqueue-Item-Ids")?.split(separator: ",").map(String.init) ?? []
            guard ids.count == list.count else { return .json(400, #"{"error": "ids do not match the list"}"#) }
            sent.withLock { $0 += list.map { $0["n"] as? Int ?? -1 } }
            var entries: [String] = []
            for (id, item) in zip(ids, list).reversed() {
                let n = item["n"] as? Int ?? -1
                if n == 123 { continue }
                entries.append(
                    n % 50 == 7
                        ? #"{"id": "\#(id)", "error": "no score for \#(n)"}"#
                        : #"{"output": {"doubled": \#(n * 2)}, "id": "\#(id)"}"#)
            }
            return .json(200, #"{"results": [\#(entries.joined(separator: ","))]}"#)
        }
        _ = try await produce((0..<300).map(numberInput), to: "byid", brokers: bed.broker.bootstrapServers)
        var harness = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["byid"], group: "g", database: bed.directory.file("r.db"),
            url: server.baseURL + "/batch")
        harness.batch.maxItems = 50
        harness.batch.linger = .milliseconds(50)
        harness.retry.maxAttempts = 3
        _ = try await harness.runUntilIdle()
        #expect(try await sqlite3(harness.database, "SELECT COUNT(*), SUM(status = 'ok') FROM results") == ["300|293"])
        #expect(
            try await sqlite3(
                harness.database,
                "SELECT COUNT(*) FROM results WHERE status = 'ok' AND json_extract(output, '$.doubled') = 2 * json_extract(input, '$.n') AND attempts = 1"
            ) == ["293"])
        let failed = try await sqlite3(
            harness.database, "SELECT json_extract(input, '$.n'), error FROM results WHERE status = 'error' ORDER BY 1")
        #expect(failed.count == 7)
        #expect(failed.contains("7|the algorithm reported an error for this input: no score for 7"))
        #expect(failed.contains { $0.hasPrefix("123|the algorithm's results had no entry for this input (id byid/") })
        // No input was sent twice: partial answers need no second call.
        #expect(sent.withLock { $0.sorted() } == Array(0..<300))
        await server.stop()
        await bed.endpoint.stop()
    }

    @Test(#"a worker process gets the batch's "ids" and may answer {"results": [...]} by id"#)
    func workerResultsByID() async throws {
        let bed = try await TestBed(topic: "workerids", partitions: 1)
        defer { bed.cleanUp() }
        let script = bed.directory.file("batch_worker.py")
        try """
        import json, sys
        for line in sys.stdin:
            request = json.loads(line)
            ids, inputs = request["ids"], request["input"]
            results = [{"id": i, "error": "odd"} if x["n"] % 2 else {"id": i, "output": {"half": x["n"] // 2}}
                       for i, x in zip(ids, inputs)]
            print(json.dumps({"id": request["id"], "result": {"results": results[::-1]}}), flush=True)
        """.write(toFile: script, atomically: true, encoding: .utf8)
        var pool = ProcessPoolConfiguration(command: ["python3", script])
        pool.name = "halves"
        _ = try await produce((0..<40).map(numberInput), to: "workerids", brokers: bed.broker.bootstrapServers)
        var harness = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["workerids"], group: "g",
            database: bed.directory.file("r.db"), url: bed.endpoint.url)
        harness.algorithms = [try ProcessAlgorithm(pool, logger: testLogger("halves"))]
        harness.batch.maxItems = 10
        harness.batch.linger = .milliseconds(50)
        _ = try await harness.runUntilIdle()
        #expect(
            try await sqlite3(
                harness.database,
                "SELECT status, COUNT(*) FROM results WHERE algorithm = 'halves' GROUP BY status ORDER BY status")
                == ["error|20", "ok|20"])
        #expect(
            try await sqlite3(
                harness.database,
                "SELECT COUNT(*) FROM results WHERE status = 'ok' AND json_extract(output, '$.half') * 2 = json_extract(input, '$.n')"
            ) == ["20"])
        await bed.endpoint.stop()
    }
}
