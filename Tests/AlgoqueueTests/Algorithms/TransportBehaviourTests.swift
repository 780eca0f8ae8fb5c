import AlgoqueueAlgorithms
import AlgoqueueHTTPServer
import AlgoqueuePipeline
import AlgoqueueSupport
import Foundation
import Testing

/// The same behaviour from both transports: `http://` goes through algoqueue's own pool, `https://` through
/// AsyncHTTPClient (with a CA file made at test time). Every test runs once per scheme, and the failures must read
/// alike but for the scheme.
@Suite("One behaviour over http:// and https://")
struct TransportBehaviourTests {
    enum Scheme: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case http, https
        var testDescription: String { rawValue }
    }

    static func endpoint(
        _ scheme: Scheme, clientCertificates: Bool = false, handler: @escaping LoopbackHTTPServer.Handler
    ) async throws -> LoopbackHTTPServer {
        let tls =
            scheme == .https ? try await TLSMaterial.shared.value.server(clientCertificates: clientCertificates) : nil
        return try await LoopbackHTTPServer.start(tls: tls, handler: handler)
    }

    static func algorithm(
        _ scheme: Scheme, _ url: String, timeout: Duration = .seconds(20), clientCertificate: Bool = false
    ) async throws -> HTTPAlgorithm {
        var configuration = HTTPAlgorithmConfiguration(url: url)
        configuration.timeout = timeout
        if scheme == .https {
            let material = try await TLSMaterial.shared.value
            configuration.tlsCAFile = material.caFile
            if clientCertificate {
                configuration.tlsCertificateFile = material.clientCertificateFile
                configuration.tlsKeyFile = material.clientKeyFile
            }
        }
        return try HTTPAlgorithm(configuration)
    }

    /// Answers `{"n": k}` with `{"doubled": 2k}`, and a list of such with a list.
    static let doubler: LoopbackHTTPServer.Handler = { request in
        func doubled(_ item: Any?) -> String { #"{"doubled": \#(((item as? [String: Any])?["n"] as? Int ?? 0) * 2)}"# }
        let value = try? JSONSerialization.jsonObject(with: Data(request.body))
        if let list = value as? [Any] { return .json(200, "[" + list.map(doubled).joined(separator: ",") + "]") }
        return .json(200, doubled(value))
    }

    @Test("a 2xx JSON answer is the output, one input or a list of them", arguments: Scheme.allCases)
    func success(scheme: Scheme) async throws {
        let server = try await Self.endpoint(scheme, handler: Self.doubler)
        #expect(server.baseURL.hasPrefix("\(scheme)://"))
        let http = try await Self.algorithm(scheme, server.baseURL + "/predict")
        #expect(
            await http.call(AlgorithmInput(json: numberInput(21)))
                == .success(AlgorithmAnswer(output: #"{"doubled": 42}"#, statusCode: 200)))
        #expect(
            await http.call(AlgorithmInput(json: Array(#"[{"n": 1}, {"n": 2}]"#.utf8)))
                == .success(AlgorithmAnswer(output: #"[{"doubled": 2},{"doubled": 4}]"#, statusCode: 200)))
        await http.shutdown()
        await server.stop()
    }

    @Test(
        "micro-batches through the pipeline: lists of at most batch.max_items, every input its own row",
        arguments: Scheme.allCases)
    func microBatches(scheme: Scheme) async throws {
        let bed = try await TestBed(topic: "lists", partitions: 2)
        defer { bed.cleanUp() }
        let sizes = Locked([Int]())
        let server = try await Self.endpoint(scheme) { request in
            if let list = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [Any] {
                sizes.withLock { $0.append(list.count) }
            }
            return await Self.doubler(request)
        }
        _ = try await produce((0..<40).map { numberInput($0) }, to: "lists", brokers: bed.broker.bootstrapServers)
        var harness = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["lists"], group: "lists",
            database: bed.directory.file("r.db"), url: server.baseURL)
        harness.algorithms = [try await Self.algorithm(scheme, server.baseURL + "/batch")]
        harness.batch.maxItems = 10
        harness.batch.linger = .milliseconds(50)
        _ = try await harness.runUntilIdle()
        #expect(
            try await sqlite3(
                harness.database,
                "SELECT COUNT(*), SUM(status = 'ok'), SUM(output ->> '$.doubled' = 2 * (input ->> '$.n')) FROM results")
                == ["40|40|40"])
        let sent = sizes.withLock { $0 }
        #expect(sent.reduce(0, +) == 40)
        #expect(sent.allSatisfy { $0 <= 10 } && sent.contains { $0 > 1 }, "\(sent)")
        await server.stop()
    }

    @Test("a refused connection is a transport failure that says nobody listens", arguments: Scheme.allCases)
    func refused(scheme: Scheme) async throws {
        let closed = try ClosedPort()
        defer { closed.close() }
        let url = "\(scheme)://127.0.0.1:\(closed.port)/predict"
        let http = try await Self.algorithm(scheme, url)
        #expect(
            await http.call(AlgorithmInput(json: numberInput(1)))
                == .failure(
                    AlgorithmFailure(
                        .transport, "could not connect to \(url): connection refused (is the endpoint running?)")))
        await http.shutdown()
    }

    @Test("no answer within the timeout is a timeout failure", arguments: Scheme.allCases)
    func timeout(scheme: Scheme) async throws {
        let server = try await Self.endpoint(scheme) { _ in
            try? await Task.sleep(for: .seconds(30))
            return .json(200, "{}")
        }
        let http = try await Self.algorithm(scheme, server.baseURL + "/predict", timeout: .milliseconds(500))
        #expect(
            await http.call(AlgorithmInput(json: numberInput(1)))
                == .failure(
                    AlgorithmFailure(.timeout, "no answer from \(server.baseURL)/predict within 500ms (timeout)")))
        await http.shutdown()
        await server.stop()
    }

    @Test("a 429 with Retry-After carries its status, body and the pause asked for", arguments: Scheme.allCases)
    func retryAfter(scheme: Scheme) async throws {
        let server = try await Self.endpoint(scheme) { _ in
            LoopbackHTTPReply(
                status: 429, headers: [("Retry-After", "7"), ("Content-Type", "application/json")],
                body: Array(#"{"error": "slow down"}"#.utf8))
        }
        let http = try await Self.algorithm(scheme, server.baseURL + "/predict")
        #expect(
            await http.call(AlgorithmInput(json: numberInput(1)))
                == .failure(
                    AlgorithmFailure(
                        .status, #"HTTP 429 Too Many Requests from \#(server.baseURL)/predict: {"error": "slow down"}"#,
                        statusCode: 429, retryAfter: .seconds(7))))
        await http.shutdown()
        await server.stop()
    }

    @Test(
        "a call cancelled in flight (a stop's deadline) ends at once as cancelled", .timeLimit(.minutes(1)),
        arguments: Scheme.allCases)
    func cancelled(scheme: Scheme) async throws {
        let started = Locked(0)
        let server = try await Self.endpoint(scheme) { _ in
            started.withLock { $0 += 1 }
            try? await Task.sleep(for: .seconds(600))
            return .json(200, "{}")
        }
        let http = try await Self.algorithm(scheme, server.baseURL + "/predict", timeout: .seconds(900))
        let call = Task { await http.call(AlgorithmInput(json: numberInput(1))) }
        #expect(await eventually(within: .seconds(30)) { started.withLock { $0 } == 1 })
        call.cancel()
        // Without the cancellation the call would wait out the endpoint's 10 minutes, past the test's time limit.
        #expect(
            await call.value
                == .failure(AlgorithmFailure(.cancelled, "call to \(server.baseURL)/predict was cancelled")))
        await http.shutdown()
        await server.stop()
    }

    @Test("mutual TLS: an endpoint that asks for a client certificate answers only a client that has one")
    func mutualTLS() async throws {
        let server = try await Self.endpoint(.https, clientCertificates: true, handler: Self.doubler)
        let anonymous = try await Self.algorithm(.https, server.baseURL + "/predict")
        if case .failure(let failure) = await anonymous.call(AlgorithmInput(json: numberInput(1))) {
            #expect(failure.kind == .transport)
        } else {
            Issue.record("a client without a certificate must be refused")
        }
        let identified = try await Self.algorithm(.https, server.baseURL + "/predict", clientCertificate: true)
        #expect(
            await identified.call(AlgorithmInput(json: numberInput(4)))
                == .success(AlgorithmAnswer(output: #"{"doubled": 8}"#, statusCode: 200)))
        await anonymous.shutdown()
        await identified.shutdown()
        await server.stop()
    }

    @Test("TLS files are checked up front: missing, half a client pair, or given for an http:// URL")
    func tlsProblems() async throws {
        var configuration = HTTPAlgorithmConfiguration(url: "https://127.0.0.1:1/predict")
        configuration.tlsCAFile = "/nonexistent/ca.pem"
        #expect(configuration.problems().map(\.field) == ["tls_ca_file"])
        let material = try await TLSMaterial.shared.value
        configuration.tlsCAFile = material.caFile
        configuration.tlsCertificateFile = material.clientCertificateFile
        #expect(configuration.problems().map(\.message) == ["mutual TLS needs both tls_cert_file and tls_key_file"])
        configuration.tlsKeyFile = material.clientKeyFile
        #expect(configuration.problems().isEmpty)
        configuration.url = "http://127.0.0.1:1/predict"
        #expect(configuration.problems().map(\.field) == ["tls_ca_file"])
        // A file that is there but not PEM is refused when the algorithm is made, naming the key.
        var garbled = HTTPAlgorithmConfiguration(url: "https://127.0.0.1:1/predict")
        garbled.tlsCAFile = material.serverKeyFile.replacingOccurrences(of: "server.key", with: "server.ext")
        #expect(throws: AlgorithmConfigurationError.self) { try HTTPAlgorithm(garbled) }
    }
}
