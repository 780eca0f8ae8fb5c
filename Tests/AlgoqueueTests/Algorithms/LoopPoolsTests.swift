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
        guard case .pool(let pools, _, _) = http.transport else {
            Issue.record("a plain http:// URL goes through algoqueue's own pool")
            return
        }
        // As many pools as loops (up to max_connections), sharing the limit.
        #expect(pools.pools.map(\.maxConnections).reduce(0, +) == 4)
        for (worker, executor) in executors.enumerated() {
            let stayed = await withTaskExecutorPreference(executor) { () -> Bool in
                let result = await http.call(AlgorithmInput(json: numberInput(worker)))
                #expect(result == .success(AlgorithmAnswer(output: #"{"doubled": \#(worker * 2)}"#, statusCode: 200)))
                return executor.loop.inEventLoop
            }
            #expect(stayed, "worker \(worker)'s task went on after the call off its loop")
            #expect(pools.pools[worker % pools.pools.count].executor === executor)
        }
        await http.shutdown()
        await endpoint.stop()
    }
}
