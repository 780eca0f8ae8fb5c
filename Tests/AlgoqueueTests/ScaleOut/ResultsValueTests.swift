import AlgoqueueKafka
import AlgoqueueResultsTopic
import Foundation
import Testing

/// `results.value: output`: a plain predictions topic any Kafka consumer can read.
@Suite("Scale-out: the results topic as predictions")
struct ResultsValueTests {
    @Test("each message is the output alone (an error row: {\"error\": ...}); coordinates and status in headers")
    func outputsOnly() async throws {
        let bed = try await TestBed(topic: "preds", partitions: 1)
        defer { bed.cleanUp() }
        let values = [numberInput(1), numberInput(2), Array(#"{"fail": true}"#.utf8), numberInput(3)]
        _ = try await produce(values, to: "preds", brokers: bed.broker.bootstrapServers)
        let config = bed.directory.file("preds.yaml")
        try "results: {topic: predictions, value: output}\n".write(toFile: config, atomically: true, encoding: .utf8)
        let database = bed.directory.file("preds.db")
        let run = try await runUntilIdle(
            bed, topic: "preds", database: database, ["--config", config, "--max-attempts", "1"])
        #expect(run.status == 0, "\(run.error.suffix(800))")
        // Not created beforehand: said at start; the development broker creates it on the first write.
        #expect(run.error.contains("the results topic predictions does not exist yet"), "\(run.error.suffix(800))")

        var configuration = KafkaConsumerConfiguration()
        configuration.brokers = [bed.broker.bootstrapServers]
        configuration.topics = ["predictions"]
        configuration.groupID = "reader"
        let consumer = try KafkaConsumer(configuration: configuration, logger: testLogger())
        try consumer.start()
        let events = await collect(consumer.events, within: .seconds(30)) { $0.flatMap(\.messages).count == 4 }
        await consumer.close()
        let messages = events.flatMap(\.messages)
        #expect(messages.count == 4)
        func header(_ message: KafkaMessage, _ name: String) -> String? {
            message.headers.first { $0.name == name }?.value.map { String(decoding: $0, as: UTF8.self) }
        }
        let rows = try await sqlite3(
            database, "SELECT offset, status, COALESCE(output, error) FROM results ORDER BY offset")
        #expect(rows.count == 4)
        for message in messages {
            let offset = try #require(header(message, "algoqueue.source.offset"))
            #expect(header(message, "algoqueue.source.topic") == "preds")
            #expect(header(message, "algoqueue.source.item") == "-1")
            let row = try #require(rows.first { $0.hasPrefix(offset + "|") }).split(separator: "|", maxSplits: 2)
            #expect(header(message, "algoqueue.status") == String(row[1]))
            let value = try #require(message.value)
            let decoded = try JSONSerialization.jsonObject(with: Data(value)) as? NSDictionary
            if row[1] == "ok" {
                // The output as the store has it, nothing around it.
                let output = try JSONSerialization.jsonObject(with: Data(row[2].utf8)) as? NSDictionary
                #expect(decoded == output, "\(String(decoding: value, as: UTF8.self))")
                #expect(decoded?["doubled"] != nil)
            } else {
                #expect(decoded == ["error": String(row[2])] as NSDictionary)
            }
        }
        await bed.endpoint.stop()
    }
}
