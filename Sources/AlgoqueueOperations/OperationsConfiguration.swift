import AlgoqueueSupport

/// Where the metrics and health endpoints listen and when the pipeline counts as stalled.
public struct OperationsConfiguration: Sendable {
    /// `host:port` for `/metrics`, `/healthz` and `/readyz`; nil for no endpoint. Default: none. Keep it on
    /// loopback (127.0.0.1) unless something in front of it controls access.
    public var listen: String?
    /// Serve on an address other than loopback (the status page shows inputs' errors). Default: false, and
    /// ``problems()`` refuses such an address.
    public var allowRemote = false
    /// `/readyz` turns false when messages wait and nothing is written for this long, or a call runs this long.
    /// Default: 60 seconds.
    public var stallTimeout: Duration = .seconds(60)

    /// A configuration with every default.
    public init() {}

    /// What is wrong with these settings, in words a person can act on.
    public func problems() -> [FieldProblem] {
        guard let listen else { return [] }
        guard let (host, _) = try? OperationsService.split(listen) else {
            return [FieldProblem("metrics.listen", "must be host:port, such as 127.0.0.1:9464 (got \(listen))")]
        }
        let loopback = host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
        if !loopback, !allowRemote {
            return [
                FieldProblem(
                    "metrics.listen",
                    "\(listen) is not a loopback address: the status page and /api/status show inputs' errors to "
                        + "whoever can reach it. Use 127.0.0.1, or set metrics.allow_remote: true "
                        + "(--metrics-allow-remote) when something in front of it controls access")
            ]
        }
        return []
    }
}
