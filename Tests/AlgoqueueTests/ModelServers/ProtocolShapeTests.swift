import AlgoqueueAlgorithms
import AlgoqueueHTTPServer
import AlgoqueuePipeline
import AlgoqueueSupport
import Foundation
import Testing

/// The OpenAI-compatible protocols and the request template, against loopback servers that answer in the
/// documented formats and check what they are sent.
@Suite("OpenAI-compatible and templated protocols")
struct ProtocolShapeTests {
    static func algorithm(
        _ url: String, _ modelProtocol: ModelProtocol, _ edit: (inout ModelProtocolSettings) -> Void = { _ in }
    )
        throws -> HTTPAlgorithm
    {
        var configuration = HTTPAlgorithmConfiguration(url: url)
        configuration.modelProtocol = modelProtocol
        edit(&configuration.protocolSettings)
        return try HTTPAlgorithm(configuration)
    }

    static func object(_ body: [UInt8]?) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body ?? []))) as? [String: Any] ?? [:]
    }

    @Test("openai-embeddings: one request carries the batch's texts; each input gets its embedding, matched by index")
    func embeddings() async throws {
        let seen = Locked([[UInt8]]())
        // Answers in the documented format, in reverse index order: [length, number of spaces] per text.
        let server = try await LoopbackHTTPServer.start { request in
            let body = Self.object(request.body)
            seen.withLock { $0.append(request.body) }
            let texts = body["input"] as? [String] ?? []
            let data = texts.enumerated().reversed().map { index, text in
                #"{"object": "embedding", "index": \#(index), "embedding": [\#(text.count), \#(text.filter { $0 == " " }.count)]}"#
            }
            return .json(
                200,
                #"{"object": "list", "model": "mini", "data": [\#(data.joined(separator: ","))], "usage": {"prompt_tokens": 9, "total_tokens": 9}}"#
            )
        }
        let http = try Self.algorithm(server.baseURL + "/v1/embeddings", .openAIEmbeddings) { $0.model = "mini" }
        var batch = AlgorithmInput(json: Array(#"["a cat", {"text": "two dogs here", "id": 7}]"#.utf8))
        batch.itemIDs = ["t/0/0", "t/0/1"]
        #expect(
            await http.call(batch)
                == .success(
                    AlgorithmAnswer(
                        output: "[[5, 1],[13, 2]]", metadata: #"{"usage":{"prompt_tokens": 9, "total_tokens": 9}}"#,
                        statusCode: 200)))
        let request = Self.object(seen.withLock { $0.first })
        #expect(request["model"] as? String == "mini")
        #expect(request["input"] as? [String] == ["a cat", "two dogs here"])
        // An input that has no text is the input's problem: refused before any call.
        if case .failure(let failure) = await http.call(AlgorithmInput(json: Array(#"{"words": 3}"#.utf8))) {
            #expect(failure.kind == .invalidRequest)
            #expect(failure.message.contains(#"expected a string, or an object whose "text" is a string"#))
        } else {
            Issue.record("an input without text must fail")
        }
        #expect(seen.withLock { $0.count } == 1)
        await http.shutdown()
        await server.stop()
    }

    @Test("openai-chat: a string is one user message, parameters are added, the reply's text is the output")
    func chat() async throws {
        let seen = Locked([[UInt8]]())
        let server = try await LoopbackHTTPServer.start { request in
            let body = Self.object(request.body)
            seen.withLock { $0.append(request.body) }
            let messages = body["messages"] as? [[String: Any]] ?? []
            let last = messages.last?["content"] as? String ?? ""
            return .json(
                200,
                #"{"id": "c1", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "echo: \#(last)"}, "finish_reason": "stop"}], "usage": {"total_tokens": 12}}"#
            )
        }
        let http = try Self.algorithm(server.baseURL + "/v1/chat/completions", .openAIChat) {
            $0.model = "tiny"
            $0.parameters = ["temperature": "0", "max_tokens": "16", "stop": "END"]
        }
        #expect(
            await http.call(AlgorithmInput(json: Array(#""Is it raining?""#.utf8)))
                == .success(
                    AlgorithmAnswer(
                        output: #""echo: Is it raining?""#,
                        metadata: #"{"finish_reason":"stop","usage":{"total_tokens": 12}}"#, statusCode: 200)))
        let first = Self.object(seen.withLock { $0.first })
        #expect(first["model"] as? String == "tiny")
        #expect(first["temperature"] as? Int == 0)
        #expect(first["max_tokens"] as? Int == 16)
        #expect(first["stop"] as? String == "END")
        #expect((first["messages"] as? [[String: String]]) == [["role": "user", "content": "Is it raining?"]])
        // An object with messages goes as it is (its own temperature wins over the configured one).
        let conversation =
            #"{"messages": [{"role": "system", "content": "terse"}, {"role": "user", "content": "hi"}], "temperature": 1}"#
        #expect(try await http.call(AlgorithmInput(json: Array(conversation.utf8))).get().output == #""echo: hi""#)
        let second = Self.object(seen.withLock { $0.last })
        #expect((second["messages"] as? [Any])?.count == 2)
        #expect(second["temperature"] as? Int == 1)
        await http.shutdown()
        await server.stop()
    }

    @Test("template: the input goes where the template says, the output comes from the pointer; lists for batches")
    func template() async throws {
        let server = try await LoopbackHTTPServer.start { request in
            let body = Self.object(request.body)
            if let rows = (body["payload"] as? [String: Any])?["rows"] as? [[String: Int]] {
                let results = rows.map { #"{"y": \#(($0["x"] ?? 0) * 10)}"# }
                return .json(200, #"{"result": {"items": [\#(results.joined(separator: ","))]}}"#)
            }
            let x = ((body["payload"] as? [String: Any])?["row"] as? [String: Int])?["x"] ?? -1
            return .json(200, #"{"result": {"y": \#(x * 10)}}"#)
        }
        let single = try Self.algorithm(server.baseURL + "/score", .template) {
            $0.requestTemplate = #"{"payload": {"row": "{{input}}", "version": 2}}"#
            $0.responsePointer = "/result/y"
        }
        #expect(try await single.call(AlgorithmInput(json: Array(#"{"x": 4}"#.utf8))).get().output == "40")
        let listed = try Self.algorithm(server.baseURL + "/score", .template) {
            $0.requestTemplate = #"{"payload": {"rows": "{{inputs}}"}}"#
            $0.responsePointer = "/result/items"
        }
        var batch = AlgorithmInput(json: Array(#"[{"x": 1},{"x": 2},{"x": 3}]"#.utf8))
        batch.itemIDs = ["a", "b", "c"]
        #expect(try await listed.call(batch).get().output == #"[{"y": 10},{"y": 20},{"y": 30}]"#)
        // A pointer that finds nothing is the endpoint's contract: named, with what came.
        let lost = try Self.algorithm(server.baseURL + "/score", .template) {
            $0.requestTemplate = #"{"payload": {"row": "{{input}}"}}"#
            $0.responsePointer = "/answer"
        }
        if case .failure(let failure) = await lost.call(AlgorithmInput(json: Array(#"{"x": 4}"#.utf8))) {
            #expect(failure.kind == .contract)
            #expect(
                failure.message.contains(
                    #"expected a value at /answer in the answer, got a JSON object: {"result": {"y": 40}}"#))
        } else {
            Issue.record("a pointer to nothing must fail")
        }
        // A template without a place for the input, or not JSON, is refused up front.
        var configuration = HTTPAlgorithmConfiguration(url: server.baseURL)
        configuration.modelProtocol = .template
        configuration.protocolSettings.requestTemplate = #"{"payload": 1}"#
        #expect(configuration.problems().map(\.field) == ["request_template"])
        configuration.protocolSettings.requestTemplate = #"{"payload": "{{input}}""#
        #expect(configuration.problems().map(\.field) == ["request_template"])
        for http in [single, listed, lost] { await http.shutdown() }
        await server.stop()
    }

    @Test(
        "kserve-v1 against an endpoint of another shape: a contract failure naming both, no bisection, the circuit counts it"
    )
    func wrongShape() async throws {
        let bed = try await TestBed(topic: "shape", partitions: 1)
        defer { bed.cleanUp() }
        let calls = Locked(0)
        let server = try await LoopbackHTTPServer.start { _ in
            calls.withLock { $0 += 1 }
            return .json(200, #"{"scores": [1, 2, 3]}"#)
        }
        _ = try await produce((0..<32).map { numberInput($0) }, to: "shape", brokers: bed.broker.bootstrapServers)
        var harness = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["shape"], group: "shape",
            database: bed.directory.file("r.db"), url: server.baseURL)
        harness.algorithms = [try Self.algorithm(server.baseURL + "/predict", .kserveV1)]
        harness.batch.maxItems = 32
        harness.batch.linger = .milliseconds(200)
        harness.circuitBreaker.failureThreshold = 100
        _ = try await harness.runUntilIdle()
        #expect(
            try await sqlite3(harness.database, "SELECT status, COUNT(*) FROM results GROUP BY status") == ["error|32"])
        let error = try await sqlite3(harness.database, "SELECT error FROM results LIMIT 1").first ?? ""
        #expect(error.contains(#"does not fit protocol kserve-v1: expected {"predictions": [...]}"#), "\(error)")
        #expect(error.contains(#"got a JSON object: {"scores": [1, 2, 3]}"#), "\(error)")
        // Each micro-batch cost two calls (itself and one input alone), not a bisection: far fewer than 63 for 32.
        #expect(calls.withLock { $0 } <= 8, "\(calls.withLock { $0 }) calls")
        await server.stop()
    }

    @Test("open-inference: a metadata read that fails is asked again on the next call, not kept as the model's")
    func metadataRetried() async throws {
        let metadataReads = Locked(0)
        let tensorNames = Locked([String]())
        let server = try await LoopbackHTTPServer.start { request in
            if request.method == "GET" {
                if request.uri.hasSuffix("/ready") { return .json(200, "{}") }
                let reads = metadataReads.withLock { reads in
                    reads += 1
                    return reads
                }
                if reads == 1 { return .json(503, #"{"error": "loading"}"#) }
                return .json(
                    200, #"{"name": "m", "inputs": [{"name": "pixels", "datatype": "FP32", "shape": [-1, 2]}]}"#)
            }
            let inputs = Self.object(request.body)["inputs"] as? [[String: Any]] ?? []
            tensorNames.withLock { $0.append(contentsOf: inputs.compactMap { $0["name"] as? String }) }
            return .json(200, #"{"outputs": [{"name": "y", "shape": [1], "datatype": "FP32", "data": [0.5]}]}"#)
        }
        let http = try Self.algorithm(server.baseURL + "/v2/models/m/infer", .openInference)
        for _ in 0..<3 {
            #expect(try await http.call(AlgorithmInput(json: Array("[1, 2]".utf8))).get().output == #"{"y":0.5}"#)
        }
        // The first call had no metadata (503) and used the default name; the second read it; the third kept it.
        #expect(tensorNames.withLock { $0 } == ["input-0", "pixels", "pixels"])
        #expect(metadataReads.withLock { $0 } == 2)
        await http.shutdown()
        await server.stop()
    }

    @Test("open-inference: the model check names the model's URL without its credentials or query")
    func metadataMessage() async throws {
        let closed = try ClosedPort()
        defer { closed.close() }
        let http = try Self.algorithm(
            "http://user:secret@127.0.0.1:\(closed.port)/v2/models/m/infer?token=hidden", .openInference)
        guard case .failure(let error) = await http.modelMetadata() else {
            Issue.record("nothing listens: the metadata read must fail")
            return
        }
        #expect(
            error.message.contains("the model at http://127.0.0.1:\(closed.port)/v2/models/m did not answer"),
            "\(error)")
        #expect(!error.message.contains("secret") && !error.message.contains("hidden"), "\(error)")
        await http.shutdown()
    }
}
