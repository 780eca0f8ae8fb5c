import AlgoqueueKafka
import AlgoqueueResultsTopic
import AlgoqueueSupport
import Testing

@Suite("Results topic retention")
struct ResultsRetentionTests {
    let week = ResultsRetention.defaultMinimum

    @Test("a time retention shorter than the minimum is a warning naming the topic, its retention and the minimum")
    func shortRetention() {
        let warnings = ResultsRetention.warnings(
            topic: "results", configuration: ["retention.ms": "86400000", "retention.bytes": "-1"], minimum: week)
        #expect(warnings.count == 1)
        let warning = warnings.first ?? ""
        #expect(warning.contains("results topic results keeps messages for 1d (retention.ms=86400000)"))
        #expect(warning.contains("results.min_retention (7d)"))
    }

    @Test("unlimited, long enough or unreadable retentions pass; a size retention is a warning whatever the time")
    func otherRetentions() {
        for passing in [["retention.ms": "-1"], ["retention.ms": "604800000"], ["retention.ms": "later"], [:]] {
            #expect(ResultsRetention.warnings(topic: "r", configuration: passing, minimum: week).isEmpty)
        }
        let sized = ResultsRetention.warnings(
            topic: "r", configuration: ["retention.ms": "-1", "retention.bytes": "1073741824"], minimum: week)
        #expect(sized.count == 1)
        #expect(sized.first?.contains("beyond 1073741824 bytes per partition (retention.bytes)") == true)
        // A lower minimum lets a day pass.
        let day = ResultsRetention.warnings(
            topic: "r", configuration: ["retention.ms": "86400000"], minimum: .seconds(3600))
        #expect(day.isEmpty)
    }

    @Test("durations in days: 7d reads as a week and a week is written 7d")
    func days() {
        #expect(Duration(text: "7d") == .seconds(604_800))
        #expect(Duration.seconds(604_800).text == "7d")
        #expect(Duration.seconds(3600).text == "1h")
    }

    @Test("asking a broker that does not describe topics ends within the bound with an error that says what failed")
    func unansweredQuestion() async throws {
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        try broker.createTopic("described", partitions: 1)
        var kafka = KafkaConsumerConfiguration()
        kafka.brokers = [broker.bootstrapServers]
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(sameClusterAs: kafka), logger: testLogger())
        await #expect {
            _ = try await producer.topicConfiguration("described", within: .seconds(1))
        } throws: { error in
            (error as? KafkaError)?.message.hasPrefix("could not read the configuration of topic described") == true
        }
        await producer.close(timeout: .zero)
    }
}
