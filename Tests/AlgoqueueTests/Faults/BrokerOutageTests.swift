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

    @Test(
        "SIGTERM while the broker hangs: the service stops anyway, exit 0, a row for every call, unpublished results kept"
    )
    func stopWithBrokerGone() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        // The broker in a process of its own, so that it can hang: stopped, it keeps its connections and answers none.
        let broker = try RunningProgram(
            try algoqueueBinary(), ["dev-broker", "--topic", "gone", "--topic", "results", "--partitions", "1"],
            directory: directory,
            name: "broker")
        defer { broker.signal(SIGKILL) }
        let listening = await eventually(within: .seconds(20)) { broker.output.contains("\n") }
        #expect(listening, "dev-broker printed no address: \(broker.errorOutput)")
        let address = broker.output.split(separator: "\n").first.map(String.init) ?? ""
        _ = try await produce((0..<2000).map { numberInput($0) }, to: "gone", brokers: address)
        let endpoint = try await TestEndpoint.start(delay: .milliseconds(20))
        let database = directory.file("r.db")
        let service = try RunningProgram(
            try algoqueueBinary(),
            [
                "run", "--brokers", address, "--topic", "gone", "--group", "gone", "--url", endpoint.url, "--database",
                database, "--concurrency", "4", "--results-topic", "results",
            ], directory: directory, name: "service")
        defer { service.signal(SIGKILL) }
        let working = await eventually(within: .seconds(60)) { endpoint.callCount >= 20 }
        #expect(working, "the service made too few calls: \(service.errorOutput)")
        broker.signal(SIGSTOP)
        // Silent long enough for the member's session to run out, with requests unanswered: librdkafka's close alone
        // then waits for the group coordinator forever. The stop gives up on leaving the group after 10 s.
        let sessionLost = await eventually(within: .seconds(90)) {
            service.errorOutput.contains("Consumer group session timed out")
        }
        #expect(sessionLost, "the session did not time out: \(service.errorOutput)")
        service.signal(SIGTERM)
        let status = await service.exitStatus(within: .seconds(120))
        #expect(status == 0, "exit status \(String(describing: status)): \(service.errorOutput)")
        #expect(service.errorOutput.contains("the consumer did not leave its group within 10s"))
        let calls = endpoint.callCount
        #expect(calls < 2000, "the stop should have come mid-run")
        #expect(
            try await sqlite3(database, "SELECT COUNT(*), SUM(status = 'ok') FROM results") == ["\(calls)|\(calls)"])
        // Rows answered while the broker hung stay in the results outbox for the next start.
        let outbox = Int(try await sqlite3(database, "SELECT COUNT(*) FROM results_outbox").first ?? "") ?? 0
        #expect(outbox > 0 && outbox <= calls, "\(outbox) rows in the outbox")
        #expect(
            service.errorOutput.contains("rows are left in the results outbox; they are published at the next start"))
        await endpoint.stop()
    }
}
