import AlgoqueueKafka
import Foundation
import Testing

@testable import AlgoqueuePipeline
@testable import AlgoqueueResultsTopic

/// A collector says what it never saw: result messages the broker deleted before they were collected.
@Suite("collect: lost results are counted, never silent")
struct CollectGapTests {
    /// A result row as `run --results-topic` publishes it, padded to about `bytes`.
    static func row(_ offset: Int, bytes: Int) -> [UInt8] {
        let pad = String(repeating: "x", count: bytes)
        return Array(
            #"{"topic":"inputs","partition":0,"offset":\#(offset),"item":-1,"algorithm":"a","status":"ok","output":{"pad":"\#(pad)"}}"#
                .utf8)
    }

    @Test("more results than the broker keeps: the lost count is exact, exit 65, --allow-gaps exits 0")
    func retentionDeletedResults() async throws {
        let bed = try await TestBed(topic: "results", partitions: 1)
        defer { bed.cleanUp() }
        // About 8 MB into one partition: the development broker keeps about 5 MB and deletes the oldest.
        let count = 800
        _ = try await produce(
            (0..<count).map { Self.row($0, bytes: 10_000) }, to: "results", brokers: bed.broker.bootstrapServers)
        var configuration = KafkaConsumerConfiguration()
        configuration.brokers = [bed.broker.bootstrapServers]
        let admin = try KafkaAdmin(configuration: configuration, logger: testLogger())
        let marks = try await admin.watermarks(TopicPartition("results", 0))
        #expect(marks.high == Int64(count))
        let deleted = Int(marks.low)
        #expect(deleted > 0, "the broker kept every message: the test needs more bytes")

        let database = bed.directory.file("collected.db")
        let collect = [
            "collect", "--brokers", bed.broker.bootstrapServers, "--topic", "results", "--until-idle",
        ]
        let strict = try await algoqueue(collect + ["--database", database], directory: bed.directory)
        #expect(strict.status == 65, "\(strict.error.suffix(800))")
        #expect(
            strict.output.contains(
                "collected \(count - deleted) row message(s) from results into \(database); \(deleted) result "
                    + "message(s) LOST: deleted by the broker before they were collected (results[0] offsets 0..<\(deleted))"
            ),
            "\(strict.output)")
        #expect(
            strict.error.contains("\(deleted) result message(s) were deleted by the broker before they were collected"))
        #expect(
            try await sqlite3(database, "SELECT COUNT(*), MIN(offset) FROM results") == [
                "\(count - deleted)|\(deleted)"
            ])

        // Collected again from where it stopped: nothing more is lost, nothing more is said.
        let again = try await algoqueue(collect + ["--database", database], directory: bed.directory)
        #expect(again.status == 0, "\(again.error.suffix(800))")
        #expect(!again.output.contains("LOST"))

        // Another collector group accepts the gap.
        let allowed = try await algoqueue(
            collect + ["--database", bed.directory.file("allowed.db"), "--group", "other", "--allow-gaps"],
            directory: bed.directory)
        #expect(allowed.status == 0, "\(allowed.error.suffix(800))")
        #expect(allowed.output.contains("\(deleted) result message(s) LOST"))
        // A collector running as a service counts them on /metrics.
        let service = try RunningProgram(
            try algoqueueBinary(),
            collect.dropLast() + [
                "--database", bed.directory.file("service.db"), "--group", "service", "--metrics-listen", "127.0.0.1:0",
            ], directory: bed.directory, name: "collect-service")
        let base = try await statusPageURL(of: service, saying: "metrics on http://")
        let counted = await eventually(within: .seconds(60)) {
            let samples = NotifyAndMetricsTests.parse(await httpGet(base + "/metrics")?.body ?? "")
            return samples["algoqueue_collect_lost_messages_total"] == Double(deleted)
                && samples["algoqueue_collect_rows_total"] == Double(count - deleted)
        }
        let metrics = await httpGet(base + "/metrics")?.body ?? "no /metrics"
        #expect(counted, "\(metrics)")
        #expect(await httpGet(base + "/healthz")?.status == 200)
        service.signal(SIGTERM)
        #expect(await service.exitStatus(within: .seconds(30)) == 0, "\(service.errorOutput.suffix(800))")
        await bed.endpoint.stop()
    }
}

@Suite("collect: positions")
struct CollectPositionsTests {
    @Test("a first read past the start, a jump in the middle and a revoked partition")
    func gaps() {
        var positions = CollectPositions()
        let partition = TopicPartition("results", 3)
        #expect(positions.received(5, in: partition) == nil, "not assigned: not judged")
        positions.assigned(partition, next: 0)
        #expect(positions.available(from: 0, in: partition) == nil)
        #expect(positions.received(0, in: partition) == nil)
        #expect(positions.received(1, in: partition) == nil)
        // Retention deleted 2..<40 while the collector was away (librdkafka resets to the earliest it holds).
        #expect(positions.received(40, in: partition) == .init(partition: partition, from: 2, to: 40))
        #expect(positions.received(40, in: partition) == nil, "a redelivery is no gap")
        #expect(positions.received(41, in: partition) == nil)
        positions.revoked(partition)
        positions.assigned(partition, next: 42)
        #expect(positions.available(from: 50, in: partition)?.count == 8)
        #expect(positions.received(50, in: partition) == nil)
    }
}
