import AlgoqueueAlgorithms
import AlgoqueueHTTPServer
import AlgoqueueKafka
import AlgoqueuePipeline
import AlgoqueueSupport
import Foundation
import Testing

@Suite("Orchestration: fan-out to several algorithms")
struct FanOutTests {
    /// Three algorithms: `doubler` (fast), `refuser` (always 422), `slow` (answers after 3 s).
    static func algorithms(_ bed: TestBed, refuser: LoopbackHTTPServer, slow: TestEndpoint) throws -> [any Algorithm] {
        func http(_ name: String, _ url: String) throws -> HTTPAlgorithm {
            var configuration = HTTPAlgorithmConfiguration(url: url)
            configuration.name = name
            configuration.timeout = .seconds(20)
            return try HTTPAlgorithm(configuration)
        }
        return [
            try http("doubler", bed.endpoint.url), try http("refuser", refuser.baseURL), try http("slow", slow.url),
        ]
    }

    @Test("each input gets a row per algorithm; with fail_fast the first failure cancels the input's other calls")
    func fanOut() async throws {
        let bed = try await TestBed(topic: "fan", partitions: 2)
        defer { bed.cleanUp() }
        let refuser = try await LoopbackHTTPServer.start { _ in .json(422, #"{"error": "cannot score this"}"#) }
        let slow = try await TestEndpoint.start(delay: .seconds(3))
        _ = try await produce((0..<4).map { numberInput($0) }, to: "fan", brokers: bed.broker.bootstrapServers)

        // Without fail_fast every algorithm answers for itself.
        var patient = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["fan"], group: "patient",
            database: bed.directory.file("patient.db"),
            url: bed.endpoint.url)
        patient.algorithms = try Self.algorithms(bed, refuser: refuser, slow: slow)
        patient.concurrency = 12
        let clock = ContinuousClock()
        let started = clock.now
        _ = try await patient.runUntilIdle()
        #expect(clock.now - started >= .seconds(3))
        #expect(
            try await sqlite3(
                patient.database,
                "SELECT algorithm, status, COUNT(*) FROM results GROUP BY algorithm, status ORDER BY algorithm")
                == ["doubler|ok|4", "refuser|error|4", "slow|ok|4"])
        // The view puts every algorithm's status for an input side by side.
        #expect(
            try await sqlite3(
                patient.database,
                "SELECT algorithms, ok, errors, statuses ->> '$.doubler', statuses ->> '$.refuser' FROM input_status LIMIT 1"
            )
                == ["3|2|1|ok|error"])

        // With fail_fast the refusal cancels the slow call at once; its row says so and why.
        var hasty = patient
        hasty.group = "hasty"
        hasty.database = bed.directory.file("hasty.db")
        hasty.fanOut.failFast = true
        hasty.algorithms = try Self.algorithms(bed, refuser: refuser, slow: slow)
        let slowCallsBefore = slow.callCount
        _ = try await hasty.runUntilIdle()
        // The slow endpoint saw the calls start; the rows below say each was cancelled, not answered.
        #expect(slow.callCount > slowCallsBefore)
        let rows = try await sqlite3(
            hasty.database,
            """
            SELECT algorithm, status, error FROM results
            WHERE (partition, offset) = (SELECT partition, offset FROM results ORDER BY partition, offset LIMIT 1)
            ORDER BY algorithm
            """)
        #expect(rows.count == 3)
        // The doubler answers about as fast as the refuser refuses: it either finished or was cancelled.
        #expect(
            rows.first == "doubler|ok|"
                || rows.first?.hasPrefix("doubler|error|cancelled: refuser failed first") == true)
        #expect(rows.dropFirst().first?.hasPrefix("refuser|error|HTTP 422") == true)
        #expect(
            rows.last?.hasPrefix(
                "slow|error|cancelled: refuser failed first for this input (fan_out.fail_fast): HTTP 422") == true)
        #expect(
            try await sqlite3(hasty.database, "SELECT COUNT(*) FROM input_status WHERE algorithms = 3 AND errors >= 2")
                == [
                    "4"
                ])
        #expect(
            try await sqlite3(
                hasty.database, "SELECT COUNT(*) FROM results WHERE algorithm = 'slow' AND error LIKE 'cancelled: %'")
                == ["4"])
        await refuser.stop()
        await slow.stop()
    }
}
