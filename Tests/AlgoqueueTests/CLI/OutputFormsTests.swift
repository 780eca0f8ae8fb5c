import AlgoqueueHTTPServer
import Foundation
import Testing

@Suite("What results prints, as a person reads it")
struct OutputFormsTests {
    @Test(
        "JSON keeps slashes as they are, CSV durations stop at the microsecond, a 200 that is not JSON keeps its status"
    )
    func forms() async throws {
        let bed = try await TestBed(topic: "forms", partitions: 1)
        defer { bed.cleanUp() }
        let server = try await LoopbackHTTPServer.start { request in
            if String(decoding: request.body, as: UTF8.self).contains("html") {
                return LoopbackHTTPReply(
                    status: 200, headers: [("Content-Type", "text/html")], body: Array("<html>oops</html>".utf8))
            }
            return .json(200, #"{"model": "models/digits/1"}"#)
        }
        _ = try await produce(
            [Array(#"{"n": 1}"#.utf8), Array(#"{"html": true}"#.utf8)], to: "forms",
            brokers: bed.broker.bootstrapServers)
        let database = bed.directory.file("r.db")
        let run = try await algoqueue(
            runArguments(
                brokers: bed.broker.bootstrapServers, topic: "forms", group: "forms", url: server.baseURL + "/p",
                database: database) + ["--until-idle"],
            directory: bed.directory)
        #expect(run.status == 0, "\(run.error.suffix(1500))")
        // The answer that is not JSON is an error row that still says what the endpoint answered.
        #expect(
            try await sqlite3(database, "SELECT status, http_status FROM results ORDER BY offset") == [
                "ok|200", "error|200",
            ])
        let json = try await algoqueue(
            ["results", "--database", database, "--format", "json"], directory: bed.directory)
        #expect(json.output.contains(#"models/digits/1"#), "\(json.output)")
        #expect(!json.output.contains(#"\/"#), "\(json.output)")
        let csv = try await algoqueue(
            ["results", "--database", database, "--format", "csv", "--limit", "0"], directory: bed.directory)
        let lines = csv.output.split(separator: "\n").map { CSVLine.fields(String($0)) }
        let column = try #require(lines.first?.firstIndex(of: "duration_ms"))
        for line in lines.dropFirst() {
            let duration = line[column]
            #expect(Double(duration) != nil && (duration.split(separator: ".").last?.count ?? 0) <= 3, "\(duration)")
        }
        await server.stop()
    }
}
