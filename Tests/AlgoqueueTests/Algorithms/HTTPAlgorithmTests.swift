import AlgoqueueAlgorithms
import AlgoqueueFlowControl
import AlgoqueuePipeline
import Testing

@Suite("HTTP algorithm against a real loopback endpoint")
struct HTTPAlgorithmTests {
    func algorithm(_ url: String, timeout: Duration = .seconds(5), headers: [String: String] = [:]) throws
        -> HTTPAlgorithm
    {
        var configuration = HTTPAlgorithmConfiguration(url: url)
        configuration.timeout = timeout
        configuration.headers = headers
        return try HTTPAlgorithm(configuration)
    }

    @Test("a 2xx JSON answer is the output; the source travels in a header")
    func ok() async throws {
        let endpoint = try await TestEndpoint.start()
        let http = try algorithm(endpoint.url, headers: ["Authorization": "Bearer abc", "X-Model": "v2"])
        let result = await http.call(AlgorithmInput(json: numberInput(21), source: "t/0/7"))
        #expect(result == .success(AlgorithmAnswer(output: #"{"doubled": 42}"#, statusCode: 200)))
        #expect(endpoint.sources.withLock { $0 } == ["t/0/7"])
        let headers = endpoint.lastHeaders.withLock { $0 }
        #expect(headers["authorization"] == "Bearer abc")
        #expect(headers["x-model"] == "v2")
        #expect(headers["content-type"] == "application/json")
        await http.shutdown()
        await endpoint.stop()
    }

    @Test("a configured header replaces a built-in or a passed one of the same name: the endpoint gets it once")
    func configuredHeadersWin() async throws {
        let endpoint = try await TestEndpoint.start()
        let http = try algorithm(
            "http://user:secret@127.0.0.1:\(endpoint.server.port)/predict",
            headers: [
                "authorization": "Bearer configured", "Content-Type": "application/json; charset=utf-8",
                "Accept": "*/*", "X-Trace": "configured",
            ])
        for n in 1...2 {
            var input = AlgorithmInput(json: numberInput(n), key: "k\(n)", source: "t/0/\(n)")
            input.headers = [("X-Trace", "from the message"), ("X-Other", "passed")]
            #expect(
                await http.call(input) == .success(AlgorithmAnswer(output: #"{"doubled": \#(2 * n)}"#, statusCode: 200))
            )
            let headers = endpoint.lastHeaders.withLock { $0 }
            #expect(headers["authorization"] == "Bearer configured")
            #expect(headers["content-type"] == "application/json; charset=utf-8")
            #expect(headers["accept"] == "*/*")
            #expect(headers["x-trace"] == "configured")
            #expect(headers["x-other"] == "passed")
            #expect(headers["x-algoqueue-key"] == "k\(n)")
            #expect(headers["host"] == "127.0.0.1:\(endpoint.server.port)")
        }
        await http.shutdown()
        await endpoint.stop()
    }

    @Test("a message header with a line break fails its call unsent, without retry; the next call goes as before")
    func headerInjection() async throws {
        let endpoint = try await TestEndpoint.start()
        let http = try algorithm(endpoint.url)
        let key = await http.call(AlgorithmInput(json: numberInput(1), key: "k\r\nX-Evil: 1", source: "t/0/1"))
        var passed = AlgorithmInput(json: numberInput(2), source: "t/0/2")
        passed.headers = [("X-Trace", "a\nb")]
        let header = await http.call(passed)
        for (result, name) in [(key, "X-Algoqueue-Key"), (header, "X-Trace")] {
            guard case .failure(let failure) = result else {
                Issue.record("\(name) with a line break was sent: \(result)")
                continue
            }
            #expect(failure.kind == .invalidRequest)
            #expect(failure.message.contains("header \(name) holds a line break"))
            #expect(!RetryPolicy().isRetryable(failure))
        }
        var good = AlgorithmInput(json: numberInput(3), key: "k\t3", source: "t/0/3")
        good.headers = [("X-Trace", "ok")]
        #expect(await http.call(good) == .success(AlgorithmAnswer(output: #"{"doubled": 6}"#, statusCode: 200)))
        #expect(endpoint.sources.withLock { $0 } == ["t/0/3"])
        let headers = endpoint.lastHeaders.withLock { $0 }
        #expect(headers["x-algoqueue-key"] == "k\t3")
        #expect(headers["x-trace"] == "ok")
        #expect(headers["content-length"] == "\(numberInput(3).count)")
        // Over https:// (AsyncHTTPClient) alike: refused before any connection, so a closed port never answers.
        let https = try algorithm("https://127.0.0.1:1/predict")
        let overTLS = await https.call(AlgorithmInput(json: numberInput(4), key: "k\nX-Evil: 1", source: "t/0/4"))
        #expect(
            overTLS
                == .failure(
                    AlgorithmFailure(
                        .invalidRequest,
                        "cannot call https://127.0.0.1:1/predict: header X-Algoqueue-Key holds a line break or another "
                            + "control character")))
        await https.shutdown()
        await http.shutdown()
        await endpoint.stop()
    }

