import AlgoqueueKafka
import Foundation
import Testing

/// Where `algoqueue publish` puts messages without a key: on every partition in turn, so that each instance of a
/// group gets its share.
@Suite("publish: partitions")
struct PublishSpreadTests {
    /// Messages per partition of `topic`, as the broker has them.
    static func counts(_ topic: String, partitions: Int, _ bed: TestBed) throws -> [Int64] {
        var configuration = KafkaConsumerConfiguration()
        configuration.brokers = [bed.broker.bootstrapServers]
        let admin = try KafkaAdmin(configuration: configuration, logger: testLogger())
        return try (0..<partitions).map { try admin.highWatermark(TopicPartition(topic, Int32($0))) }
    }

    @Test("unkeyed lines go round-robin over the partitions; keyed ones follow their key; --partitioning sticky exists")
    func roundRobin() async throws {
        let bed = try await TestBed(topic: "spread", partitions: 4)
        defer { bed.cleanUp() }
        let file = bed.directory.file("inputs.jsonl")
        try (0..<30).map { #"{"n": \#($0)}"# }.joined(separator: "\n").write(
            toFile: file, atomically: true, encoding: .utf8)
        let published = try await algoqueue(
            ["publish", "--brokers", bed.broker.bootstrapServers, "--topic", "spread", file], directory: bed.directory)
        #expect(published.status == 0, "\(published.error)")
        #expect(published.output.contains("published 30 message(s) to spread (4 partition(s))"), "\(published.output)")
        #expect(try Self.counts("spread", partitions: 4, bed) == [8, 8, 7, 7])

        // A key decides its partition: 12 lines of one key land together.
        try bed.broker.createTopic("keyed", partitions: 4)
        let keyed = bed.directory.file("keyed.jsonl")
        try (0..<12).map { #"{"id": "same", "n": \#($0)}"# }.joined(separator: "\n").write(
            toFile: keyed, atomically: true, encoding: .utf8)
        let byKey = try await algoqueue(
            ["publish", "--brokers", bed.broker.bootstrapServers, "--topic", "keyed", "--key-field", "id", keyed],
            directory: bed.directory)
        #expect(byKey.status == 0)
        #expect(try Self.counts("keyed", partitions: 4, bed).sorted() == [0, 0, 0, 12])

        // A topic the broker creates on the first write: the rest are spread over what it created.
        let created = try await algoqueue(
            ["publish", "--brokers", bed.broker.bootstrapServers, "--topic", "fresh", file], directory: bed.directory)
        #expect(created.status == 0, "\(created.error)")
        let partitions = try #require(
            created.output.components(separatedBy: "to fresh (").dropFirst().first.flatMap {
                Int($0.prefix { $0.isNumber })
            })
        #expect(partitions > 1, "the dev broker creates topics with several partitions")
        let fresh = try Self.counts("fresh", partitions: partitions, bed)
        #expect(fresh.reduce(0, +) == 30)
        #expect(fresh.max()! - fresh.min()! <= 1, "\(fresh)")

        let sticky = try await algoqueue(
            [
                "publish", "--brokers", bed.broker.bootstrapServers, "--topic", "spread", "--partitioning", "sticky",
                file,
            ],
            directory: bed.directory)
        #expect(sticky.status == 0)
        #expect(try Self.counts("spread", partitions: 4, bed).reduce(0, +) == 60)
        let wrong = try await algoqueue(
            ["publish", "--brokers", bed.broker.bootstrapServers, "--topic", "spread", "--partitioning", "hash", file],
            directory: bed.directory)
        #expect(wrong.status == 64)
        await bed.endpoint.stop()
    }
}
