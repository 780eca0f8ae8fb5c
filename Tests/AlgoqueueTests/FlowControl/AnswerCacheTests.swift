import Foundation
import Testing

@Suite("Flow control: answers computed once")
struct AnswerCacheTests {
    @Test("--cache input: the same 500 inputs again are answered from the store; a new version calls them again")
    func computeOnce() async throws {
        let bed = try await TestBed(topic: "once", partitions: 2)
        defer { bed.cleanUp() }
        let address = bed.broker.bootstrapServers
        let inputs = (0..<500).map { numberInput($0) }
        let database = bed.directory.file("once.db")
        _ = try await produce(inputs, to: "once", brokers: address)
        let first = try await runUntilIdle(bed, topic: "once", database: database, ["--cache", "input"])
        #expect(first.status == 0, "run: \(first.error.suffix(800))")
        #expect(bed.endpoint.callCount == 500)

        // The same inputs again (new offsets): no call, rows copied from the first answers; /metrics counts them.
        _ = try await produce(inputs, to: "once", brokers: address)
        let service = try RunningProgram(
            try algoqueueBinary(),
            [
                "run", "--brokers", address, "--topic", "once", "--group", "once", "--url", bed.endpoint.url,
                "--database", database, "--cache", "input", "--metrics-listen", "127.0.0.1:0",
            ], directory: bed.directory, name: "cached")
        let base = try await statusPageURL(of: service)
        let counted = await eventually(within: .seconds(60)) {
            let samples = NotifyAndMetricsTests.parse(await httpGet(base + "/metrics")?.body ?? "")
            return samples["algoqueue_cache_hits_total"] == 500 && samples["algoqueue_rows_total{status=\"ok\"}"] == 500
        }
        #expect(counted, "\(service.errorOutput.suffix(800))")
        service.signal(SIGTERM)
        #expect(await service.exitStatus(within: .seconds(30)) == 0)
        #expect(bed.endpoint.callCount == 500)
        #expect(
            try await sqlite3(
                database,
                "SELECT COUNT(*), SUM(status = 'ok'), SUM(cached_from IS NOT NULL), SUM(attempts = 0) FROM results")
                == ["1000|1000|500|500"])
        // A cached row points at the row it came from, which answered the same input.
        #expect(
            try await sqlite3(
                database,
                """
                SELECT COUNT(*) FROM results c JOIN results o
                  ON c.cached_from = o.topic || '/' || o.partition || '/' || o.offset || '/' || o.item
                WHERE c.cached_from IS NOT NULL AND o.cached_from IS NULL AND c.input = o.input AND c.output = o.output
                """) == ["500"])
        let stats = try await algoqueue(["stats", "--database", database], directory: bed.directory)
        #expect(stats.output.contains("answered from the cache (no call): 500"), "\(stats.output)")

        // A new algorithm.version is a new model: its answers are not in the cache.
        let config = bed.directory.file("v2.yaml")
        try "algorithm:\n  version: \"2\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        _ = try await produce(inputs, to: "once", brokers: address)
        let third = try await runUntilIdle(
            bed, topic: "once", database: database, ["--cache", "input", "--config", config])
        #expect(third.status == 0, "run: \(third.error.suffix(800))")
        #expect(bed.endpoint.callCount == 1000)
        #expect(
            try await sqlite3(
                database, "SELECT COUNT(*) FROM results WHERE algorithm_version = '2' AND cached_from IS NULL")
                == ["500"])
        await bed.endpoint.stop()
    }
}
