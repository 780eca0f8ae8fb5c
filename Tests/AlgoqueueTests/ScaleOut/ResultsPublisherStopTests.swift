import AlgoqueueKafka
import AlgoqueueStore
import Foundation
import Testing

@testable import AlgoqueuePipeline
@testable import AlgoqueueResultsTopic

/// A stop while the broker does not acknowledge the results publisher's batch in hand: the stop goes on at once
/// (it used to wait out the 30 s delivery timeout), and the acknowledgements are waited for in the drain instead.
@Suite("Scale-out: stopping the results publisher")
struct ResultsPublisherStopTests {
    /// More than the publisher keeps in flight: the drain publishes the rest after the batches in hand.
    static let rows = ResultsPublisher.batchSize * ResultsPublisher.batchesInFlight + 100
    static let inHand = ResultsPublisher.batchSize * ResultsPublisher.batchesInFlight

    /// A broker, a store whose outbox holds `rows` rows, and a publisher for them, the broker down.
    struct Bed {
        let directory: TemporaryDirectory
        let broker: DevBroker
        let store: ResultsStore
        let publisher: ResultsPublisher
        let database: String

        init() async throws {
            directory = try TemporaryDirectory()
            broker = try DevBroker(logger: testLogger())
            try broker.createTopic("results", partitions: 1)
            database = directory.file("r.db")
            store = try ResultsStore.open(StoreConfiguration(path: database), logger: testLogger())
            let rows = (0..<ResultsPublisherStopTests.rows).map { offset in
                ResultRow(
                    topic: "in", partition: 0, offset: Int64(offset), algorithm: "a", status: .ok, input: "{}",
                    output: #"{"n": \#(offset)}"#)
            }
            try await store.write(
                rows: rows, offsets: [], group: "g", outbox: Array(repeating: nil, count: rows.count))
            var kafka = KafkaConsumerConfiguration()
            kafka.brokers = [broker.bootstrapServers]
            broker.setBrokerDown(1)
            publisher = try await ResultsPublisher.make(
                topic: "results", kafka: kafka, store: store, group: "g", limit: 10_000,
                logger: testLogger())
        }

        /// Runs the publisher until its batch waits for the broker, then stops it.
        func stopWithBatchInHand() async throws {
            let running = Task { await publisher.run() }
            let inHand = await eventually(within: .seconds(30)) {
                publisher.producer.unacknowledged == ResultsPublisherStopTests.inHand
            }
            #expect(inHand, "\(publisher.producer.unacknowledged) records queued")
            publisher.stop()
            await running.value
        }

        func outbox() async throws -> [String] { try await sqlite3(database, "SELECT COUNT(*) FROM results_outbox") }

        func cleanUp() {
            store.close()
            withExtendedLifetime(broker) {}
            directory.cleanUp()
        }
    }

    @Test("a stop leaves the unacknowledged batch to the drain, which takes its acknowledgements: each row once")
    func drainTakesTheBatchInHand() async throws {
        let bed = try await Bed()
        defer { bed.cleanUp() }
        try await bed.stopWithBatchInHand()
        // Given up, not failed: waiting for the 30 s delivery timeout would have failed the records instead.
        #expect(bed.publisher.unsettled.withLock { $0.count } == Self.inHand)
        #expect(bed.publisher.producer.unacknowledged == Self.inHand)
        #expect(try await bed.outbox() == ["\(Self.rows)"])
        bed.broker.setBrokerUp(1)
        await bed.publisher.drain(until: .now + .seconds(60))
        await bed.publisher.producer.close()
        #expect(try await bed.outbox() == ["0"])
        // Published once: the drain waited for the records in flight instead of sending them again, then published
        // the rest, waiting for each batch's acknowledgements.
        let collect = try await algoqueue(
            [
                "collect", "--brokers", bed.broker.bootstrapServers, "--topic", "results", "--database",
                bed.directory.file("all.db"), "--until-idle",
            ], directory: bed.directory)
        #expect(collect.output.hasPrefix("collected \(Self.rows) row message(s)"), "\(collect.output)")
    }

    @Test("with the broker still silent, the drain gives the batch in hand up at its deadline; the rows stay queued")
    func drainGivesUpAtItsDeadline() async throws {
        let bed = try await Bed()
        defer { bed.cleanUp() }
        try await bed.stopWithBatchInHand()
        await bed.publisher.drain(until: .now + .seconds(1))
        // Still in flight after the drain: it gave up at its deadline, before the delivery timeout failed them.
        #expect(bed.publisher.producer.unacknowledged == Self.inHand)
        #expect(bed.publisher.unsettled.withLock { $0.isEmpty })
        #expect(try await bed.outbox() == ["\(Self.rows)"])
        await bed.publisher.producer.close(timeout: .milliseconds(100))
    }
}
