import AlgoqueueKafka
import Foundation
import Testing

@Suite("Recursion: a large batch split across the group")
struct SplitBatchTests {
    @Test(
        "two instances in one group share a split batch; it ends complete, with an event; a replay publishes nothing twice"
    )
    func split() async throws {
        let bed = try await TestBed(topic: "big", partitions: 2)
        defer { bed.cleanUp() }
        try bed.broker.createTopic("done", partitions: 1)
        let database = bed.directory.file("results.db")
        let config = bed.directory.file("split.yaml")
        try """
        kafka: {brokers: [\(bed.broker.bootstrapServers)], group: sharers, topics: [big], session_timeout: 6s}
        algorithm: {url: "\(bed.endpoint.url)", name: doubler}
        batch_messages: {mode: auto, max_items: 1000}
        split: {max_items: 10, completion_topic: done}
        store: {path: "\(database)"}
        pipeline: {concurrency: 4}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let binary = try algoqueueBinary()
        let first = try RunningProgram(binary, ["run", "--config", config], directory: bed.directory, name: "first")
        let second = try RunningProgram(binary, ["run", "--config", config], directory: bed.directory, name: "second")
        defer {
            first.signal(SIGKILL)
            second.signal(SIGKILL)
        }
        // Both have joined when each holds one of the two partitions.
        let joined = await eventually(within: .seconds(60)) {
            [first, second].allSatisfy { $0.errorOutput.contains("assigned 1 partition") }
        }
        #expect(joined, "instances did not share the partitions:\n\(first.errorOutput)\n\(second.errorOutput)")

        let batch = "[" + (0..<45).map { #"{"n": \#($0)}"# }.joined(separator: ",") + "]"
        _ = try await produce(
            [Array(batch.utf8)], to: "big", brokers: bed.broker.bootstrapServers, keys: ["b1"], partition: 0)
        let complete = try await eventually(within: .seconds(60)) {
            try await sqlite3(database, "SELECT completed_at IS NOT NULL FROM batches") == ["1"]
        }
        #expect(complete, "the batch did not complete:\n\(first.errorOutput)\n\(second.errorOutput)")
        for program in [first, second] { program.signal(SIGTERM) }
        // Both stop at once: the first to leave starts a rebalance that the other's stop may land in. Both exit 0.
        let stoppedCleanly = [
            await expectCleanStop(first, within: .seconds(30)), await expectCleanStop(second, within: .seconds(30)),
        ]

        // One batch, whole: 45 rows under the parent's coordinates and key, global item indexes 0-44.
        #expect(
            try await sqlite3(
                database,
                "SELECT COUNT(*), COUNT(DISTINCT item), MIN(item), MAX(item), SUM(status = 'ok'), MAX(partition), MAX(offset), MAX(key) FROM results"
            )
                == ["45|45|0|44|45|0|0|b1"])
        #expect(
            try await sqlite3(
                database, "SELECT COUNT(*) FROM results WHERE json_extract(output, '$.doubled') = 2 * item")
                == ["45"])
        #expect(try await sqlite3(database, "SELECT items, chunks, chunks_written FROM batch_progress") == ["45|5|5"])
        // Both instances took part: each consumed chunks of the batch (as its last line says, when it got to write one).
        for (program, clean) in zip([first, second], stoppedCleanly) where clean {
            let consumed = program.errorOutput.split(separator: "\n").last { $0.contains("stopped") }
                .flatMap { $0.firstRange(of: /consumed=(\d+)/).map { String($0.description) } }
            #expect(consumed != nil && consumed != "consumed=0", "an instance consumed nothing: \(program.errorOutput)")
        }
        // The completion event names the batch and its counts.
        var consumer = KafkaConsumerConfiguration()
        consumer.brokers = [bed.broker.bootstrapServers]
        consumer.groupID = "reader"
        consumer.topics = ["done"]
        let reader = try KafkaConsumer(configuration: consumer, logger: testLogger())
        try reader.start()
        let events = await collect(reader.events, within: .seconds(30)) { seen in
            seen.contains { !$0.messages.isEmpty }
        }
        await reader.close()
        let event = events.flatMap(\.messages).first?.value.map { String(decoding: $0, as: UTF8.self) } ?? ""
        #expect(
            event.contains(
                #""event":"batch_complete","topic":"big","partition":0,"offset":0,"items":45,"chunks":5,"ok":45,"errors":0"#
            ))

        // Replaying from the start in a fresh group: the batch is known as split, so no chunk is published again.
        let admin = try KafkaAdmin(configuration: consumer, logger: testLogger())
        let before = try (0..<2).map { try admin.highWatermark(TopicPartition("big", Int32($0))) }
        #expect(before.reduce(0, +) == 5)
        let replay = try await algoqueue(
            ["run", "--config", config, "--group", "replayers", "--until-idle"], directory: bed.directory)
        #expect(replay.status == 0, "replay failed: \(replay.error)")
        #expect(replay.error.contains("batch already split"))
        #expect(try (0..<2).map { try admin.highWatermark(TopicPartition("big", Int32($0))) } == before)
        #expect(try await sqlite3(database, "SELECT COUNT(*) FROM results") == ["45"])
        #expect(
            try await sqlite3(database, "SELECT COUNT(*), SUM(written_at IS NOT NULL) FROM batch_chunks") == ["5|5"])
    }
}
