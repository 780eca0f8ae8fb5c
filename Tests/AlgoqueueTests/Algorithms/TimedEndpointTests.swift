import AlgoqueueAlgorithms
import AlgoqueueHTTPServer
import AlgoqueueSupport
import Testing

@Suite("A timed endpoint answers from its event loop after the delay it names")
struct TimedEndpointTests {
    @Test("the reply comes after the delay, once the hook that runs when it is due has run; no delay answers at once")
    func timedReplies() async throws {
        let due = Locked<[String]>([])
        let server = try await LoopbackHTTPServer.start(timed: { request in
            let path = request.uri
            let delay: Duration = path == "/slow" ? .milliseconds(300) : .zero
            return TimedReply(.json(200, #"{"path": "\#(path)"}"#), after: delay) {
                due.withLock { $0.append(path) }
            }
        })
        let clock = ContinuousClock()
        for (path, delay) in [("/slow", Duration.milliseconds(300)), ("/fast", .zero)] {
            let http = try HTTPAlgorithm(HTTPAlgorithmConfiguration(url: server.baseURL + path))
            let started = clock.now
            let result = await http.call(AlgorithmInput(json: Array(#"{"n": 1}"#.utf8)))
            let took = clock.now - started
            #expect(result == .success(AlgorithmAnswer(output: #"{"path": "\#(path)"}"#, statusCode: 200)))
            // A lower bound only: a loaded machine can make the answer later, never earlier.
            #expect(took >= delay)
            #expect(due.withLock { $0.last } == path)
            await http.shutdown()
        }
        #expect(due.withLock { $0 } == ["/slow", "/fast"])
        await server.stop()
    }
}
