import AlgoqueueKafka
import AlgoqueuePipeline
import AlgoqueueSupport
import Foundation
import Testing

@Suite("Batch messages: a row per item")
struct BatchMessageTests {
    @Test("a list or {\"inputs\": [...]} gives a row per item; empty, too long or broken batches give clear error rows")
    func items() async throws {
        let bed = try await TestBed(topic: "items", partitions: 1)
        defer { bed.cleanUp() }
        let values: [String] = [
            #"[{"n": 1}, {"n": 2}, {"n": 3}]"#,  // offset 0: three items
            #"{"inputs": [{"n": 10}, {"n": 20}], "note": "kept out"}"#,  // 1: two items
            #"{"n": 7}"#,  // 2: auto mode: a single input
            #"[]"#,  // 3: empty
            #"[{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}, {"n": 5}]"#,  // 4: above max_items 4
            #"{"inputs": {"n": 1}}"#,  // 5: inputs not a list
            #"[{"n": 4}, null, {"x": 1}]"#,  // 6: a null item and one the endpoint refuses
        ]
        _ = try await produce(values.map { Array($0.utf8) }, to: "items", brokers: bed.broker.bootstrapServers)
        var harness = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["items"], group: "g", database: bed.directory.file("r.db"),
            url: bed.endpoint.url)
        harness.batchMessages.mode = .auto
        harness.batchMessages.maxItems = 4
        let totals = try await harness.runUntilIdle()
        #expect(totals.consumed == values.count)
        let rows = try await sqlite3(
            harness.database,
            "SELECT offset, item, status, COALESCE(json_extract(output, '$.doubled'), error) FROM results ORDER BY offset, item"
        )
        #expect(rows.prefix(6) == ["0|0|ok|2", "0|1|ok|4", "0|2|ok|6", "1|0|ok|20", "1|1|ok|40", "2|-1|ok|14"])
        #expect(rows[6].hasPrefix("3|-1|error|the batch is empty"))
        #expect(
            rows[7].hasPrefix("4|-1|error|the batch holds 5 items, above the limit of 4 (batch_messages.max_items)"))
        #expect(rows[8].hasPrefix(#"5|-1|error|"inputs" must be a list"#))
        #expect(rows[9] == "6|0|ok|8")
        #expect(rows[10].hasPrefix("6|1|error|item 1 of the batch is JSON null"))
        #expect(rows[11].hasPrefix("6|2|error|HTTP 422"))
        #expect(rows.count == 12)
        // Each item's row keeps the item as its input, and each call said which item it was.
        #expect(
            try await sqlite3(harness.database, "SELECT input FROM results WHERE offset = 1 AND item = 1") == [
                #"{"n": 20}"#
            ])
        #expect(bed.endpoint.sources.withLock { $0 }.contains("items/0/1/1"))
    }

    @Test("required mode refuses a non-batch; serial mode calls the items one after another, in order")
    func requiredAndSerial() async throws {
        let bed = try await TestBed(topic: "serial", partitions: 1)
        defer { bed.cleanUp() }
        let batch = "[" + (0..<12).map { #"{"n": \#($0)}"# }.joined(separator: ",") + "]"
        _ = try await produce(
            [Array(#"{"n": 1}"#.utf8), Array(batch.utf8)], to: "serial", brokers: bed.broker.bootstrapServers)
        var harness = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["serial"], group: "g", database: bed.directory.file("r.db"),
            url: bed.endpoint.url)
        harness.batchMessages.mode = .required
        harness.batchMessages.parallel = false
        harness.concurrency = 8
        _ = try await harness.runUntilIdle()
        let refused = try await sqlite3(harness.database, "SELECT item, status, error FROM results WHERE offset = 0")
        #expect(refused.count == 1 && refused[0].hasPrefix("-1|error|expected a batch: a JSON list of inputs"))
        #expect(
            try await sqlite3(harness.database, "SELECT COUNT(*) FROM results WHERE offset = 1 AND status = 'ok'") == [
                "12"
            ])
        // Serial: every call started after the previous one, in item order.
        let starts = bed.endpoint.callTimes.withLock { times in (0..<12).compactMap { times[$0]?.first } }
        #expect(starts.count == 12)
        #expect(zip(starts, starts.dropFirst()).allSatisfy { $0 < $1 })
    }
}

@Suite("Recursion with a work topic")
struct WorkTopicSplitTests {
    @Test("chunks go to split.topic, which the instance consumes too; the batch completes in one run until idle")
    func workTopic() async throws {
        let bed = try await TestBed(topic: "jobs", partitions: 1)
        defer { bed.cleanUp() }
        try bed.broker.createTopic("chunks", partitions: 3)
        let batch = #"{"inputs": ["# + (0..<25).map { #"{"n": \#($0)}"# }.joined(separator: ",") + "]}"
        _ = try await produce([Array(batch.utf8)], to: "jobs", brokers: bed.broker.bootstrapServers)
        var harness = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["jobs"], group: "g", database: bed.directory.file("r.db"),
            url: bed.endpoint.url)
        harness.batchMessages.mode = .auto
        harness.split.maxItems = 10
        harness.split.topic = "chunks"
        let totals = try await harness.runUntilIdle()
        // The batch message and its two chunks (items 10-19 and 20-24) on the work topic.
        #expect(totals.consumed == 3)
        #expect(
            try await sqlite3(
                harness.database, "SELECT COUNT(*), MIN(item), MAX(item), SUM(status = 'ok'), MAX(topic) FROM results")
                == ["25|0|24|25|jobs"])
        #expect(
            try await sqlite3(
                harness.database, "SELECT items, chunks, chunks_written, completed_at IS NOT NULL FROM batch_progress")
                == ["25|3|3|1"])
        var configuration = KafkaConsumerConfiguration()
        configuration.brokers = [bed.broker.bootstrapServers]
        let admin = try KafkaAdmin(configuration: configuration, logger: testLogger())
        #expect(try (0..<3).map { try admin.highWatermark(TopicPartition("chunks", Int32($0))) }.reduce(0, +) == 2)
        #expect(try await admin.highWatermark(TopicPartition("jobs", 0)) == 1)
    }
}
