/// Micro-batching for algorithms that take a list of inputs and answer a list of results.
public struct BatchConfiguration: Sendable {
    /// The most inputs in one call; 1 turns micro-batching off. Default: 1.
    public var maxItems = 1
    /// The most input bytes in one call. Default: 1 MiB.
    public var maxBytes = 1 << 20
    /// How long the first input of a batch waits for others before the batch is sent anyway. Default: 20 ms.
    public var linger: Duration = .milliseconds(20)

    /// Micro-batching off.
    public init() {}

    /// Whether inputs are sent in lists.
    public var enabled: Bool { maxItems > 1 }
}
