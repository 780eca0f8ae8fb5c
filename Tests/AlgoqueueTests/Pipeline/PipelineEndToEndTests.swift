import AlgoqueueKafka
import Foundation
import Testing

@Suite("Pipeline end to end: broker, HTTP endpoint, SQLite")
struct PipelineEndToEndTests {
    @Test("every input, good or bad, ends as exactly one row; a second run calls nothing and adds nothing")
    func everyInputOneRow() async throws {
        let bed = try await TestBed(topic: "e2e", partitions: 3)
        defer { bed.cleanUp() }
        let (directory, broker, endpoint) = (bed.directory, bed.broker, bed.endpoint)
        let good = (0..<40).map { numberInput($0) }
        let bad: [[UInt8]?] = [
            Array(#"{"n": 1"#.utf8),  // invalid JSON
            [],  // empty
            nil,  // null value
            Array("null".utf8),  // JSON null
            [0x7B, 0x22, 0xC3, 0x28, 0x22, 0x7D],  // not UTF-8
            Array(#"{"fail": true}"#.utf8),  // HTTP 500
            Array(#"{"garbage": true}"#.utf8),  // 200 but not JSON
            Array(#"{"m": 3}"#.utf8),  // 422
        ]
        let deliveries = try await produce(good + bad, to: "e2e", brokers: broker.bootstrapServers)
        let total = good.count + bad.count
        let database = directory.file("results.db")
        let harness = PipelineHarness(
            brokers: broker.bootstrapServers, topics: ["e2e"], group: "e2e", database: database, url: endpoint.url)

        let first = try await harness.runUntilIdle()
        #expect(first.consumed == total)
        #expect(first.ok == 40)
        #expect(first.errors == bad.count)
        // Calls only for well-formed JSON: the 40 good inputs and the last three bad ones; the HTTP 500 is
        // retried (3 attempts by default), the 422 and the non-JSON answer are not.
        #expect(endpoint.callCount == 45)
        #expect(try await sqlite3(database, "SELECT attempts FROM results WHERE input LIKE '%fail%'") == ["3"])
        #expect(try await sqlite3(database, "SELECT attempts FROM results WHERE input LIKE '%garbage%'") == ["1"])
        #expect(try await sqlite3(database, "SELECT attempts FROM results WHERE input LIKE '%m\": 3%'") == ["1"])

        #expect(try await sqlite3(database, "SELECT COUNT(*) FROM results") == ["\(total)"])
        #expect(
            try await sqlite3(database, "SELECT COUNT(DISTINCT partition || '/' || offset) FROM results") == [
                "\(total)"
            ])
        #expect(
            try await sqlite3(
                database,
                "SELECT COUNT(*) FROM results WHERE status = 'ok' AND json_extract(output, '$.doubled') = 2 * json_extract(input, '$.n')"
            ) == ["40"])
        let errors = try await sqlite3(database, "SELECT error FROM results WHERE status = 'error' ORDER BY error")
        #expect(errors.count == 8)
        let expectedFragments = [
            "HTTP 422", "HTTP 500 Internal Server Error", "boom: the model crashed",
            "is not JSON (HTTP 200, text/html)",
            "not valid JSON: unexpected end of input in an object at byte 7", "the message has no value (null)",
            "the message value is JSON null", "the message value is empty", "not valid UTF-8 (bad byte at offset 2)",
        ]
        for fragment in expectedFragments {
            #expect(errors.contains { $0.contains(fragment) }, "no error row mentions \"\(fragment)\": \(errors)")
        }
        // Bad inputs were never sent: their rows record zero attempts.
        #expect(try await sqlite3(database, "SELECT COUNT(*) FROM results WHERE attempts = 0") == ["5"])
        // The stored offsets are each partition's end.
        var ends: [Int32: Int64] = [:]
        for delivery in deliveries {
            ends[delivery.partition] = max(ends[delivery.partition] ?? 0, delivery.offset + 1)
        }
        let stored = try await sqlite3(
            database,
            "SELECT partition || '=' || next_offset FROM consumer_offsets WHERE group_id = 'e2e' ORDER BY partition")
        #expect(stored == ends.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })

        let second = try await harness.runUntilIdle()
        #expect(second.consumed == 0)
        #expect(endpoint.callCount == 45)
        #expect(try await sqlite3(database, "SELECT COUNT(*) FROM results") == ["\(total)"])

        // The offsets reached Kafka too: a new instance with its own empty database resumes from them.
        var elsewhere = harness
        elsewhere.database = directory.file("other.db")
        let third = try await elsewhere.runUntilIdle()
        #expect(third.consumed == 0)
        #expect(endpoint.callCount == 45)
        await endpoint.stop()
    }

    @Test("an endpoint answering 500 or not answering before the timeout gives error rows; nothing is lost")
    func failuresBecomeRows() async throws {
        // The timeout leaves quick calls on a loaded machine far from it; a hang outlasts it.
        let bed = try await TestBed(topic: "faults", partitions: 2, hangFor: .seconds(60))
        defer { bed.cleanUp() }
        let (directory, broker, endpoint) = (bed.directory, bed.broker, bed.endpoint)
        var values: [[UInt8]?] = []
        for index in 0..<30 {
            switch index % 3 {
            case 0: values.append(Array(#"{"fail": true, "i": \#(index)}"#.utf8))
            case 1: values.append(Array(#"{"hang": true, "i": \#(index)}"#.utf8))
            default: values.append(numberInput(index))
            }
        }
        _ = try await produce(values, to: "faults", brokers: broker.bootstrapServers)
        let database = directory.file("results.db")
        var harness = PipelineHarness(
            brokers: broker.bootstrapServers, topics: ["faults"], group: "faults", database: database, url: endpoint.url
        )
        harness.timeout = .seconds(5)
        harness.concurrency = 30
        harness.circuitBreaker.failureThreshold = 0
        let totals = try await harness.runUntilIdle()
        #expect(totals.consumed == 30)
        #expect(try await sqlite3(database, "SELECT COUNT(*) FROM results") == ["30"])
        let okRows = try await sqlite3(database, "SELECT input, attempts FROM results WHERE status = 'ok'")
        #expect(
            try await sqlite3(database, "SELECT COUNT(*) FROM results WHERE status = 'ok' AND attempts = 1") == ["10"],
            "\(okRows)")
        #expect(
            try await sqlite3(
                database,
                "SELECT COUNT(*) FROM results WHERE error LIKE '%HTTP 500%boom%(after 3 attempts)' AND attempts = 3 AND json_extract(input, '$.fail')"
            ) == ["10"])
        #expect(
            try await sqlite3(
                database,
                "SELECT COUNT(*) FROM results WHERE error LIKE 'no answer from http://127.0.0.1:%/predict within 5s (timeout) (after 3 attempts)' AND attempts = 3 AND json_extract(input, '$.hang')"
            ) == ["10"])
        await endpoint.stop()
    }

    @Test("a small buffer pauses and resumes partitions without skipping or repeating a message")
    func backpressure() async throws {
        let bed = try await TestBed(topic: "pressure", partitions: 2, delay: .milliseconds(2))
        defer { bed.cleanUp() }
        let (directory, broker, endpoint) = (bed.directory, bed.broker, bed.endpoint)
        _ = try await produce((0..<120).map { numberInput($0) }, to: "pressure", brokers: broker.bootstrapServers)
        let database = directory.file("results.db")
        var harness = PipelineHarness(
            brokers: broker.bootstrapServers, topics: ["pressure"], group: "pressure", database: database,
            url: endpoint.url)
        harness.maxBufferedMessages = 8
        harness.concurrency = 4
        let totals = try await harness.runUntilIdle()
        #expect(totals.consumed == 120)
        #expect(endpoint.callCount == 120)
        #expect(
            try await sqlite3(
                database, "SELECT COUNT(*), COUNT(DISTINCT json_extract(input, '$.n')) FROM results WHERE status = 'ok'"
            ) == ["120|120"])
        await endpoint.stop()
    }
}
