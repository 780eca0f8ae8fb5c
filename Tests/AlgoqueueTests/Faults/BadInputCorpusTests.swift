import AlgoqueueKafka
import Foundation
import Testing

@Suite("Faults: a corpus of bad inputs")
struct BadInputCorpusTests {
    @Test("each bad input gets a clear error row or a valid result; the service never crashes")
    func corpus() async throws {
        let bed = try await TestBed(topic: "corpus", partitions: 4)
        defer { bed.cleanUp() }
        let (directory, broker, endpoint) = (bed.directory, bed.broker, bed.endpoint)
        let hugeList = "[" + (0..<150_000).map(String.init).joined(separator: ",") + "]"
        let corpus: [(name: String, value: [UInt8]?)] = [
            ("invalid JSON", Array(#"{"n": 1,}"#.utf8)),
            ("truncated UTF-8", Array(#"{"n": 1, "s": "caf"#.utf8) + [0xC3]),
            ("empty", []),
            ("null value", nil),
            ("JSON null", Array("null".utf8)),
            (
                "deeply nested",
                Array((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8)
            ),
            ("huge list", Array(hugeList.utf8)),
            ("binary", (0..<256).map { UInt8($0) }),
            ("white space", Array(" \n\t ".utf8)),
            ("lone surrogate escape", Array(#"{"n": 2, "s": "\ud800"}"#.utf8)),
            ("good", numberInput(7)),
        ]
        _ = try await produce(corpus.map(\.value), to: "corpus", brokers: broker.bootstrapServers, partition: 0)
        // 5 MB alone in its own partition: the development broker keeps about 5 MB per partition.
        let big =
            Array(#"{"text": ""#.utf8) + Array(repeating: UInt8(ascii: "a"), count: 5_000_000) + Array(#""}"#.utf8)
        _ = try await produce(
            [big], to: "corpus", brokers: broker.bootstrapServers, partition: 3,
            properties: ["message.max.bytes": "10000000"])
        let database = directory.file("results.db")
        let run = try await algoqueue(
            runArguments(
                brokers: broker.bootstrapServers, topic: "corpus", group: "corpus", url: endpoint.url,
                database: database)
                + ["--until-idle"], directory: directory)
        #expect(run.status == 0, "the service failed: \(run.error)")
        let total = corpus.count + 1
        #expect(run.output.contains("consumed \(total) message(s)"))
        #expect(try await sqlite3(database, "SELECT COUNT(*) FROM results") == ["\(total)"])
        let rows = try await sqlite3(
            database,
            "SELECT partition || ':' || offset || '|' || status || '|' || COALESCE(error, '') FROM results ORDER BY partition, offset"
        )
        func row(_ index: Int) -> String { rows.first { $0.hasPrefix("0:\(index)|") } ?? "missing" }
        #expect(row(0).contains("not valid JSON: expected a quoted member name at byte 8"))
        #expect(row(1).contains("not valid UTF-8"))
        #expect(row(2).contains("value is empty"))
        #expect(row(3).contains("no value (null)"))
        #expect(row(4).contains("JSON null"))
        #expect(row(5).contains("nesting deeper than 512 levels"))
        #expect(row(6).contains("HTTP 422"))  // valid JSON, sent; the endpoint refuses the shape
        #expect(row(7).contains("not valid UTF-8"))
        #expect(row(8).contains("no JSON value (only white space)"))
        #expect(row(9).contains("|error|HTTP 422") || row(9).contains("|ok|"))
        #expect(row(10).hasSuffix("|ok|"))
        let bigRow = rows.first { $0.hasPrefix("3:") } ?? "missing"
        #expect(bigRow.contains("HTTP 422"), "the 5 MB input was sent and answered: \(bigRow.prefix(120))")
        #expect(try await sqlite3(database, "SELECT input_bytes FROM results WHERE partition = 3") == ["\(big.count)"])
        #expect(
            try await sqlite3(
                database, "SELECT COUNT(*) FROM results WHERE status = 'error' AND (error IS NULL OR error = '')") == [
                    "0"
                ])
        await endpoint.stop()
    }
}
