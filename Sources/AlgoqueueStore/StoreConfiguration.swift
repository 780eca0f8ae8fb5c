/// Where results go and how hard each write is made durable.
public struct StoreConfiguration: Sendable {
    /// How SQLite syncs the write-ahead log.
    public enum Synchronous: String, Sendable, CaseIterable {
        /// Every commit is on disk before it returns: survives power loss. The default.
        case full
        /// Commits survive a crash of algoqueue but the last ones may be lost on power loss.
        case normal
    }

    /// The SQLite file; created (mode 0640) with its directory's parent existing. Default: `algoqueue.db`.
    /// The results file unless configured.
    public static let defaultPath = "algoqueue.db"
    public var path: String = StoreConfiguration.defaultPath
    /// Default: `.full`.
    public var synchronous: Synchronous = .full
    /// Whether each row keeps the input text. Default: `true`.
    public var keepInputs: Bool = true
    /// How long a write waits for a reader's lock before failing. Default: 5 seconds.
    public var busyTimeout: Duration = .seconds(5)
    /// The largest the file may grow, in bytes; 0 means no limit. Reaching it stops the service like a full
    /// disk does (nothing is lost; raise it and restart). Default: 0.
    public var maxSize: Int = 0

    /// A configuration with every default.
    public init() {}

    /// A configuration for the file at `path`, other settings default.
    public init(path: String) {
        self.path = path
    }
}