    @Test("failures say what happened: status with body excerpt, not JSON, timeout, refused")
    func failures() async throws {
        let endpoint = try await TestEndpoint.start(hangFor: .seconds(2))
        // Quick answers get a generous timeout (the suite runs in parallel on 2 cores); the hang a short one.
        let http = try algorithm(endpoint.url, timeout: .seconds(10))
        let impatient = try algorithm(endpoint.url, timeout: .milliseconds(200))
        let port = endpoint.server.port
        #expect(
            await http.call(AlgorithmInput(json: Array(#"{"fail": true}"#.utf8)))
                == .failure(
                    AlgorithmFailure(
                        .status,
                        #"HTTP 500 Internal Server Error from http://127.0.0.1:\#(port)/predict: {"error": "boom: the model crashed"}"#,
                        statusCode: 500)))
        if case .failure(let failure) = await http.call(AlgorithmInput(json: Array(#"{"garbage": true}"#.utf8))) {
            #expect(failure.kind == .invalidAnswer)
            #expect(failure.message.contains("is not JSON (HTTP 200, text/html)"))
            #expect(failure.message.contains("it began: <html>oops</html>"))
        } else {
            Issue.record("a non-JSON answer must fail")
        }
        #expect(
            await impatient.call(AlgorithmInput(json: Array(#"{"hang": true}"#.utf8)))
                == .failure(
                    AlgorithmFailure(.timeout, "no answer from http://127.0.0.1:\(port)/predict within 200ms (timeout)")
                ))
        await http.shutdown()
        await impatient.shutdown()
        await endpoint.stop()

        // Port 9 (discard) has no listener here; the stopped endpoint's own port could be taken by another test's
        // server in the meantime (ephemeral ports are reused).
        let refused = try algorithm("http://127.0.0.1:9/predict")
        if case .failure(let failure) = await refused.call(AlgorithmInput(json: numberInput(1))) {
            #expect(failure.kind == .transport)
            #expect(failure.message.contains("127.0.0.1:9/predict"))
        } else {
            Issue.record("a stopped endpoint must fail")
        }
        await refused.shutdown()
    }

    @Test("a URL with credentials or a query never shows them in an error; the credentials authenticate the call")
    func displayURL() async throws {
        let endpoint = try await TestEndpoint.start()
        let http = try algorithm("http://user:secret@127.0.0.1:\(endpoint.server.port)/predict?api_key=hidden")
        if case .failure(let failure) = await http.call(AlgorithmInput(json: Array(#"{"fail": true}"#.utf8))) {
            #expect(!failure.message.contains("secret"))
            #expect(!failure.message.contains("hidden"))
        } else {
            Issue.record("expected a failure")
        }
        // The URL's credentials are sent as Basic authentication.
        #expect(endpoint.lastHeaders.withLock { $0 }["authorization"] == "Basic dXNlcjpzZWNyZXQ=")
        await http.shutdown()
        await endpoint.stop()
    }

    @Test("a URL that is not http(s) is refused up front")
    func badURL() {
        #expect(throws: AlgorithmConfigurationError.self) { try algorithm("ftp://example/x") }
        #expect(throws: AlgorithmConfigurationError.self) { try algorithm("not a url") }
    }
}
