import AlgoqueueKafka
import Foundation
import Testing

@Suite("Faults: the broker goes away")
struct BrokerOutageTests {
    @Test("the broker down for seconds mid-run: the service reconnects and finishes; nothing lost")
    func outage() async throws {
        let bed = try await TestBed(topic: "outage", partitions: 2, delay: .milliseconds(10))
        defer { bed.cleanUp() }
        let (directory, broker, endpoint) = (bed.directory, bed.broker, bed.endpoint)
        _ = try await produce((0..<400).map { numberInput($0) }, to: "outage", brokers: broker.bootstrapServers)
        var harness = PipelineHarness(
            brokers: broker.bootstrapServers, topics: ["outage"], group: "outage", database: directory.file("r.db"),
            url: endpoint.url)
        harness.concurrency = 2
        harness.maxBufferedMessages = 50
        // librdkafka fetches ahead only 20 messages per partition: the rest of the run needs the broker.
        harness.kafkaProperties = ["queued.min.messages": "20"]
        let pipeline = try harness.makePipeline()
        async let totals = harness.run(pipeline, within: .seconds(90))
        let started = await eventually(within: .seconds(30)) { pipeline.statistics.snapshot.durable >= 40 }
        #expect(started)
        broker.setBrokerDown(1)
        try await Task.sleep(for: .seconds(4))  // the outage itself, not a wait for an event
        let duringOutage = pipeline.statistics.snapshot.durable
        broker.setBrokerUp(1)
        let result = try await totals
        #expect(duringOutage < 400, "the outage should have happened mid-run")
        // If the outage outlasts the group session, messages consumed but not yet written are consumed again
        // after the partitions come back (at least once); the rows below are exact either way.
        #expect(result.consumed >= 400)
        #expect(
            try await sqlite3(
                harness.database,
                "SELECT COUNT(*), COUNT(DISTINCT json_extract(input, '$.n')), SUM(status = 'ok') FROM results") == [
                    "400|400|400"
                ])
        await endpoint.stop()
    }
}
