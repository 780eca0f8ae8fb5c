import AlgoqueueKafka
import AlgoqueueSupport
import Foundation
import Testing

@Suite("Kafka layer against the development broker")
struct KafkaRoundTripTests {
    @Test("produce, then consume every message in a group, with partition ends")
    func roundTrip() async throws {
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        try broker.createTopic("round-trip", partitions: 3)
        let values = (0..<30).map { Array("{\"n\": \($0)}".utf8) }
        let deliveries = try await produce(
            values, to: "round-trip", brokers: broker.bootstrapServers, keys: (0..<30).map { "k\($0)" })
        #expect(deliveries.count == 30)
        #expect(Set(deliveries.map(\.partition)).count == 3)

        var configuration = KafkaConsumerConfiguration()
        configuration.brokers = [broker.bootstrapServers]
        configuration.groupID = "round-trip-group"
        configuration.topics = ["round-trip"]
        let consumer = try KafkaConsumer(configuration: configuration, logger: testLogger())
        try consumer.start()
        let events = await collect(consumer.events, within: .seconds(30)) { seen in
            let messages = seen.flatMap(\.messages).count
            let ends = seen.filter { if case .endOfPartition = $0 { true } else { false } }.count
            return messages == 30 && ends >= 3
        }
        await consumer.close()
        let messages = events.flatMap(\.messages)
        #expect(messages.count == 30)
        #expect(
            Set(messages.map { String(decoding: $0.value ?? [], as: UTF8.self) })
                == Set(values.map { String(decoding: $0, as: UTF8.self) }))
        #expect(messages.allSatisfy { $0.key != nil && $0.timestampMilliseconds != nil })
        let assigned = events.compactMap { if case .assigned(let partitions) = $0 { partitions } else { nil } }
        #expect(assigned.first?.count == 3)
    }

    @Test("a broker that is down keeps its port (nothing else can bind it) and serves again when up")
    func downKeepsPort() async throws {
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        let port = try #require(broker.bootstrapServers.split(separator: ":").last.flatMap { Int($0) })
        broker.setBrokerDown(1)
        // A plain bind (no SO_REUSEADDR), as an unrelated program would try, finds the port in use.
        let other = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(other) }
        #expect(bindLoopback(other, port: port) == -1 && errno == EADDRINUSE)
        broker.setBrokerUp(1)
        let deliveries = try await produce([Array("1".utf8)], to: "after-outage", brokers: broker.bootstrapServers)
        #expect(deliveries.count == 1)
    }

    @Test("a new topic used before creation gets the broker's default partitions")
    func autoCreate() async throws {
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        let deliveries = try await produce([Array("1".utf8)], to: "auto-created", brokers: broker.bootstrapServers)
        #expect(deliveries.count == 1)
    }
}
