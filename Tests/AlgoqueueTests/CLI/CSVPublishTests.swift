import Foundation
import Testing

@Suite("Publishing CSV")
struct CSVPublishTests {
    @Test(
        "identifiers keep their leading zeros; only JSON-shaped numbers become numbers; a long quoted field is one record"
    )
    func values() async throws {
        let bed = try await TestBed(topic: "csv", partitions: 1)
        defer { bed.cleanUp() }
        let csv = bed.directory.file("inputs.csv")
        // A quoted field running over many lines is one record (its quotes are counted once per line).
        let long = (0..<400).map { "line \($0)" }.joined(separator: "\n")
        try """
        id,n,zip,score,big,note
        007,1,01234,1.50,123456789012345678901234,plain
        -0,2,+5,1e3,0,"\(long)"
        """.write(toFile: csv, atomically: true, encoding: .utf8)
        let publish = try await algoqueue(
            ["publish", "--brokers", bed.broker.bootstrapServers, "--topic", "csv", csv], directory: bed.directory)
        #expect(publish.status == 0, "\(publish.error)")
        #expect(publish.output.contains("published 2 message(s) to csv"))
        let database = bed.directory.file("r.db")
        let run = try await algoqueue(
            runArguments(
                brokers: bed.broker.bootstrapServers, topic: "csv", group: "csv", url: bed.endpoint.url,
                database: database) + ["--until-idle"],
            directory: bed.directory)
        #expect(run.status == 0, "\(run.error.suffix(1500))")
        let rows = try await sqlite3(
            database,
            """
            SELECT json_type(input, '$.id'), input ->> '$.id', json_type(input, '$.n'), input ->> '$.zip',
                   json_type(input, '$.score'), json_type(input, '$.big'), length(input ->> '$.note')
            FROM results ORDER BY offset
            """)
        // 1e3 is the number 1000 (JSON writes it as an integer); +5 is not a JSON number, so it stays text.
        #expect(
            rows == ["text|007|integer|01234|real|text|5", "integer|0|integer|+5|integer|integer|\(long.count)"],
            "\(rows.map { $0.prefix(200) })")
    }

    @Test("a header naming a column twice publishes nothing and says which columns")
    func repeatedHeader() async throws {
        let bed = try await TestBed(topic: "csv", partitions: 1)
        defer { bed.cleanUp() }
        let csv = bed.directory.file("inputs.csv")
        try "id,n,id\n1,2,3\n4,5,6\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let publish = try await algoqueue(
            ["publish", "--brokers", bed.broker.bootstrapServers, "--topic", "csv", csv], directory: bed.directory)
        #expect(publish.status == 65)
        #expect(publish.error.contains(#"line 1: the header names column "id" twice (columns 1 and 3)"#))
        #expect(publish.output.contains("published 0 message(s) to csv"), "\(publish.output)")
    }
}
