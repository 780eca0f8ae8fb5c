import AlgoqueueAlgorithms
import AlgoqueueConfig
import AlgoqueueDemo
import AlgoqueueHTTPServer
import AlgoqueueSupport
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
                    var url: String?
                    if settings.kind == .builtin {
                        if server == nil {
                            server = try await LoopbackHTTPServer.start { request in await DemoAlgorithm.handle(request)
                            }
                        }
                        url = server!.baseURL + DemoAlgorithm.path
                    }
                    let configuration = settings.httpConfiguration(
                        url: url, maxConnections: all.pipeline.maxCallsInFlight)
                    algorithms.append(try HTTPAlgorithm(configuration))
                case .algorithmia:
                    let configuration = settings.algorithmiaConfiguration(
                        maxConnections: all.pipeline.maxCallsInFlight, environment: ProcessInfo.processInfo.environment)
                    algorithms.append(try AlgorithmiaAlgorithm(configuration))
                case .process:
                    algorithms.append(try ProcessAlgorithm(settings.processConfiguration(), logger: logger))
                }
            }
            // Starting spawns worker processes: off the cooperative threads.
            let starting = algorithms
            try await BlockingWork.run { () throws(AlgorithmConfigurationError) in
                for algorithm in starting { try algorithm.start() }
            }
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
