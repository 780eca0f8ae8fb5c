import AlgoqueueAlgorithms
import AlgoqueueFlowControl
import AlgoqueueKafka
import AlgoqueuePipeline
import AlgoqueueStore
import Foundation
import Testing

/// Runs the real pipeline in-process until idle, against a real broker, endpoint and SQLite file.
struct PipelineHarness {
    var brokers: String
    var topics: [String]
    var group: String
    var database: String
    var url: String
    /// Far above any quick call on a loaded machine: a full parallel run has held an instant answer for more than
    /// 5 s, and a timed-out call is sent again. Tests of timeouts set their own.
    var timeout: Duration = .seconds(30)
    var concurrency = 4
    var ordering = Ordering.unordered
    var batch = BatchConfiguration()
    var maxInputBytes = 10 << 20
    var maxBufferedMessages = 10_000
    var retry = RetryPolicy()
    var circuitBreaker = CircuitBreakerConfiguration()
    var deadLetterTopic: String?
    var resultsTopic: String?
    var sessionTimeout: Duration = .seconds(10)
    var batchMessages = BatchMessageConfiguration()
    var split = SplitConfiguration()
    var fanOut = FanOutConfiguration()
    var sideband = SidebandConfiguration()
    /// The algorithms to call; empty: one HTTP algorithm named `doubler` at `url`.
    var algorithms: [any Algorithm] = []
    /// librdkafka properties for the consumer, passed through as is.
    var kafkaProperties: [String: String] = [:]

    func makePipeline() throws -> Pipeline {
        var kafka = KafkaConsumerConfiguration()
        kafka.brokers = [brokers]
        kafka.topics = topics
        kafka.groupID = group
        kafka.maxBufferedMessages = maxBufferedMessages
        kafka.sessionTimeout = sessionTimeout
        kafka.properties = kafkaProperties
        var configuration = PipelineConfiguration()
        configuration.untilIdle = true
        configuration.concurrency = concurrency
        configuration.ordering = ordering
        configuration.batch = batch
        configuration.maxInputBytes = maxInputBytes
        configuration.retry = retry
        configuration.circuitBreaker = circuitBreaker
        configuration.deadLetterTopic = deadLetterTopic
        configuration.resultsTopic = resultsTopic
        configuration.batchMessages = batchMessages
        configuration.split = split
        configuration.fanOut = fanOut
        configuration.sideband = sideband
        var algorithms = self.algorithms
        if algorithms.isEmpty {
            var http = HTTPAlgorithmConfiguration(url: url)
            http.name = "doubler"
            http.timeout = timeout
            // As `algoqueue run` wires it: a connection for every call that may be in flight.
            http.maxConnections = concurrency
            algorithms = [try HTTPAlgorithm(http)]
        }
        let store = try ResultsStore.open(StoreConfiguration(path: database), logger: testLogger())
        return Pipeline(
            configuration: configuration, kafka: kafka, store: store, algorithms: algorithms,
            logger: testLogger("pipeline"))
    }

    func runUntilIdle(within limit: Duration = .seconds(60)) async throws -> PipelineStatistics.Snapshot {
        try await run(makePipeline(), within: limit)
    }

    /// Runs `pipeline` (made with ``makePipeline()``) until idle, failing the test if that takes longer than `limit`.
    func run(_ pipeline: Pipeline, within limit: Duration = .seconds(60)) async throws -> PipelineStatistics.Snapshot {
        let finished = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await pipeline.run()
                return true
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return false
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
        pipeline.store.close()
        #expect(finished, "the pipeline did not become idle within \(limit)")
        return pipeline.statistics.snapshot
    }
}

/// `{"n": k}` as bytes.
func numberInput(_ n: Int) -> [UInt8] { Array(#"{"n": \#(n)}"#.utf8) }
