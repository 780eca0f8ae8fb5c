import AlgoqueueHTTPServer
import AlgoqueuePipeline
import AlgoqueueSupport
import Logging
import Prometheus
import ServiceLifecycle

/// Runs beside the pipeline: serves the status page `/` with `/api/status`, `/metrics`, `/healthz` and `/readyz`,
/// and feeds systemd's watchdog and
/// status line. Stops when the service group shuts down.
public struct OperationsService: Service {
    let configuration: OperationsConfiguration
    let pipeline: Pipeline
    let registry: PrometheusCollectorRegistry
    let notifier: SystemdNotifier?
    let logger: Logger
    let history = StatusHistory()

    /// Creates the service; `registry` is the one the process's metrics were bootstrapped with.
    public init(
        configuration: OperationsConfiguration, pipeline: Pipeline, registry: PrometheusCollectorRegistry,
        notifier: SystemdNotifier?, logger: Logger
    ) {
        self.configuration = configuration
        self.pipeline = pipeline
        self.registry = registry
        self.notifier = notifier
        self.logger = logger
    }

    public func run() async throws {
        var server: LoopbackHTTPServer?
        if let listen = configuration.listen {
            let (host, port) = try Self.split(listen)
            let pipeline = self.pipeline
            let registry = self.registry
            let stallTimeout = configuration.stallTimeout
            let history = self.history
            server = try await LoopbackHTTPServer.start(host: host, port: port) { request in
                Self.answer(
                    request, pipeline: pipeline, registry: registry, history: history, stallTimeout: stallTimeout)
            }
            // The port bound, not the one asked for: port 0 picks a free one, and this line says which.
            let bound = "\(host):\(server?.port ?? port)"
            logger.info("status page on http://\(bound)/ (and /api/status, /metrics, /healthz, /readyz)")
        }
        // With the status page, a sample for its chart every 2 seconds; otherwise as the watchdog needs.
        let interval = min(
            notifier?.watchdogInterval ?? .seconds(5), configuration.listen == nil ? .seconds(5) : .seconds(2))
        let clock = ContinuousClock()
        var previous = (time: clock.now, written: 0)
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            if configuration.listen != nil { history.record(pipeline.statistics.snapshot) }
            if let notifier {
                // Fed once ready, and only while the pipeline's own heartbeat is recent: a wedged process is restarted.
                let joined = pipeline.health.joined
                if joined, notifier.watchdogInterval != nil, pipeline.health.sinceLastTick < .seconds(5) {
                    notifier.send("WATCHDOG=1")
                }
                let now = (time: clock.now, written: pipeline.statistics.snapshot.durable)
                let rate = Double(now.written - previous.written) / max((now.time - previous.time).seconds, 0.001)
                previous = now
                notifier.send("STATUS=" + (joined ? Self.status(pipeline, rate: rate) : "joining the consumer group"))
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
        await server?.stop()
    }

    /// A one-line summary for `systemctl status`: totals, lag and the current rate.
    static func status(_ pipeline: Pipeline, rate: Double) -> String {
        let totals = pipeline.statistics.snapshot
        let report = pipeline.health.report(stallTimeout: .seconds(3600))
        let limit = pipeline.health.concurrencyLimit.map { ", limit \($0) in flight" } ?? ""
        return
            "consumed \(totals.consumed), ok \(totals.ok), errors \(totals.errors), lag \(report.lag), \(Int(rate.rounded()))/s"
            + limit
    }

    static func answer(
        _ request: LoopbackHTTPRequest, pipeline: Pipeline, registry: PrometheusCollectorRegistry,
        history: StatusHistory, stallTimeout: Duration
    ) -> LoopbackHTTPReply {
        let path = request.uri.split(separator: "?").first.map(String.init) ?? request.uri
        switch path {
        case "/", "/index.html":
            return LoopbackHTTPReply(
                status: 200,
                headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
                body: Array(StatusPage.html.utf8))
        case "/api/status":
            return LoopbackHTTPReply(
                status: 200, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                body: StatusDocument(pipeline: pipeline, history: history, stallTimeout: stallTimeout).json)
        case "/metrics":
            return metricsReply(registry)
        case "/healthz":
            return aliveReply
        case "/readyz":
            let report = pipeline.health.report(stallTimeout: stallTimeout)
            let text = report.ready ? "ready\n" : "not ready: " + report.reasons.joined(separator: "; ") + "\n"
            return LoopbackHTTPReply(
                status: report.ready ? 200 : 503, headers: [("Content-Type", "text/plain")], body: Array(text.utf8))
        default:
            return LoopbackHTTPReply(
                status: 404, body: Array("try / (the status page), /api/status, /metrics, /healthz or /readyz\n".utf8))
        }
    }

    /// `/metrics`: every instrument of `registry` in Prometheus text format.
    static func metricsReply(_ registry: PrometheusCollectorRegistry) -> LoopbackHTTPReply {
        LoopbackHTTPReply(
            status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
            body: registry.emitToBuffer())
    }

    /// `/healthz`: the process answers.
    static let aliveReply = LoopbackHTTPReply(
        status: 200, headers: [("Content-Type", "text/plain")], body: Array("ok\n".utf8))

    /// Splits `host:port`, or throws saying what the form should be.
    public static func split(_ listen: String) throws -> (String, Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (0...65535).contains(port)
        else { throw OperationsError("metrics.listen must be host:port, such as 127.0.0.1:9464 (got \(listen))") }
        return (String(listen[..<colon]), port)
    }
}

/// A problem with the operations settings.
public struct OperationsError: Error, CustomStringConvertible {
    /// What is wrong.
    public let description: String
    init(_ description: String) { self.description = description }
}
