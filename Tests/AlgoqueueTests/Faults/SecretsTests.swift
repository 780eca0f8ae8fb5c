import AlgoqueueDemo
import AlgoqueueHTTPServer
import AlgoqueueKafka
import Foundation
import Testing

@Suite("Secrets stay secret")
struct SecretsTests {
    @Test("API keys and SASL passwords reach no log line, error row or database file")
    func secrets() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        try broker.createTopic("secret", partitions: 1)
        // An endpoint that echoes the credentials it was sent, as careless ones do.
        let server = try await LoopbackHTTPServer.start { request in
            .json(401, #"{"error": "bad credentials: \#(request.header("Authorization") ?? "")"}"#)
        }
        _ = try await produce([numberInput(1), numberInput(2)], to: "secret", brokers: broker.bootstrapServers)
        let apiKey = "TOPSECRET-abc123"
        let password = "PASSWORD-xyz789"
        let database = directory.file("results.db")
        let run = try await algoqueue(
            [
                "run", "--brokers", broker.bootstrapServers, "--topic", "secret", "--group", "secret", "--url",
                server.baseURL + "/predict?api_key=\(apiKey)", "--header", "Authorization: Bearer \(apiKey)",
                "--kafka-property", "sasl.password=\(password)", "--kafka-property", "debug=conf,security,generic",
                "--database", database, "--log-level", "trace", "--until-idle",
            ], directory: directory)
        #expect(run.status == 0, "\(run.error.suffix(2000))")
        #expect(run.error.contains("rdkafka"), "librdkafka's debug lines should be in the log")
        #expect(!run.error.contains(apiKey))
        #expect(!run.error.contains(password))
        #expect(!run.output.contains(apiKey))
        let errors = try await sqlite3(database, "SELECT error FROM results")
        #expect(errors.count == 2)
        #expect(errors.allSatisfy { $0.contains("HTTP 401") && $0.contains("bad credentials: [redacted]") })
        let dump = try await runProgram("/usr/bin/sqlite3", [database, ".dump"])
        #expect(!dump.output.contains(apiKey))
        #expect(!dump.output.contains(password))
        await server.stop()
    }
}
