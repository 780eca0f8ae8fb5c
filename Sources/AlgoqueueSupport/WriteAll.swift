#if canImport(Glibc)
    import Glibc
#endif

/// Writes all of `bytes` to `descriptor`, retrying short writes and interruptions. Returns false on an error
/// (`errno` says which).
public func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) -> Bool {
    var written = 0
    while written < bytes.count {
        let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, $0.count - written) }
        if count < 0, errno == EINTR { continue }
        guard count > 0 else { return false }
        written += count
    }
    return true
}
