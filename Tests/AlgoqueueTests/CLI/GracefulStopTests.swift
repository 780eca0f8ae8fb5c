import AlgoqueueKafka
import Foundation
import Testing

@Suite("The service binary: stop and restart")
struct GracefulStopTests {
    @Test("SIGTERM mid-run finishes and writes every call in flight; a restart completes the rest, one row per input")
    func sigtermAndRestart() async throws {
        let bed = try await TestBed(topic: "stop", partitions: 2, delay: .milliseconds(25))
        defer { bed.cleanUp() }
        let (directory, broker, endpoint) = (bed.directory, bed.broker, bed.endpoint)
        _ = try await produce((0..<200).map { numberInput($0) }, to: "stop", brokers: broker.bootstrapServers)
        let database = directory.file("results.db")
        let arguments = [
            "run", "--brokers", broker.bootstrapServers, "--topic", "stop", "--group", "stop", "--url", endpoint.url,
            "--database", database, "--concurrency", "4",
        ]
        let service = try RunningProgram(try algoqueueBinary(), arguments, directory: directory, name: "first")
        let started = await eventually(within: .seconds(60)) { endpoint.callCount >= 40 }
        #expect(started, "the service made no calls: \(service.errorOutput)")
        service.signal(SIGTERM)
        let status = await service.exitStatus(within: .seconds(30))
        #expect(status == 0, "exit status \(String(describing: status)): \(service.errorOutput)")
        let callsBeforeStop = endpoint.callCount
        let rows = Int(try await sqlite3(database, "SELECT COUNT(*) FROM results").first ?? "") ?? -1
        // Every call that started was finished and written before exit; the run was stopped mid-way.
        #expect(rows == callsBeforeStop)
        #expect(rows < 200)

        let restart = try await algoqueue(arguments + ["--until-idle"], directory: directory)
        #expect(restart.status == 0, "restart failed: \(restart.error)")
        #expect(restart.output.contains("consumed \(200 - rows) message(s)"))
        #expect(
            try await sqlite3(
                database, "SELECT COUNT(*), COUNT(DISTINCT offset || '/' || partition), SUM(status = 'ok') FROM results"
            ) == ["200|200|200"])
        #expect(
            try await sqlite3(database, "SELECT COUNT(DISTINCT json_extract(input, '$.n')) FROM results") == ["200"])
        // A clean stop commits everything it wrote: nothing was called twice.
        #expect(endpoint.callCount == 200)
        await endpoint.stop()
    }
}
