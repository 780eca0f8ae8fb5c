import Foundation
import Testing

@Suite("Flow control: rate limit")
struct RateLimitTests {
    @Test("--rate-limit 200: the endpoint never sees much more than 200 calls in a second; retries share the budget")
    func rateLimit() async throws {
        let bed = try await TestBed(topic: "paced", partitions: 2)
        defer { bed.cleanUp() }
        let total = 1000
        // Inputs 0-9 fail their first call: their retry waits for a token too, and waiting is not an attempt.
        let values = (0..<total).map { n in n < 10 ? Array(#"{"n": \#(n), "failTimes": 1}"#.utf8) : numberInput(n) }
        _ = try await produce(values, to: "paced", brokers: bed.broker.bootstrapServers)
        let database = bed.directory.file("paced.db")
        let run = try await runUntilIdle(
            bed, topic: "paced", database: database,
            ["--rate-limit", "200", "--concurrency", "32", "--max-attempts", "3"])
        #expect(run.status == 0, "run: \(run.error.suffix(800))")
        #expect(
            try await sqlite3(database, "SELECT COUNT(*), SUM(status = 'ok') FROM results") == ["\(total)|\(total)"])
        #expect(
            try await sqlite3(database, "SELECT attempts, COUNT(*) FROM results GROUP BY attempts") == [
                "1|990", "2|10",
            ])

        // What the endpoint saw: every call's arrival time.
        let times = bed.endpoint.callTimes.withLock { $0.values.flatMap { $0 } }.sorted()
        #expect(times.count == total + 10)
        var busiest = 0
        var start = 0
        for end in times.indices {
            while times[end] - times[start] >= .seconds(1) { start += 1 }
            busiest = max(busiest, end - start + 1)
        }
        // 200 a second plus the burst of 20; the margin is for a loaded machine waking callers late.
        #expect(busiest <= 250, "busiest second: \(busiest) calls")
        // 1 010 calls at 200 a second, less the first burst, cannot take less than about 4.9 s.
        let span = times.last! - times.first!
        #expect(span >= .seconds(4.5), "the calls took \(span)")
        await bed.endpoint.stop()
    }
}
