import AlgoqueueKafka
import AlgoqueueStore
import Testing

@testable import AlgoqueuePipeline

@Suite("Faults: a dead letter waiting for a silent broker")
struct DeadLetterStopTests {
    @Test("cancelling a dead-letter publish ends its wait for the broker at once; the message is consumed again later")
    func cancelEndsTheWait() async throws {
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        try broker.createTopic("dead", partitions: 1)
        var kafka = KafkaConsumerConfiguration()
        kafka.brokers = [broker.bootstrapServers]
        broker.setBrokerDown(1)
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(sameClusterAs: kafka), logger: testLogger())
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
}
