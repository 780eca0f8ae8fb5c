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

    @Test("fail_fast cancelling the circuit's probe call does not wedge the circuit: the next call probes")
    func cancelledProbe() async throws {
        let bed = try await TestBed(topic: "probe", partitions: 1)
        defer { bed.cleanUp() }
        // `flaky`: its first call fails (the circuit opens), then it hangs on odd inputs and answers even ones.
        let flakyCalls = Locked([Int]())
        let flaky = try await LoopbackHTTPServer.start { request in
            let n = Int(String(decoding: request.body, as: UTF8.self).filter(\.isNumber)) ?? -1
            let count = flakyCalls.withLock { calls in
                calls.append(n)
                return calls.count
            }
            if count == 1 { return .json(500, #"{"error": "warming up"}"#) }
            if n % 2 == 1 { try? await Task.sleep(for: .seconds(60)) }
            return .json(200, #"{"n": \#(n)}"#)
        }
        // `picky`: refuses odd inputs once flaky's call for the same input has reached flaky (the probe is out),
        // answers even ones at once.
        let picky = try await LoopbackHTTPServer.start { request in
            let n = Int(String(decoding: request.body, as: UTF8.self).filter(\.isNumber)) ?? -1
            guard n % 2 == 1 else { return .json(200, #"{"ok": true}"#) }
            _ = await eventually(within: .seconds(30)) { flakyCalls.withLock { $0.contains(n) } }
            return .json(422, #"{"error": "odd"}"#)
        }
        _ = try await produce((0..<6).map { numberInput($0) }, to: "probe", brokers: bed.broker.bootstrapServers)
        func http(_ name: String, _ url: String) throws -> HTTPAlgorithm {
            var configuration = HTTPAlgorithmConfiguration(url: url)
            configuration.name = name
            configuration.timeout = .seconds(90)
            return try HTTPAlgorithm(configuration)
        }
        var harness = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["probe"], group: "probe",
            database: bed.directory.file("probe.db"), url: bed.endpoint.url)
        harness.algorithms = [try http("flaky", flaky.baseURL), try http("picky", picky.baseURL)]
        harness.ordering = .partition
        harness.fanOut.failFast = true
        harness.retry.maxAttempts = 1
        harness.circuitBreaker.failureThreshold = 1
        harness.circuitBreaker.openDuration = .milliseconds(100)
        // Before the fix the probe cancelled at input 1 held the circuit half-open for good: input 2 waited forever.
        _ = try await harness.runUntilIdle(within: .seconds(120))
        // Input 0's picky row is `ok` or, when flaky's 500 came first, cancelled by fail-fast: either way one row.
        #expect(try await sqlite3(harness.database, "SELECT COUNT(*) FROM results") == ["12"])
        #expect(
            try await sqlite3(
                harness.database,
                "SELECT offset, algorithm, status FROM results WHERE offset > 0 OR algorithm = 'flaky' ORDER BY offset, algorithm"
            )
                == [
                    "0|flaky|error", "1|flaky|error", "1|picky|error", "2|flaky|ok", "2|picky|ok",
                    "3|flaky|error", "3|picky|error", "4|flaky|ok", "4|picky|ok", "5|flaky|error", "5|picky|error",
                ])
        // Odd inputs' flaky calls were the probes that fail-fast cancelled; even inputs' probes closed the circuit.
        #expect(
            try await sqlite3(
                harness.database,
                "SELECT COUNT(*) FROM results WHERE algorithm = 'flaky' AND offset % 2 = 1 AND error LIKE 'cancelled: picky failed first%'"
            ) == ["3"])
        #expect(flakyCalls.withLock { $0 } == [0, 1, 2, 3, 4, 5])
        await flaky.stop()
        await picky.stop()
    }
}
