import AlgoqueueHTTPServer
import AlgoqueueKafka
import AlgoqueueSupport
import Foundation
import Testing

@Suite("Provenance: traceparent and HTTP status in the row")
struct ProvenanceTests {
    @Test("a message's traceparent reaches the endpoint and its row; rows keep the last attempt's HTTP status")
    func traceparentAndStatus() async throws {
        let bed = try await TestBed(topic: "traced", partitions: 1)
        defer { bed.cleanUp() }
        // What traceparent each input arrived with ("-" for none); input 2 is refused with 500.
        let seen = Locked([Int: String]())
        let server = try await LoopbackHTTPServer.start { request in
            let n =
                ((try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any])?["n"] as? Int ?? -1
            seen.withLock { $0[n] = request.header("traceparent") ?? "-" }
            return n == 2 ? .json(500, #"{"error": "boom"}"#) : .json(200, #"{"doubled": \#(n * 2)}"#)
        }
        let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        _ = try await produce(
            [numberInput(1)], to: "traced", brokers: bed.broker.bootstrapServers,
            headers: [KafkaHeader(name: "traceparent", string: trace)])
        _ = try await produce([numberInput(2)], to: "traced", brokers: bed.broker.bootstrapServers)
        let database = bed.directory.file("traced.db")
        let run = try await runUntilIdle(
            bed, topic: "traced", database: database, url: server.baseURL + "/predict", ["--max-attempts", "1"])
        #expect(run.status == 0, "run: \(run.error.suffix(800))")
        // Passed on without being named in pipeline.pass_headers.
        #expect(seen.withLock { $0 } == [1: trace, 2: "-"])
        #expect(
            try await sqlite3(
                database, "SELECT offset, status, http_status, COALESCE(traceparent, '-') FROM results ORDER BY offset")
                == ["0|ok|200|\(trace)", "1|error|500|-"])
        await server.stop()
        await bed.endpoint.stop()
    }
}
