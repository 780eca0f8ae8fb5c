import AlgoqueueHTTPServer
import Logging
import Prometheus

/// `collect --metrics-listen`: `/metrics` (the collector's counters, lost messages among them) and `/healthz`.
public enum CollectEndpoint {
    /// Serves on `listen` (`host:port`; port 0 picks a free one, logged) until the returned server is stopped.
    public static func start(listen: String, registry: PrometheusCollectorRegistry, logger: Logger) async throws
        -> LoopbackHTTPServer
    {
        let (host, port) = try OperationsService.split(listen)
        let server = try await LoopbackHTTPServer.start(host: host, port: port) { request in
            switch request.uri.split(separator: "?").first.map(String.init) ?? request.uri {
            case "/metrics": OperationsService.metricsReply(registry)
            case "/healthz": OperationsService.aliveReply
            default:
                LoopbackHTTPReply(status: 404, body: Array("try /metrics or /healthz\n".utf8))
            }
        }
        logger.info("metrics on http://\(host):\(server.port)/metrics (and /healthz)")
        return server
    }
}
