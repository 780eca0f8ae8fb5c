import AlgoqueueAlgorithms
import AlgoqueueConfig
import AlgoqueueHTTPServer
import AlgoqueueKafka
import AlgoqueuePipeline
import AlgoqueueSupport
import Foundation
import Testing

@Suite("Algorithmia-style API target")
struct AlgorithmiaTests {
    static let key = "simKEY-0123456789abcdef"

    /// An API on loopback: `/v1/algo/demo/Score/1.2.0` needs `Authorization: Simple KEY`. JSON `{"n": k}` gives
    /// `{"result": {"score": 2k}, "metadata": {...}}`; `{"fail": true}` a 400 error envelope; `{"leak": true}`
    /// an error echoing the authorization; text and bytes answer with their content type and size.
    static func api(requests: Locked<[String]>) async throws -> LoopbackHTTPServer {
        try await LoopbackHTTPServer.start { request in
            requests.withLock { $0.append("\(request.uri) \(request.header("Content-Type") ?? "")") }
            guard request.header("Authorization") == "Simple \(key)" else {
                return .json(401, #"{"error": {"message": "authorization required"}}"#)
            }
            guard request.uri.hasPrefix("/v1/algo/demo/Score/1.2.0?timeout=") else {
                return .json(404, #"{"error": {"message": "algorithm not found"}}"#)
            }
            let type = request.header("Content-Type") ?? ""
            if !type.hasPrefix("application/json") {
                let kind = type.hasPrefix("text/plain") ? "text" : "binary"
                return .json(
                    200,
                    #"{"result": {"kind": "\#(kind)", "bytes": \#(request.body.count)}, "metadata": {"content_type": "json"}}"#
                )
            }
            let object = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
            if object["fail"] as? Bool == true {
                return .json(400, #"{"error": {"message": "model cannot score this input", "stacktrace": "..."}}"#)
            }
            if object["leak"] as? Bool == true {
                return .json(400, #"{"error": {"message": "bad header \#(request.header("Authorization") ?? "")"}}"#)
            }
            let n = object["n"] as? Int ?? 0
            return .json(
                200, #"{"result": {"score": \#(n * 2)}, "metadata": {"content_type": "json", "duration": 0.01}}"#)
        }
    }

    @Test(
        "the envelope becomes ok rows (result, metadata) or error rows (its message); text and bytes keep their types")
    func envelope() async throws {
        let bed = try await TestBed(topic: "algo", partitions: 1)
        defer { bed.cleanUp() }
        let requests = Locked([String]())
        let api = try await Self.api(requests: requests)
        let json = [numberInput(4), Array(#"{"fail": true}"#.utf8), Array(#"{"leak": true}"#.utf8)]
        _ = try await produce(json, to: "algo", brokers: bed.broker.bootstrapServers)
        var configuration = KafkaProducerConfiguration()
        configuration.brokers = [bed.broker.bootstrapServers]
        let producer = try KafkaProducer(configuration: configuration, logger: testLogger())
        _ = try await producer.send(
            KafkaRecord(
                topic: "algo", value: Array("plain words".utf8),
                headers: [KafkaHeader(name: "content-type", string: "text/plain")]))
        _ = try await producer.send(
            KafkaRecord(
                topic: "algo", value: [0xFF, 0x00, 0x10],
                headers: [KafkaHeader(name: "content-type", string: "application/octet-stream")]))
        await producer.close()

        var algorithmia = AlgorithmiaConfiguration(algorithm: "demo/Score/1.2.0")
        algorithmia.baseURL = api.baseURL
        algorithmia.apiKey = Self.key
        algorithmia.timeout = .seconds(90)
        var harness = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["algo"], group: "g", database: bed.directory.file("r.db"),
            url: bed.endpoint.url)
        harness.algorithms = [try AlgorithmiaAlgorithm(algorithmia)]
        _ = try await harness.runUntilIdle()
        let rows = try await sqlite3(
            harness.database,
            "SELECT offset, algorithm, algorithm_version, status, output, metadata, error FROM results ORDER BY offset")
        #expect(rows.count == 5)
        #expect(rows[0] == #"0|demo/Score/1.2.0|1.2.0|ok|{"score": 8}|{"content_type": "json", "duration": 0.01}|"#)
        #expect(
            rows[1]
                == "1|demo/Score/1.2.0|1.2.0|error|||demo/Score/1.2.0 reported an error: model cannot score this input")
        #expect(rows[2].hasSuffix("reported an error: bad header [redacted]"))
        #expect(rows[3].hasPrefix(#"3|demo/Score/1.2.0|1.2.0|ok|{"kind": "text", "bytes": 11}"#))
        #expect(rows[4].hasPrefix(#"4|demo/Score/1.2.0|1.2.0|ok|{"kind": "binary", "bytes": 3}"#))
        // The timeout travels as a query parameter, in whole seconds; each input with its own content type.
        let seen = requests.withLock { $0 }
        #expect(seen.allSatisfy { $0.hasPrefix("/v1/algo/demo/Score/1.2.0?timeout=90 ") })
        #expect(
            seen.contains { $0.hasSuffix("text/plain; charset=utf-8") }
                && seen.contains { $0.hasSuffix("application/octet-stream") })
        // The key is nowhere in the store.
        let dump = try await runProgram("/usr/bin/sqlite3", [harness.database, ".dump"]).output
        #expect(!dump.contains(Self.key) && dump.contains("[redacted]"))
        await api.stop()
    }

    @Test("the API key comes from the environment or a key file, never from the configuration file")
    func apiKey() throws {
        let yaml = """
            kafka: {topics: [t]}
            algorithm: {kind: algorithmia, algo: demo/Score/1.2.0, api_key: "\(Self.key)"}
            """
        let (settings, problems) = ConfigFile.parse(yaml)
        #expect(problems.map(\.key) == ["algorithm.api_key"])
        #expect(problems.first?.message.contains("never read from the configuration file") == true)
        #expect(!problems.description.contains(Self.key))
        #expect(settings.problems(environment: [:]).map(\.key) == ["algorithm.api_key_env"])
        #expect(settings.problems(environment: ["ALGORITHMIA_API_KEY": Self.key]).isEmpty)
        #expect(settings.algorithm.apiKey(environment: ["ALGORITHMIA_API_KEY": Self.key]) == Self.key)
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        try "\(Self.key)\n".write(toFile: directory.file("key"), atomically: true, encoding: .utf8)
        var fromFile = settings
        fromFile.algorithm.apiKeyFile = directory.file("key")
        #expect(fromFile.problems(environment: [:]).isEmpty)
        #expect(fromFile.algorithm.apiKey(environment: [:]) == Self.key)
        var badPath = settings
        badPath.algorithm.algo = "just-a-name"
        #expect(badPath.problems(environment: ["ALGORITHMIA_API_KEY": "k"]).map(\.key) == ["algorithm.algo"])
    }
}
