import Synchronization

/// A value behind a lock that several owners share by reference.
public final class Locked<Value: Sendable>: Sendable {
    let mutex: Mutex<Value>

    /// Wraps `value`.
    public init(_ value: Value) {
        mutex = Mutex(value)
    }

    /// Runs `body` with the value while holding the lock. Do not call out (C, continuations) from `body`.
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        try mutex.withLock { try body(&$0) }
    }
}
