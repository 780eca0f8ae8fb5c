import Foundation
import Testing

@Suite("Stopping in the middle of a rebalance")
struct StopDuringRebalanceTests {
    /// One instance of `algoqueue run` in the group `churn`.
    static func instance(_ bed: TestBed, config: String, _ name: String) throws -> RunningProgram {
        try RunningProgram(try algoqueueBinary(), ["run", "--config", config], directory: bed.directory, name: name)
    }

    @Test(
        "members join while others get SIGTERM: every stop exits 0 without librdkafka's close abort, and every input has one row",
        .timeLimit(.minutes(5)))
    func churn() async throws {
        let bed = try await TestBed(topic: "churn", partitions: 6, delay: .milliseconds(20))
        defer { bed.cleanUp() }
        let inputs = 600
        _ = try await produce((0..<inputs).map { numberInput($0) }, to: "churn", brokers: bed.broker.bootstrapServers)
        let database = bed.directory.file("results.db")
        let config = bed.directory.file("churn.yaml")
        try """
        kafka: {brokers: [\(bed.broker.bootstrapServers)], group: churn, topics: [churn], session_timeout: 6s}
        algorithm: {url: "\(bed.endpoint.url)", name: doubler}
        store: {path: "\(database)"}
        pipeline: {concurrency: 4}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        var running = [
            try Self.instance(bed, config: config, "member-0"), try Self.instance(bed, config: config, "member-1"),
        ]
        var all = running
        defer { for program in all { program.signal(SIGKILL) } }
        #expect(await eventually(within: .seconds(60)) { running.allSatisfy { $0.errorOutput.contains("assigned") } })
        var stops = 0
        for round in 2..<8 {
            // A member joins: the group starts rebalancing. The oldest member is stopped while that goes on: after
            // the newcomer has asked to join (it has started), before or while the partitions move.
            let joining = try Self.instance(bed, config: config, "member-\(round)")
            all.append(joining)
            #expect(await eventually(within: .seconds(60)) { joining.errorOutput.contains("consuming") })
            let leaving = running.removeFirst()
            leaving.signal(SIGTERM)
            #expect(await expectCleanStop(leaving, within: .seconds(60)), "round \(round)")
            stops += 1
            running.append(joining)
        }
        for program in running { program.signal(SIGTERM) }
        for program in running {
            #expect(await expectCleanStop(program, within: .seconds(60)))
            stops += 1
        }
        #expect(stops == 8)
        // What the churn left is consumed by one more run; then every input has exactly one row.
        let rest = try await algoqueue(["run", "--config", config, "--until-idle"], directory: bed.directory)
        #expect(rest.status == 0, "\(rest.error.suffix(1500))")
        #expect(
            try await sqlite3(
                database,
                "SELECT COUNT(*), COUNT(DISTINCT partition || '/' || offset), SUM(status = 'ok') FROM results")
                == ["\(inputs)|\(inputs)|\(inputs)"])
    }
}
