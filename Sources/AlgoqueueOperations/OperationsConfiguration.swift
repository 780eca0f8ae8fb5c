/// Where the metrics and health endpoints listen and when the pipeline counts as stalled.
public struct OperationsConfiguration: Sendable {
    /// `host:port` for `/metrics`, `/healthz` and `/readyz`; nil for no endpoint. Default: none. Keep it on
    /// loopback (127.0.0.1) unless something in front of it controls access.
    public var listen: String?
    /// `/readyz` turns false when messages wait and nothing is written for this long, or a call runs this long.
    /// Default: 60 seconds.
    public var stallTimeout: Duration = .seconds(60)

    /// A configuration with every default.
    public init() {}
}
