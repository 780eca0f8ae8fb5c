import AlgoqueueHTTPServer
import Testing

@testable import AlgoqueueAlgorithms

@Suite("Call workers run on the event loop of their connections")
struct LoopPoolsTests {
    @Test("workers take the loops in turn; a call from a worker's loop is answered there and the task stays on it")
    func workersStayOnTheirLoop() async throws {
        let endpoint = try await TestEndpoint.start()
        var configuration = HTTPAlgorithmConfiguration(url: endpoint.url)
        configuration.maxConnections = 4
        let http = try HTTPAlgorithm(configuration)
        let executors = try (0..<4).map { try #require(http.executor(forWorker: $0) as? EventLoopTaskExecutor) }
        guard case .pool(let pool, _, _) = http.transport else {
            Issue.record("a plain http:// URL goes through algoqueue's own pool")
            return
        }
        // One pool over as many loops as there are (up to max_connections).
        #expect(pool.maxConnections == 4)
        #expect(pool.executors.count == min(4, pool.loops.count))
        for (worker, executor) in executors.enumerated() {
            let stayed = await withTaskExecutorPreference(executor) { () -> Bool in
                let result = await http.call(AlgorithmInput(json: numberInput(worker)))
                #expect(result == .success(AlgorithmAnswer(output: #"{"doubled": \#(worker * 2)}"#, statusCode: 200)))
                return executor.loop.inEventLoop
            }
            #expect(stayed, "worker \(worker)'s task went on after the call off its loop")
            #expect(pool.executors[worker % pool.executors.count] === executor)
        }
        await http.shutdown()
        await endpoint.stop()
    }
}
