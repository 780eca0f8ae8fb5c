import AlgoqueueKafka
import AlgoqueueSupport
import Testing

@testable import AlgoqueueKafka

@Suite("Kafka: a fetcher stopped at queued.min.messages is woken")
struct FetcherWakeTests {
    @Test("a consumer that empties librdkafka's queue after it stopped fetching wakes it; no message lost or repeated")
    func wakesStoppedFetcher() async throws {
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        try broker.createTopic("refill", partitions: 2)
        let count = 4000
        _ = try await produce(
            (0..<count).map { numberInput($0) }, to: "refill", brokers: broker.bootstrapServers,
            properties: ["linger.ms": "0"])
        var configuration = KafkaConsumerConfiguration()
        configuration.brokers = [broker.bootstrapServers]
        configuration.groupID = "refill"
        configuration.topics = ["refill"]
        // librdkafka stops fetching once 1 000 messages wait. The poll loop holds from 500 unreleased messages: while
        // this test works on them, librdkafka's queue fills to that limit; then the loop empties it.
        configuration.properties = ["queued.min.messages": "1000"]
        configuration.maxBufferedMessages = 2000
        let consumer = try KafkaConsumer(configuration: configuration, logger: testLogger())
        try consumer.start()
        var messages: [KafkaMessage] = []
        var unreleased: [KafkaMessage] = []
        let started = ContinuousClock.now
        for await event in consumer.events {
            unreleased += event.messages
            // From 500 unreleased messages the loop holds; meanwhile librdkafka fills its queue and stops fetching.
            guard unreleased.count >= 500 || messages.count + unreleased.count >= count else { continue }
            try await Task.sleep(for: .milliseconds(100))
            consumer.release(messages: unreleased.count, bytes: unreleased.reduce(0) { $0 + $1.byteCount })
            messages += unreleased
            unreleased = []
            if messages.count >= count || ContinuousClock.now - started > .seconds(120) { break }
        }
        await consumer.close()
        #expect(messages.count == count)
        // Each partition's offsets once each, in order.
        for partition: Int32 in [0, 1] {
            let offsets = messages.filter { $0.partition == partition }.map(\.offset)
            #expect(offsets == Array(0..<Int64(offsets.count)))
        }
        #expect(consumer.fetcherWakeUps >= 1)
    }

    @Test("the fetcher is woken only after its queue was seen near the limit, once each time")
    func wakesOnlyWhenStopped() {
        var wake = FetcherWake(properties: ["queued.min.messages": "1000"])
        var answers: [Bool] = []
        answers.append(wake.shouldWake(paused: false, assigned: true))  // never near the limit
        wake.saw(queued: 400, handOver: 500)
        answers.append(wake.shouldWake(paused: false, assigned: true))  // below the limit less a hand-over
        wake.saw(queued: 600, handOver: 500)
        answers.append(wake.shouldWake(paused: true, assigned: true))  // paused: flow control resumes it
        answers.append(wake.shouldWake(paused: false, assigned: false))  // nothing assigned
        answers.append(wake.shouldWake(paused: false, assigned: true))
        answers.append(wake.shouldWake(paused: false, assigned: true))  // once, until the queue fills again
        #expect(answers == [false, false, false, false, true, false])
        // A small limit is not reached by the hand-over alone.
        var small = FetcherWake(properties: ["queued.min.messages": "100"])
        small.saw(queued: 0, handOver: 500)
        let smallWakes = small.shouldWake(paused: false, assigned: true)
        #expect(!smallWakes)
        #expect(FetcherWake(properties: [:]).limit == 100_000)
    }
}
