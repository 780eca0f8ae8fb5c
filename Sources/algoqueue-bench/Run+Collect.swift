import AlgoqueueKafka
import AlgoqueueResultsTopic
import AlgoqueueStore
import AlgoqueueSupport
import Foundation
import GRDBSQLite

/// The collect scenario: `messages` rows published once to a results topic (the records `run --results-topic`
/// publishes, headers included), then, in each round, `algoqueue collect --until-idle` into a new file with a new
/// group, and the same rows written the way collect writes them (no Kafka, no parse) as that round's reference.
/// Rounds say how far collect's rate moves from one run to the next on the same topic.
extension Run {
    func runCollectScenario(algoqueue: String, broker: DevBroker, directory: String) async throws {
        let topic = "bench-collect"
        // Enough partitions that the development broker (about 5 MB per partition) keeps every row.
        try broker.createTopic(topic, partitions: max(8, messages / 2_000))
        let rows = Self.collectRows(messages)
        var settings = KafkaProducerConfiguration()
        settings.brokers = [broker.bootstrapServers]
        settings.properties = ["enable.idempotence": "true", "linger.ms": "5"]
        let producer = try KafkaProducer(configuration: settings, logger: quietLogger())
        try await Self.send(rows.map { ResultMessage.record($0, topic: topic, group: "g", host: "h") }, with: producer)
        await producer.close()
        print("\nscenario collect: \(messages) result rows in one topic, collected again in each round")
        // With a second binary, each round runs both, the first one alternating.
        let binaries = [("this build", algoqueue)] + (compareWith.map { [("--compare-with", $0)] } ?? [])
        var ratios = [[Double]](repeating: [], count: binaries.count)
        for round in 1...Self.collectRounds {
            let order = round % 2 == 1 ? Array(binaries.indices) : binaries.indices.reversed()
            for index in order {
                let (label, binary) = binaries[index]
                // The files earlier rounds wrote go to disk first: their writeback during a round moved its rate by
                // up to a third.
                sync()
                let usage = try runMeasured(
                    binary,
                    [
                        "collect", "--brokers", broker.bootstrapServers, "--topic", topic, "--group",
                        "bench-collect-\(round)-\(index)", "--database", directory + "/collected-\(round)-\(index).db",
                        "--until-idle", "--log-level", "error",
                    ])
                guard usage.status == 0, let seconds = Self.processingSeconds(usage.output) else {
                    throw BenchError("algoqueue collect failed (\(usage.status)): \(usage.output)")
                }
                let sameRows = try await collectWriteRate(
                    rows, database: directory + "/collect-same-\(round)-\(index).db")
                let received = try Self.inReceivedOrder(rows, database: directory + "/collected-\(round)-\(index).db")
                let sameOrder = try await collectWriteRate(
                    received, database: directory + "/collect-order-\(round)-\(index).db")
                print(String(format: "    the same rows in the order collect wrote them: %.0f rows/s", sameOrder))
                let rate = Double(messages) / seconds
                ratios[index].append(rate / sameRows)
                print(
                    String(
                        format:
                            "  round %d, %@: collect %.0f rows/s (processing %.2f s, %.2f s wall), %.3f CPU s per 1000; the same rows written its way %.0f rows/s; ratio %.2f",
                        round, label, rate, seconds, usage.wallSeconds, usage.cpuSeconds / Double(messages) * 1000,
                        sameRows, rate / sameRows))
            }
        }
        for (index, (label, _)) in binaries.enumerated() {
            print(
                String(
                    format: "  %@: median collect / same rows' write over %d rounds: %.2f (target >= 0.80)", label,
                    ratios[index].count, Self.median(ratios[index])))
        }
    }

    static let collectRounds = 5

    /// Sends `records` and waits for every delivery, at most 10 000 in flight.
    static func send(_ records: [KafkaRecord], with producer: KafkaProducer) async throws {
        var window: [PendingDelivery] = []
        for record in records {
            window.append(try await producer.enqueue(record))
            if window.count >= 10_000 {
                for pending in window { _ = try await pending.delivery() }
                window.removeAll(keepingCapacity: true)
            }
        }
        for pending in window { _ = try await pending.delivery() }
    }

    /// `rows` in the order a collected store holds them (its rowids: the order collect wrote them in).
    static func inReceivedOrder(_ rows: [ResultRow], database: String) throws -> [ResultRow] {
        var db: OpaquePointer?
        guard sqlite3_open_v2(database, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let db else {
            throw BenchError("cannot open \(database)")
        }
        defer { sqlite3_close_v2(db) }
        let select = try SQLiteCLoop.prepare(db, #"SELECT "partition", "offset" FROM results ORDER BY rowid"#)
        defer { sqlite3_finalize(select) }
        let byKey = Dictionary(uniqueKeysWithValues: rows.map { ("\($0.partition)/\($0.offset)", $0) })
        var ordered: [ResultRow] = []
        while sqlite3_step(select) == SQLITE_ROW {
            if let row = byKey["\(sqlite3_column_int64(select, 0))/\(sqlite3_column_int64(select, 1))"] {
                ordered.append(row)
            }
        }
        guard ordered.count == rows.count else { throw BenchError("\(database) holds \(ordered.count) rows") }
        return ordered
    }

    /// Rows shaped as the results-topic scenario's run stores them: an input, an answer, the call's facts.
    static func collectRows(_ count: Int) -> [ResultRow] {
        let now = Timestamp.iso8601(Date())
        return (0..<count).map { n in
            var row = ResultRow(
                topic: "bench-input", partition: Int32(n % 8), offset: Int64(n / 8), algorithm: "single",
                status: .ok, input: #"{"n": \#(n)}"#, inputBytes: 10 + String(n).utf8.count,
                output: #"{"doubled": \#(n * 2)}"#, attempts: 1, durationMilliseconds: 0.4 + Double(n % 100) / 100,
                messageTimestamp: now, createdAt: now, updatedAt: now)
            row.httpStatus = 200
            return row
        }
    }
}
