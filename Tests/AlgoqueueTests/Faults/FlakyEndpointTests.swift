import AlgoqueueAlgorithms
import AlgoqueueDemo
import AlgoqueueHTTPServer
import AlgoqueueKafka
import AlgoqueuePipeline
import AlgoqueueSupport
import Foundation
import Testing

@Suite("Faults: flaky and failing endpoints")
struct FlakyEndpointTests {
    @Test("500s and hangs are retried with the right attempts; Retry-After is honoured; nothing is lost")
    func flaky() async throws {
        // A hang outlasts any timeout; the timeout is long enough that a quick call on a loaded machine never
        // meets it (at 2 s one did once in a full run), so only the hang inputs time out.
        let bed = try await TestBed(topic: "flaky", partitions: 3, hangFor: .seconds(60))
        defer { bed.cleanUp() }
        let (directory, broker, endpoint) = (bed.directory, bed.broker, bed.endpoint)
        let values: [[UInt8]?] = (0..<40).map { n in
            switch n % 10 {
            case 0, 1, 2: return Array(#"{"n": \#(n), "failTimes": 1}"#.utf8)  // ok on the 2nd attempt
            case 3: return Array(#"{"n": \#(n), "failTimes": 5}"#.utf8)  // error after 3 attempts
            case 4: return Array(#"{"n": \#(n), "hangTimes": 1}"#.utf8)  // a timeout, then ok
            case 5: return Array(#"{"n": \#(n), "failTimes": 1, "retryAfter": 1}"#.utf8)  // 429, then ok
            default: return numberInput(n)
            }
        }
        _ = try await produce(values, to: "flaky", brokers: broker.bootstrapServers)
        let database = directory.file("results.db")
        var harness = PipelineHarness(
            brokers: broker.bootstrapServers, topics: ["flaky"], group: "flaky", database: database, url: endpoint.url)
        harness.timeout = .seconds(5)
        harness.concurrency = 8
        harness.circuitBreaker.failureThreshold = 0
        let totals = try await harness.runUntilIdle()
        #expect(totals.consumed == 40)
        #expect(totals.retried == 12 + 4 * 2 + 4 + 4)
        let summary = try await sqlite3(
            database,
            "SELECT json_extract(input, '$.n') % 10 AS kind, status, attempts, COUNT(*) FROM results GROUP BY kind, status, attempts ORDER BY kind"
        )
        #expect(
            summary == [
                "0|ok|2|4", "1|ok|2|4", "2|ok|2|4", "3|error|3|4", "4|ok|2|4", "5|ok|2|4", "6|ok|1|4", "7|ok|1|4",
                "8|ok|1|4", "9|ok|1|4",
            ])
        #expect(
            try await sqlite3(database, "SELECT DISTINCT error FROM results WHERE status = 'error'").allSatisfy {
                $0.contains("HTTP 500 Internal Server Error") && $0.hasSuffix("(after 3 attempts)")
            })
        #expect(endpoint.callCount == 16 + 12 * 2 + 4 * 3 + 4 * 2 + 4 * 2)
        // The 429 asked for 1 s: the second call came no sooner.
        let gaps = endpoint.callTimes.withLock { times in
            times.filter { $0.key % 10 == 5 }.map { $0.value[1] - $0.value[0] }
        }
        #expect(gaps.count == 4)
        #expect(gaps.allSatisfy { $0 >= .milliseconds(990) }, "\(gaps)")
        await endpoint.stop()
    }

    @Test("after consecutive failures the circuit opens: calls pause, nothing is dropped, a probe closes it")
    func circuitBreaker() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        try broker.createTopic("circuit", partitions: 1)
        let healthy = Locked(false)
        let calls = Locked([ContinuousClock.Instant]())
        let server = try await LoopbackHTTPServer.start { _ in
            calls.withLock { $0.append(ContinuousClock.now) }
            return healthy.withLock { $0 } ? .json(200, #"{"fine": true}"#) : .json(503, #"{"error": "overloaded"}"#)
        }
        _ = try await produce((0..<10).map { numberInput($0) }, to: "circuit", brokers: broker.bootstrapServers)
        var harness = PipelineHarness(
            brokers: broker.bootstrapServers, topics: ["circuit"], group: "circuit", database: directory.file("r.db"),
            url: server.baseURL + "/x")
        harness.concurrency = 1
        harness.retry.maxAttempts = 2
        harness.retry.initialBackoff = .milliseconds(10)
        harness.circuitBreaker.failureThreshold = 3
        harness.circuitBreaker.openDuration = .milliseconds(800)
        let pipeline = try harness.makePipeline()
        async let totals = harness.run(pipeline)
        let opened = await eventually(within: .seconds(30)) { pipeline.statistics.snapshot.circuitOpenings >= 1 }
        #expect(opened)
        let callsWhenOpened = calls.withLock { $0.count }
        let openedAt = ContinuousClock.now
        healthy.withLock { $0 = true }
        let result = try await totals
        #expect(callsWhenOpened == 3)
        let firstAfter = calls.withLock { $0[callsWhenOpened] }
        #expect(firstAfter - openedAt >= .milliseconds(700), "a call started while the circuit was open")
        #expect(result.consumed == 10)
        #expect(result.durable == 10)
        // Input 0 used both attempts while failing; the rest succeeded once the probe closed the circuit.
        #expect(
            try await sqlite3(harness.database, "SELECT status, COUNT(*) FROM results GROUP BY status") == [
                "error|1", "ok|9",
            ])
        await server.stop()
    }

    @Test("messages that end as error rows also go to the dead-letter topic, with the error and source in headers")
    func deadLetters() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        try broker.createTopic("work", partitions: 2)
        try broker.createTopic("work-dead", partitions: 1)
        let endpoint = try await TestEndpoint.start()
        let values: [[UInt8]?] = [
            numberInput(1), Array(#"{"fail": true}"#.utf8), Array("not json".utf8), numberInput(2),
        ]
        let deliveries = try await produce(values, to: "work", brokers: broker.bootstrapServers)
        var harness = PipelineHarness(
            brokers: broker.bootstrapServers, topics: ["work"], group: "work", database: directory.file("r.db"),
            url: endpoint.url)
        harness.deadLetterTopic = "work-dead"
        harness.retry.initialBackoff = .milliseconds(5)
        let totals = try await harness.runUntilIdle()
        #expect(totals.deadLettered == 2)

        var configuration = KafkaConsumerConfiguration()
        configuration.brokers = [broker.bootstrapServers]
        configuration.topics = ["work-dead"]
        configuration.groupID = "inspect"
        let consumer = try KafkaConsumer(configuration: configuration, logger: testLogger())
        try consumer.start()
        let events = await collect(consumer.events, within: .seconds(30)) { seen in
            seen.flatMap(\.messages).count == 2
        }
        await consumer.close()
        let dead = events.flatMap(\.messages)
        #expect(dead.count == 2)
        func header(_ message: KafkaMessage, _ name: String) -> String? {
            message.headers.first { $0.name == name }?.value.map { String(decoding: $0, as: UTF8.self) }
        }
        let byValue = Dictionary(
            uniqueKeysWithValues: dead.map { (String(decoding: $0.value ?? [], as: UTF8.self), $0) })
        let failed = try #require(byValue[#"{"fail": true}"#])
        #expect(header(failed, "algoqueue.error")?.contains("HTTP 500") == true)
        #expect(header(failed, "algoqueue.attempts") == "3")
        #expect(header(failed, "algoqueue.source.topic") == "work")
        #expect(header(failed, "algoqueue.source.offset") == String(deliveries[1].offset))
        #expect(header(failed, "algoqueue.source.partition") == String(deliveries[1].partition))
        let invalid = try #require(byValue["not json"])
        #expect(header(invalid, "algoqueue.error")?.contains("not valid JSON") == true)
        #expect(header(invalid, "algoqueue.attempts") == "0")
        await endpoint.stop()
    }
}
