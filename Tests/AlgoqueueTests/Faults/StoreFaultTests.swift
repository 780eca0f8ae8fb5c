import AlgoqueueKafka
import Foundation
import Testing

@Suite("Faults: the results store")
struct StoreFaultTests {
    @Test("sqlite3 reading in a loop while the service writes: no busy errors on either side")
    func concurrentReaders() async throws {
        let bed = try await TestBed(topic: "readers", partitions: 2, delay: .milliseconds(5))
        defer { bed.cleanUp() }
        let (directory, broker, endpoint) = (bed.directory, bed.broker, bed.endpoint)
        _ = try await produce((0..<1000).map { numberInput($0) }, to: "readers", brokers: broker.bootstrapServers)
        let database = directory.file("results.db")
        _ = try await algoqueue(["migrate", "--database", database], directory: directory)
        let service = try RunningProgram(
            try algoqueueBinary(),
            runArguments(
                brokers: broker.bootstrapServers, topic: "readers", group: "readers", url: endpoint.url,
                database: database)
                + ["--until-idle"], directory: directory, name: "service")
        var reads = 0
        var readsWhileWriting = 0
        var failures: [String] = []
        var counts: [Int] = []
        while service.isRunning, reads < 5000 {
            let result = try await runProgram(
                "/usr/bin/sqlite3", [database, "SELECT COUNT(*) FROM results; SELECT COUNT(*) FROM errors;"])
            reads += 1
            if result.status != 0 || !result.error.isEmpty { failures.append(result.error) }
            if let count = Int(result.output.split(separator: "\n").first ?? "") {
                counts.append(count)
                if count > 0, count < 1000 { readsWhileWriting += 1 }
            }
        }
        let status = await service.exitStatus(within: .seconds(60))
        #expect(status == 0, "the service failed: \(service.errorOutput)")
        #expect(failures.isEmpty, "sqlite3 failed: \(failures.prefix(3))")
        #expect(readsWhileWriting > 0, "no read happened while rows were being written (\(reads) reads)")
        #expect(counts == counts.sorted(), "a reader saw rows disappear")
        #expect(try await sqlite3(database, "SELECT COUNT(*) FROM results") == ["1000"])
        await endpoint.stop()
    }

    @Test(
        "the store fills up mid-run: the service stops, exits 1 saying what to fix, commits nothing past durable rows, and resumes after the fix"
    )
    func storeFull() async throws {
        let bed = try await TestBed(topic: "full", partitions: 2)
        defer { bed.cleanUp() }
        let (directory, broker, endpoint) = (bed.directory, bed.broker, bed.endpoint)
        let padding = String(repeating: "x", count: 400)
        _ = try await produce(
            (0..<400).map { Array(#"{"n": \#($0), "pad": "\#(padding)"}"#.utf8) }, to: "full",
            brokers: broker.bootstrapServers)
        let database = directory.file("results.db")
        let config = directory.file("algoqueue.yaml")
        try "store:\n  max_size: 131072\n".write(toFile: config, atomically: true, encoding: .utf8)
        let arguments = runArguments(
            brokers: broker.bootstrapServers, topic: "full", group: "full", url: endpoint.url, database: database)
        let first = try await algoqueue(arguments + ["--config", config, "--until-idle"], directory: directory)
        #expect(first.status == 1)
        #expect(
            first.error.contains(
                "store.max_size (131072 bytes) or the disk is full: free space or raise store.max_size"))
        #expect(first.error.contains("a restart resumes without losing anything"))
        let rows = Int(try await sqlite3(database, "SELECT COUNT(*) FROM results").first ?? "") ?? -1
        #expect(rows > 0 && rows < 400, "expected a partial run, got \(rows) rows")
        // Every stored offset is covered by rows: nothing was committed past the durable rows.
        #expect(
            try await sqlite3(
                database,
                "SELECT COUNT(*) FROM consumer_offsets o WHERE (SELECT COUNT(*) FROM results r WHERE r.partition = o.partition AND r.offset < o.next_offset) != o.next_offset"
            ) == ["0"])

        try "store:\n  max_size: 0\n".write(toFile: config, atomically: true, encoding: .utf8)
        let second = try await algoqueue(arguments + ["--config", config, "--until-idle"], directory: directory)
        #expect(second.status == 0, "first run:\n\(first.error.suffix(1500))\nsecond run:\n\(second.error)")
        #expect(
            try await sqlite3(
                database, "SELECT COUNT(*), COUNT(DISTINCT json_extract(input, '$.n')), SUM(status = 'ok') FROM results"
            ) == ["400|400|400"])
        await endpoint.stop()
    }
}
