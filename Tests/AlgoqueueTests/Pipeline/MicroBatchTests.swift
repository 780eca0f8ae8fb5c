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
        let serialRows = try sqlite3(serial.database, query)
        let batchedRows = try sqlite3(batched.database, query)
        #expect(serialRows.count == 251)
        #expect(batchedRows == serialRows)
        #expect(batchedRows.filter { $0.contains("|error|") }.count == 1)
        await server.stop()
        await bed.endpoint.stop()
    }

    @Test("an answer list of the wrong length gives each input of the batch an error row saying why")
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
        #expect(sizes.withLock { $0 } == [10])
        #expect(
            try sqlite3(harness.database, "SELECT status, error, COUNT(*) FROM results GROUP BY status, error")
                == ["error|the batch answer must be a list of 10 results, one per input in order (got a list of 9)|10"])
        await server.stop()
        await bed.endpoint.stop()
    }
}
