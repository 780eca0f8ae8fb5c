import AlgoqueueAlgorithms
import AlgoqueueHTTPServer
import AlgoqueueSupport
import Testing

@Suite("The loopback HTTP server bounds what it reads")
struct LoopbackServerLimitTests {
    @Test("a body above the limit is answered 413 without reaching the handler; the connection serves the next call")
    func oversizedBody() async throws {
        let handled = Locked([Int]())
        let server = try await LoopbackHTTPServer.start(maxBodyBytes: 1024) { request in
            handled.withLock { $0.append(request.body.count) }
            return .json(200, #"{"size": \#(request.body.count)}"#)
        }
        var configuration = HTTPAlgorithmConfiguration(url: server.baseURL + "/predict")
        configuration.maxConnections = 1
        let http = try HTTPAlgorithm(configuration)
        let large = Array(#"{"text": "\#(String(repeating: "x", count: 4000))"}"#.utf8)
        let refused = await http.call(AlgorithmInput(json: large))
        #expect(refused.failure?.statusCode == 413)
        #expect(refused.failure?.message.contains("larger than 1024 bytes") == true)
        #expect(
            await http.call(AlgorithmInput(json: numberInput(7)))
                == .success(AlgorithmAnswer(output: #"{"size": 8}"#, statusCode: 200)))
        // The handler never saw the large body.
        #expect(handled.withLock { $0 } == [8])
        await http.shutdown()
        await server.stop()
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let failure) = self { failure } else { nil }
    }
}
