import AlgoqueueAlgorithms
import AlgoqueueConfig
import AlgoqueueDemo
import AlgoqueueHTTPServer
import Foundation
import Logging

/// Builds the configured algorithms; for `builtin`, also starts the loopback server that serves it.
struct AlgorithmWiring {
    let algorithms: [any Algorithm]
    let server: LoopbackHTTPServer?

    static func make(_ all: Settings, logger: Logger) async throws -> AlgorithmWiring {
        var server: LoopbackHTTPServer?
        var algorithms: [any Algorithm] = []
        do {
            for settings in all.effectiveAlgorithms {
                switch settings.kind {
                case .http, .builtin:
                    var url = settings.url ?? ""
                    if settings.kind == .builtin {
                        if server == nil {
                            server = try await LoopbackHTTPServer.start { request in await DemoAlgorithm.handle(request) }
                        }
                        url = server!.baseURL + DemoAlgorithm.path
                    }
                    var configuration = HTTPAlgorithmConfiguration(url: url)
                    configuration.name = settings.effectiveName
                    configuration.version = settings.version
                    configuration.headers = settings.headers
                    configuration.timeout = settings.timeout
                    configuration.maxAnswerBytes = settings.maxAnswerBytes
                    configuration.maxConnections = all.pipeline.concurrency
                    algorithms.append(try HTTPAlgorithm(configuration))
                case .algorithmia:
                    var configuration = AlgorithmiaConfiguration(algorithm: settings.algo ?? "")
                    configuration.name = settings.name
                    if let url = settings.url { configuration.baseURL = url }
                    configuration.apiKey = settings.apiKey(environment: ProcessInfo.processInfo.environment)
                    configuration.timeout = settings.timeout
                    configuration.maxAnswerBytes = settings.maxAnswerBytes
                    configuration.maxConnections = all.pipeline.concurrency
                    algorithms.append(try AlgorithmiaAlgorithm(configuration))
                case .process:
                    var configuration = ProcessPoolConfiguration(command: settings.command)
                    configuration.name = settings.effectiveName
                    configuration.version = settings.version
                    configuration.workers = settings.workers
                    configuration.timeout = settings.timeout
                    configuration.maxAnswerBytes = settings.maxAnswerBytes
                    algorithms.append(try ProcessAlgorithm(configuration, logger: logger))
                }
            }
            for algorithm in algorithms { try algorithm.start() }
        } catch {
            for algorithm in algorithms { await algorithm.shutdown() }
            await server?.stop()
            throw error
        }
        return AlgorithmWiring(algorithms: algorithms, server: server)
    }

    func stop() async {
        await server?.stop()
    }
}
