import AlgoqueueAlgorithms
import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import ArgumentParser
import Foundation
import Logging

/// Each reference runs as its own process (the benchmark starts this binary again), so that its CPU and memory
/// are counted apart, and prints `seconds=<processing time>`.
struct ConsumeOnly: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume-only", abstract: "Reference: the consumer's poll loop alone, no calls, no writes.")

    @Option var brokers: String
    @Option var topic: String
    @Option var group: String
    @Option var messages: Int

    func run() async throws {
        var configuration = KafkaConsumerConfiguration()
        configuration.brokers = [brokers]
        configuration.topics = [topic]
        configuration.groupID = group
        let consumer = try KafkaConsumer(configuration: configuration, logger: quietLogger())
        try consumer.start()
        var count = 0
        var first: ContinuousClock.Instant?
        for await event in consumer.events {
            let batch = event.messages
            guard !batch.isEmpty else { continue }
            if first == nil { first = .now }
            count += batch.count
            consumer.release(messages: batch.count, bytes: batch.reduce(0) { $0 + $1.byteCount })
            if count >= messages { break }
        }
        let seconds = (ContinuousClock.now - (first ?? .now)).seconds
        await consumer.close()
        print("seconds=\(seconds)")
    }
}

struct HTTPOnly: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http-only",
        abstract: "Reference: the same HTTP client at the same concurrency, no Kafka, no SQLite.")

    @Option var url: String
    @Option var concurrency: Int
    @Option var requests: Int

    func run() async throws {
        var configuration = HTTPAlgorithmConfiguration(url: url)
        configuration.maxConnections = concurrency
        configuration.timeout = .seconds(30)
        let http = try HTTPAlgorithm(configuration)
        let started = ContinuousClock.now
        var failures = 0
        await forEachConcurrently(
            0..<requests, limit: concurrency,
            { n in
                if case .success = await http.call(AlgorithmInput(json: Array(#"{"n": \#(n)}"#.utf8))) { return true }
                return false
            }
        ) { ok in
            if !ok { failures += 1 }
        }
        let seconds = (ContinuousClock.now - started).seconds
        await http.shutdown()
        print("seconds=\(seconds) failures=\(failures)")
    }
}

struct SQLiteOnly: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sqlite-only",
        abstract: "Reference: writing result rows and offsets alone, in the same batch size.")

    @Option var database: String
    @Option var rows: Int
    @Option var batch: Int

    func run() async throws {
        let store = try ResultsStore.open(StoreConfiguration(path: database), logger: quietLogger())
        let output = #"{"doubled": 42}"#
        let started = ContinuousClock.now
        for start in stride(from: 0, to: rows, by: batch) {
            let chunk = (start..<min(start + batch, rows)).map { n in
                ResultRow(
                    topic: "bench", partition: Int32(n % 8), offset: Int64(n), algorithm: "bench", status: .ok,
                    input: #"{"n": \#(n)}"#, inputBytes: 10, output: output, attempts: 1, durationMilliseconds: 1)
            }
            try await store.write(
                rows: chunk,
                offsets: [StoredOffset(topic: "bench", partition: 0, nextOffset: Int64(start + chunk.count))],
                group: "bench")
        }
        let seconds = (ContinuousClock.now - started).seconds
        store.close()
        print("seconds=\(seconds)")
    }
}

func quietLogger() -> Logger {
    var logger = Logger(label: "algoqueue-bench")
    logger.logLevel = .error
    return logger
}
