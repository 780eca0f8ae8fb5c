import AlgoqueueKafka
import AlgoqueuePipeline
import AlgoqueueResultsTopic
import AlgoqueueStore
import AlgoqueueSupport
import Foundation

/// The results-topic scenario: the same messages through `run --until-idle` against the zero-cost endpoint, once
/// without a results topic and once with one, and, as the reference, a plain idempotent producer writing the same
/// rows (the same records `run` publishes, headers included) to the same broker.
extension Run {
    func runResultsTopicScenario(
        algoqueue: String, broker: DevBroker, url: String, directory: String, executable: String
    ) async throws {
        let topic = "bench-results-input"
        try broker.createTopic(topic, partitions: 8)
        // Enough partitions that the development broker (about 5 MB per partition) keeps every row for collect.
        let resultPartitions = max(8, messages / 2_000)
        // Each round publishes to a topic of its own; collect reads the first round's.
        let resultTopics = (1...Self.resultsTopicRounds).map { $0 == 1 ? "bench-results" : "bench-results-\($0)" }
        for name in resultTopics + ["bench-results-plain"] {
            try broker.createTopic(name, partitions: resultPartitions)
        }
        try await publish(messages, to: topic, brokers: broker.bootstrapServers)
        func run(_ name: String, _ extra: [String]) throws -> Measured {
            // Files written before (the last run's store) go to disk first, not during this run.
            sync()
            let usage = try runMeasured(
                algoqueue,
                [
                    "run", "--brokers", broker.bootstrapServers, "--topic", topic, "--group", "bench-\(name)", "--url",
                    url + "/single", "--database", directory + "/\(name).db", "--until-idle", "--concurrency",
                    String(concurrency), "--log-level", "error",
                ] + extra)
            guard usage.status == 0, let processing = Self.processingSeconds(usage.output) else {
                throw BenchError("algoqueue run (\(name)) failed (\(usage.status)): \(usage.output)")
            }
            return Measured(usage: usage, processing: processing)
        }
        print("\nscenario results-topic: \(messages) messages, zero-cost endpoint, concurrency \(concurrency)")
        // Rounds alternate the two runs: one run's CPU varies by a fifth from one run to the next on 2 cores.
        var rounds: [(plain: Measured, published: Measured)] = []
        for (index, resultsTopic) in resultTopics.enumerated() {
            let round = index + 1
            let plain = try run("results-off-\(round)", [])
            let published = try run("results-on-\(round)", ["--results-topic", resultsTopic])
            rounds.append((plain, published))
            for (label, measured) in [("without a results topic", plain), ("with --results-topic", published)] {
                print(
                    String(
                        format:
                            "  round %d, %@: %.0f messages/s (%.2f s wall, processing %.2f s), %.3f CPU s per 1000 messages",
                        round, label, Double(messages) / measured.usage.wallSeconds, measured.usage.wallSeconds,
                        measured.processing, measured.usage.cpuSeconds / Double(messages) * 1000))
            }
            print(
                String(
                    format: "  round %d: rate with / without %.2f, CPU with / without %.2f, drain at exit %.2f s",
                    round, published.rate(plain), published.cpu(plain), published.drain(plain)))
        }
        let rate = Self.median(rounds.map { $0.published.rate($0.plain) })
        let cpuRatio = Self.median(rounds.map { $0.published.cpu($0.plain) })
        let drain = Self.median(rounds.map { $0.published.drain($0.plain) })
        let wall = Self.median(rounds.map(\.published.usage.wallSeconds))
        print(
            String(
                format:
                    "  median of %d rounds: rate with / without: %.2f (target >= 0.80); CPU with / without: %.2f (target <= 1.30); drain at exit %.2f s, %.0f%% of the run (target < 10%%)",
                rounds.count, rate, cpuRatio, drain, drain / wall * 100))

        // collect: the rows of the results topic into a new file, against SQLite-only writing as many rows.
        sync()
        let collect = try runMeasured(
            algoqueue,
            [
                "collect", "--brokers", broker.bootstrapServers, "--topic", "bench-results", "--database",
                directory + "/collected.db", "--until-idle", "--log-level", "error",
            ])
        guard collect.status == 0, let collecting = Self.processingSeconds(collect.output) else {
            throw BenchError("algoqueue collect failed (\(collect.status)): \(collect.output)")
        }
        let sqliteOnly = try referenceRate(
            executable, ["sqlite-only", "--database", directory + "/sqlite-only-collect.db"] + storeReferenceRows)
        // The rows the run published, read back from its store: the same rows collect wrote.
        let store = try ResultsStore.open(
            StoreConfiguration(path: directory + "/results-on-1.db"), logger: quietLogger())
        var query = ResultQuery()
        query.limit = nil
        let rows = try await store.results(query)
        store.close()
        let sameRows = try await collectWriteRate(rows, database: directory + "/same-rows.db")
        // The consumer alone over the same topic: what reading the messages costs before any parse or write.
        let consumeOnly = try referenceRate(
            executable,
            [
                "consume-only", "--brokers", broker.bootstrapServers, "--topic", "bench-results", "--group",
                "bench-results-consume-only", "--messages", String(messages),
            ])
        let collectRate = Double(messages) / collecting
        print(
            String(
                format:
                    "  collect: %.0f rows/s (processing %.2f s, %.2f s wall with the group join), %.3f CPU s per 1000; SQLite-only %.0f rows/s (its own rows, 500 a transaction): %.2f of it",
                collectRate, collecting, collect.wallSeconds, collect.cpuSeconds / Double(messages) * 1000, sqliteOnly,
                collectRate / sqliteOnly))
        print(
            String(
                format:
                    "  SQLite-only with the same rows as collect's write (the rows the run stored, 2 000 a transaction, upserted as collect does, no Kafka, no parse): %.0f rows/s; collect / it = %.2f (target >= 0.80)",
                sameRows, collectRate / sameRows))
        print(
            String(
                format:
                    "  consume-only, the same results topic: %.0f messages/s; collect / it = %.2f (for information)",
                consumeOnly, collectRate / consumeOnly))

        // Reference: the same rows as records, from the store the run wrote, through a plain idempotent producer.
        var settings = KafkaProducerConfiguration()
        settings.brokers = [broker.bootstrapServers]
        settings.properties = ["enable.idempotence": "true", "linger.ms": "5"]
        let producer = try KafkaProducer(configuration: settings, logger: quietLogger())
        let records = rows.map {
            ResultMessage.record($0, topic: "bench-results-plain", group: "bench", host: "bench")
        }
        let clock = ContinuousClock()
        let cpuBefore = Self.ownCPUSeconds()
        let start = clock.now
        try await Self.send(records, with: producer)
        let seconds = (clock.now - start).seconds
        let cpu = Self.ownCPUSeconds() - cpuBefore
        await producer.close()
        print(
            String(
                format:
                    "  reference, a plain idempotent producer (linger 5 ms) writing the same %d rows: %.0f messages/s, %.3f CPU s per 1000 (in this process, the in-process broker included)",
                records.count, Double(records.count) / seconds, cpu / Double(max(records.count, 1)) * 1000))
    }

