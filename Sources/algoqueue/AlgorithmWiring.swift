import AlgoqueueAlgorithms
import AlgoqueueConfig
import AlgoqueueDemo
import AlgoqueueHTTPServer

/// Builds the configured algorithm; for `builtin`, also starts the loopback server that serves it.
struct AlgorithmWiring {
    let algorithm: any Algorithm
    let server: LoopbackHTTPServer?

    static func make(_ all: Settings) async throws -> AlgorithmWiring {
        let settings = all.algorithm
        var server: LoopbackHTTPServer?
        var url = settings.url ?? ""
        if settings.kind == .builtin {
            let started = try await LoopbackHTTPServer.start { request in await DemoAlgorithm.handle(request) }
            url = started.baseURL + DemoAlgorithm.path
            server = started
        }
        var configuration = HTTPAlgorithmConfiguration(url: url)
        configuration.name = settings.effectiveName
        configuration.version = settings.version
        configuration.headers = settings.headers
        configuration.timeout = settings.timeout
        configuration.maxAnswerBytes = settings.maxAnswerBytes
        configuration.maxConnections = all.pipeline.concurrency
        return AlgorithmWiring(algorithm: try HTTPAlgorithm(configuration), server: server)
    }

    func stop() async {
        await server?.stop()
    }
}
