import AlgoqueueKafka
import AlgoqueueResultsTopic
import Testing

@testable import AlgoqueuePipeline
@testable import AlgoqueueStore

/// A stop does not wait for a broker that has stopped answering: what was being published is published again later.
@Suite("Faults: publishing at a stop while the broker is silent")
struct PublishersAtStopTests {
    /// A broker with `topic`, down (records to it wait in the producer), and a producer for it.
    static func silentBroker(topic: String) throws -> (DevBroker, KafkaProducer) {
        let broker = try DevBroker(logger: testLogger())
        try broker.createTopic(topic, partitions: 1)
        var kafka = KafkaConsumerConfiguration()
        kafka.brokers = [broker.bootstrapServers]
        broker.setBrokerDown(1)
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(sameClusterAs: kafka), logger: testLogger())
        return (broker, producer)
    }

    @Test("cancelling a dead-letter publish ends its wait for the broker at once; the message is consumed again later")
    func cancelEndsTheWait() async throws {
        let (broker, producer) = try Self.silentBroker(topic: "dead")
        defer { withExtendedLifetime(broker) {} }
        let statistics = PipelineStatistics()
        let publisher = DeadLetterPublisher(
            producer: producer, topic: "dead", statistics: statistics, logger: testLogger())
        let message = KafkaMessage(topic: "in", partition: 0, offset: 7, value: Array(#"{"x": 1}"#.utf8))
        let row = ResultRow(topic: "in", partition: 0, offset: 7, algorithm: "a", status: .error, error: "HTTP 500")
        let publishing = Task { await publisher.publish(message, row: row) }
        let waiting = await eventually(within: .seconds(30)) { producer.unacknowledged == 1 }
        #expect(waiting)
        publishing.cancel()
        #expect(await publishing.value == false)
        // Still in flight when the publish returned: the cancel ended the wait, not the 30 s delivery timeout.
        #expect(producer.unacknowledged == 1)
        #expect(statistics.snapshot.deadLettered == 0)
        await producer.close(timeout: .milliseconds(100))
    }

    @Test("a stop that no broker answered does not wait for the completion events on their way; they stay unpublished")
    func completionEventsGivenUp() async throws {
        let directory = try TemporaryDirectory()
        let (broker, producer) = try Self.silentBroker(topic: "done")
        defer {
            withExtendedLifetime(broker) {}
            directory.cleanUp()
        }
        let store = try ResultsStore.open(StoreConfiguration(path: directory.file("r.db")), logger: testLogger())
        defer { store.close() }
        let completions = CompletionPublisher(producer: producer, topic: "done", store: store, logger: testLogger())
        let batches = (0..<3).map { offset in
            CompletedBatch(
                origin: BatchOrigin(topic: "in", partition: 0, offset: Int64(offset)), items: 10, chunks: 2, ok: 10,
                errors: 0, completedAt: "2026-12-03T00:00:00.000Z")
        }
        await CompletionPublisher.publishing(completions) {
            completions.publish(batches)
            let waiting = await eventually(within: .seconds(30)) { producer.unacknowledged == 1 }
            #expect(waiting)
            return ((), giveUp: true)
        }
        // The first event still in flight: the stop did not wait for it, nor send the other two.
        #expect(producer.unacknowledged == 1)
        await producer.close(timeout: .milliseconds(100))
    }
}