    /// The middle of `values` (the upper one of the two middles for an even count).
    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    /// Rounds of the run without and with a results topic.
    static let resultsTopicRounds = 3

    /// One `run` of the scenario: the kernel's counts and the processing time it printed.
    struct Measured {
        var usage: ChildUsage
        var processing: Double

        /// This run's rate against `other`'s (wall time, the same messages).
        func rate(_ other: Measured) -> Double { other.usage.wallSeconds / usage.wallSeconds }
        func cpu(_ other: Measured) -> Double { usage.cpuSeconds / other.usage.cpuSeconds }
        /// The time between the last durable row and the exit, beyond what `other` spends there: the outbox's drain.
        func drain(_ other: Measured) -> Double {
            max(0, (usage.wallSeconds - processing) - (other.usage.wallSeconds - other.processing))
        }
    }

    /// The SQLite-only reference for collect: `rows` written into a new file as collect writes them (its upsert, in
    /// transactions of 2 000 with the group's offsets), timed in this process; rows per second.
    func collectWriteRate(_ rows: [ResultRow], database: String) async throws -> Double {
        let store = try ResultsStore.open(StoreConfiguration(path: database), logger: quietLogger())
        defer { store.close() }
        let clock = ContinuousClock()
        let start = clock.now
        for first in stride(from: 0, to: rows.count, by: 2_000) {
            let batch = Array(rows[first..<min(first + 2_000, rows.count)])
            let offsets = [StoredOffset(topic: "bench-results", partition: 0, nextOffset: Int64(first + batch.count))]
            _ = try await store.writeCollected(rows: batch, offsets: offsets, group: "bench-collect")
        }
        return Double(rows.count) / max((clock.now - start).seconds, 0.000_001)
    }
}
