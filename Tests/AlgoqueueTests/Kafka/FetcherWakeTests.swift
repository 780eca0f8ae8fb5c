import AlgoqueueSupport
import Testing

@testable import AlgoqueueKafka

@Suite("Kafka: a fetcher stopped at queued.min.messages or queued.max.messages.kbytes is woken")
struct FetcherWakeTests {
    /// How a test fills librdkafka's queue: its messages, and where the fetcher stops.
    struct Filling: Sendable, CustomTestStringConvertible {
        let name: String
        let count: Int
        let valueBytes: Int
        let properties: [String: String]
        /// The queue's length (in messages) at which the fetcher has stopped.
        let full: Int

        var testDescription: String { name }
    }

    static let fillings = [
        // librdkafka stops fetching once 1 000 messages wait.
        Filling(name: "by count", count: 8000, valueBytes: 0, properties: ["queued.min.messages": "1000"], full: 1000),
        // It stops at 512 KiB too: about 250 messages of 2 kB, far below its count of 100 000.
        Filling(
            name: "by bytes", count: 3000, valueBytes: 2000, properties: ["queued.max.messages.kbytes": "512"],
            full: 200),
    ]

    @Test(
        "a consumer that empties librdkafka's queue after it stopped fetching wakes it; no message lost or repeated",
        arguments: fillings)
    func wakesStoppedFetcher(_ filling: Filling) async throws {
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        try broker.createTopic("refill", partitions: 2)
        let count = filling.count
        let padding = String(repeating: "x", count: filling.valueBytes)
        _ = try await produce(
            (0..<count).map { Array(#"{"n": \#($0), "pad": "\#(padding)"}"#.utf8) }, to: "refill",
            brokers: broker.bootstrapServers, properties: ["linger.ms": "0"])
        var configuration = KafkaConsumerConfiguration()
        configuration.brokers = [broker.bootstrapServers]
        configuration.groupID = "refill"
        configuration.topics = ["refill"]
        // The poll loop holds from 500 unreleased messages (a quarter of the buffer).
        configuration.properties = filling.properties
        configuration.maxBufferedMessages = 2000
        let consumer = try KafkaConsumer(configuration: configuration, logger: testLogger())
        try consumer.start()
        var messages: [KafkaMessage] = []
        var released = 0
        var holding = true
        var roundEnd = 2000
        var filled = 0
        let started = ContinuousClock.now
        // Rounds of 2 000 messages. Each begins by keeping 500 unreleased, so that the loop holds while librdkafka
        // fills its queue to the limit and stops; then every message is released as it comes, and the loop empties
        // the queue well within the second librdkafka's fetcher would sleep. (By bytes, the poll loop has seen the
        // messages' size by the time it holds.)
        for await event in consumer.events {
            messages += event.messages
            let done = messages.count >= count || ContinuousClock.now - started > .seconds(120)
            if holding, messages.count - released >= 500 {
                if await eventually(within: .milliseconds(800), { consumer.prefetchedMessages >= filling.full }) {
                    filled += 1
                }
                holding = false
            }
            if !holding || done {
                let handedBack = messages[released...]
                consumer.release(messages: handedBack.count, bytes: handedBack.reduce(0) { $0 + $1.byteCount })
                released = messages.count
                if released >= roundEnd {
                    holding = true
                    roundEnd += 2000
                }
            }
            if done { break }
        }
        await consumer.close()
        #expect(messages.count == count)
        // Each partition's offsets once each, in order.
        for partition: Int32 in [0, 1] {
            let offsets = messages.filter { $0.partition == partition }.map(\.offset)
            #expect(offsets == Array(0..<Int64(offsets.count)))
        }
        // A loaded machine may keep this test from releasing in time (the loop then holds past its second and takes
        // the queue itself); whenever the queue was seen full, the fetcher was woken.
        if filled > 0 { #expect(consumer.fetcherWakeUps >= 1, "filled \(filled) time(s)") }
    }

    @Test("the fetcher is woken only after its queue was seen near the limit, once each time")
    func wakesOnlyWhenStopped() {
        var wake = FetcherWake(properties: ["queued.min.messages": "1000"], kilobytes: 65536)
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
        var small = FetcherWake(properties: ["queued.min.messages": "100"], kilobytes: 65536)
        small.saw(queued: 0, handOver: 500)
        let smallWakes = small.shouldWake(paused: false, assigned: true)
        #expect(!smallWakes)
        #expect(FetcherWake(properties: [:], kilobytes: 65536).limit == 100_000)
    }

    @Test("with large messages the queue's byte limit comes first: seen near it, the fetcher is woken")
    func byteLimit() {
        // 32 MiB of 700-byte messages: the fetcher stops near 47 900 messages, far below the count of 100 000.
        var wake = FetcherWake(properties: [:], kilobytes: 32 * 1024)
        wake.saw(queued: 47_000, handOver: 2_000)
        let beforeAnyDelivery = wake.shouldWake(paused: false, assigned: true)
        #expect(!beforeAnyDelivery)  // no size known yet: the count applies
        wake.delivered(messages: 2_000, bytes: 1_400_000)
        #expect(wake.effectiveLimit == 32 * 1024 * 1024 / 700)
        wake.saw(queued: 20_000, handOver: 2_000)
        let farBelow = wake.shouldWake(paused: false, assigned: true)
        #expect(!farBelow)
        wake.saw(queued: 47_000, handOver: 2_000)
        let nearBytes = wake.shouldWake(paused: false, assigned: true)
        #expect(nearBytes)
        // A pass-through property overrides algoqueue's value.
        let set = FetcherWake(properties: ["queued.max.messages.kbytes": "1024"], kilobytes: 32 * 1024)
        #expect(set.byteLimit == 1024 * 1024)
    }
}
