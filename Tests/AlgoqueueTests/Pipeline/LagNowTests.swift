import AlgoqueueKafka
import Testing

@testable import AlgoqueuePipeline

/// The lag the live line and `run`'s progress show agrees with the rows counted durable at the same moment.
@Suite("Lag as of now")
struct LagNowTests {
    @Test("the last measurement less what became durable since, never below zero")
    func lagLessWhatWasWritten() {
        let health = PipelineHealth()
        health.update {
            $0.lag = [TopicPartition("in", 0): 60, TopicPartition("in", 1): 40]
            $0.lagDurable = 50
        }
        #expect(health.lag(durableNow: 50) == 100)
        #expect(health.lag(durableNow: 80) == 70)
        // Everything written since the measurement: no backlog is shown (it once read 271 at the end).
        #expect(health.lag(durableNow: 150) == 0)
        #expect(health.lag(durableNow: 400) == 0)
    }
}
