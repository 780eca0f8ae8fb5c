import AlgoqueueKafka
import AlgoqueueStore
import Foundation
import Testing

@testable import AlgoqueueResultsTopic

/// The writer hands its queued rows to the publisher in memory; what the feed cannot hold (over its limit, a row
/// that replaced a stored one, an earlier run's rows) is read from the store. Either way each queued row is
/// published once, in outbox order.
@Suite("Scale-out: the results publisher's feed")
struct ResultsPublisherFeedTests {
    static func row(_ offset: Int, output: String = "1") -> ResultRow {
        ResultRow(
            topic: "in", partition: 0, offset: Int64(offset), algorithm: "a", status: .ok, input: "{}",
            output: #"{"n": \#(offset), "v": \#(output)}"#)
    }

    @Test("writes over the feed's limit, a replaced row and an earlier run's rows: each queued row published once")
    func feedAndStore() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let broker = try DevBroker(logger: testLogger())
        try broker.createTopic("results", partitions: 1)
        let database = directory.file("r.db")
        let store = try ResultsStore.open(StoreConfiguration(path: database), logger: testLogger())
        defer { store.close() }
        // An earlier run's rows, left in the outbox.
        let earlier = (0..<3).map { Self.row($0) }
        try await store.write(rows: earlier, offsets: [], group: "g", outbox: [nil, nil, nil])
        var settings = KafkaProducerConfiguration()
        settings.brokers = [broker.bootstrapServers]
        settings.properties["enable.idempotence"] = "true"
        let publisher = ResultsPublisher(
            producer: try KafkaProducer(configuration: settings, logger: testLogger()), topic: "results",
            store: store, group: "g", limit: 10_000, logger: testLogger(), feedLimit: (rows: 5, bytes: 1 << 20))
        await publisher.load()

        var queued = earlier.count
        // Writes of three rows before the publisher runs: the feed holds the first one (5 rows at most), then every
        // other write that fits; the rest are read from the store. Every third write also replaces a row written
        // before. Then more while it runs.
        var running: Task<Void, Never>?
        for write in 0..<12 {
            var rows = (0..<3).map { Self.row(100 + write * 3 + $0) }
            if write % 3 == 2 { rows.append(Self.row(100 + write * 3 - 3, output: "2")) }
            let (_, written) = try await store.write(
                rowGroups: [rows], offsets: [], group: "g", queueing: Array(repeating: nil, count: rows.count))
            #expect(written.count == rows.count)
            publisher.written(written)
            queued += rows.count
            if write == 5 {
                let feed = publisher.feed.withLock { ($0.rows, $0.floor) }
                #expect(feed.0 == 3 && feed.1 > 0, "\(feed)")
                running = Task { await publisher.run() }
            }
        }
        let empty = await eventually(within: .seconds(60)) {
            (try? await store.outboxCount()) == 0
        }
        let left = (try? await store.outboxCount()) ?? -1
        #expect(empty, "\(left) rows left in the outbox")
        publisher.stop()
        await running?.value
        await publisher.producer.close()

        var configuration = KafkaConsumerConfiguration()
        configuration.brokers = [broker.bootstrapServers]
        let admin = try KafkaAdmin(configuration: configuration, logger: testLogger())
        // Each queued row once: as many messages as rows were queued, none sent twice.
        #expect(try await admin.watermarks(TopicPartition("results", 0)).high == Int64(queued))
        let collect = try await algoqueue(
            [
                "collect", "--brokers", broker.bootstrapServers, "--topic", "results", "--database",
                directory.file("all.db"), "--until-idle",
            ], directory: directory)
        #expect(collect.output.hasPrefix("collected \(queued) row message(s)"), "\(collect.output)")
        // The replaced rows reached the collector in their newer version (published after the first).
        #expect(
            try await sqlite3(
                directory.file("all.db"), "SELECT COUNT(*) FROM results WHERE output LIKE '%\"v\": 2}'") == ["4"])
    }
}
