import AlgoqueueKafka
import AlgoqueueResultsTopic
import Foundation
import Testing

@Suite("Scale-out: split batches complete in the collector")
struct SplitAcrossInstancesTests {
    @Test("a 200-item batch split in chunks over three instances with their own files completes once in the collector")
    func splitBatchCompletesInCollector() async throws {
        let bed = try await TestBed(topic: "jobs", partitions: 3, delay: .milliseconds(5))
        defer { bed.cleanUp() }
        let address = bed.broker.bootstrapServers
        try bed.broker.createTopic("results", partitions: 2)
        try bed.broker.createTopic("done", partitions: 1)
        let items = (0..<200).map { #"{"n": \#($0)}"# }.joined(separator: ",")
        _ = try await produce([Array("[\(items)]".utf8)], to: "jobs", brokers: address)
        let instances = try (1...3).map { number in
            try RunningProgram(
                try algoqueueBinary(),
                [
                    "run", "--brokers", address, "--topic", "jobs", "--group", "jobs", "--url", bed.endpoint.url,
                    "--database", bed.directory.file("instance\(number).db"), "--results-topic", "results",
                    "--batch-messages", "auto", "--split-max-items", "50", "--until-idle",
                ], directory: bed.directory, name: "i\(number)")
        }
        for (number, program) in instances.enumerated() {
            let status = await program.exitStatus(within: .seconds(120))
            #expect(status == 0, "instance \(number + 1): \(program.errorOutput.suffix(800))")
        }
        // No instance file holds the whole batch unless one instance called every chunk; the collector does.
        let all = bed.directory.file("all.db")
        let arguments = [
            "collect", "--brokers", address, "--topic", "results", "--database", all, "--completion-topic", "done",
            "--until-idle",
        ]
        let collected = try await algoqueue(arguments, directory: bed.directory)
        #expect(collected.status == 0, "collect: \(collected.error.suffix(800))")
        #expect(collected.output.contains("1 split batch(es) completed"), "\(collected.output)")
        #expect(
            try await sqlite3(all, "SELECT COUNT(*), COUNT(DISTINCT item), SUM(status = 'ok') FROM results") == [
                "200|200|200"
            ])
        #expect(
            try await sqlite3(all, "SELECT items, chunks, chunks_written, completed_at IS NOT NULL FROM batch_progress")
                == ["200|4|4|1"])
        // Collecting again completes nothing twice.
        let again = try await algoqueue(arguments, directory: bed.directory)
        #expect(again.status == 0)
        #expect(!again.output.contains("completed"), "\(again.output)")

        // One completion event, with the batch's counts.
        var configuration = KafkaConsumerConfiguration()
        configuration.brokers = [address]
        configuration.groupID = "reader"
        configuration.topics = ["done"]
        let consumer = try KafkaConsumer(configuration: configuration, logger: testLogger())
        try consumer.start()
        let events = await collect(consumer.events, within: .seconds(30)) { seen in
            seen.contains { if case .endOfPartition = $0 { true } else { false } }
        }
        await consumer.close()
        let values = events.flatMap(\.messages).map { String(decoding: $0.value ?? [], as: UTF8.self) }
        #expect(values.count == 1, "\(values)")
        #expect(values.first?.contains(#""event":"batch_complete","topic":"jobs","partition":"#) == true)
        #expect(values.first?.contains(#""items":200,"chunks":4,"ok":200,"errors":0"#) == true, "\(values)")
        await bed.endpoint.stop()
    }
}
