import Foundation
import Testing

@testable import AlgoqueueKafka

@Suite("Kafka consumer lifecycle")
struct ConsumerLifecycleTests {
    func consumer(_ broker: DevBroker, group: String = "lifecycle") throws -> KafkaConsumer {
        var configuration = KafkaConsumerConfiguration()
        configuration.brokers = [broker.bootstrapServers]
        configuration.groupID = group
        configuration.topics = ["lifecycle"]
        return try KafkaConsumer(configuration: configuration, logger: testLogger())
    }

    /// Every event until the stream ends (nil when it has not ended within `limit`).
    func drain(_ events: AsyncStream<KafkaConsumerEvent>, within limit: Duration = .seconds(20)) async -> Int? {
        await withTaskGroup(of: Int?.self) { group in
            group.addTask {
                var count = 0
                for await _ in events { count += 1 }
                return count
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    @Test("close before start ends the events at once; start after close is refused")
    func closeBeforeStart() async throws {
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        let consumer = try consumer(broker)
        await consumer.close()
        await consumer.close()  // twice is fine
        #expect(await drain(consumer.events) == 0)
        #expect(throws: KafkaError.self) { try consumer.start() }
    }

    @Test("a failed subscribe leaves the consumer closed: the error is thrown, events end, close returns")
    func subscribeFails() async throws {
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        // Without a group id librdkafka has no consumer group to subscribe with.
        let consumer = try consumer(broker, group: "")
        #expect {
            try consumer.start()
        } throws: { error in
            (error as? KafkaError)?.description.contains("could not subscribe to lifecycle") == true
        }
        #expect(await drain(consumer.events) == 0)
        await consumer.close()
        #expect(throws: KafkaError.self) { try consumer.start() }
    }

    @Test("a consumer dropped without being started ends its events")
    func droppedUnstarted() async throws {
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        var consumer: KafkaConsumer? = try consumer(broker)
        let events = try #require(consumer?.events)
        consumer = nil
        #expect(consumer == nil)
        #expect(await drain(events) == 0)
    }

    @Test("started twice runs one poll thread; close while polling waits for the group to be left")
    func startTwiceThenClose() async throws {
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        try broker.createTopic("lifecycle", partitions: 1)
        let consumer = try consumer(broker)
        try consumer.start()
        try consumer.start()
        let assigned = await collect(consumer.events, within: .seconds(30)) { seen in
            seen.contains { if case .assigned = $0 { true } else { false } }
        }
        #expect(!assigned.isEmpty)
        await consumer.close()
        #expect(await drain(consumer.events) != nil)
        #expect(throws: KafkaError.self) { try consumer.start() }
    }

    @Test("a close a broker answers reports the group left, every time (its timer used to race it and say not)")
    func closeWithinReportsTheGroupLeft() async throws {
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        try broker.createTopic("lifecycle", partitions: 1)
        var outcomes: [Bool] = []
        for attempt in 0..<12 {
            let consumer = try consumer(broker, group: "close-\(attempt)")
            try consumer.start()
            outcomes.append(await consumer.close(within: .seconds(20)))
        }
        #expect(outcomes.allSatisfy { $0 }, "\(outcomes)")
    }

    @Test("the state machine: each edge returns what the caller must do")
    func edges() {
        var lifecycle = ConsumerLifecycle()
        #expect(lifecycle.start() == .subscribe)
        #expect(lifecycle.start() == .none)
        #expect(lifecycle.subscribed() == .startPolling)
        #expect(!lifecycle.isClosing)
        #expect(lifecycle.pollingEnded().isEmpty)
        #expect(lifecycle.start() == .refuseClosed)

        var failing = ConsumerLifecycle()
        #expect(failing.start() == .subscribe)
        #expect(failing.subscribeFailed().isEmpty)
        #expect(failing.start() == .refuseClosed)

        // A close asked for without waiting (a graceful shutdown handler) while subscribing: polling starts only to
        // leave the group; while polling: the poll thread closes.
        var asked = ConsumerLifecycle()
        #expect(asked.start() == .subscribe)
        if case .wait = asked.close(nil) {} else { Issue.record("a close while subscribing waits for the thread") }
        #expect(asked.subscribed() == .startPollingToClose)
        #expect(asked.isClosing)
        var polling = ConsumerLifecycle()
        _ = polling.start()
        #expect(polling.subscribed() == .startPolling)
        _ = polling.close(nil)
        #expect(polling.isClosing && polling.pollingEnded().isEmpty)
    }

    @Test("requestClose, which does not wait, ends the events once the group is left")
    func requestCloseEndsEvents() async throws {
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        try broker.createTopic("lifecycle", partitions: 1)
        let consumer = try consumer(broker)
        try consumer.start()
        consumer.requestClose()
        #expect(await drain(consumer.events) != nil)
        #expect(await consumer.close(within: .seconds(20)))
    }
}
