/// The version `algoqueue --version`, the status page and `/api/status` report.
public enum AlgoqueueVersion {
    /// The release, as in the Debian package.
    public static let current = "0.1.0"
}
