import Synchronization

/// A value behind a lock that several owners share by reference.
public final class Locked<Value: Sendable>: Sendable {
    @usableFromInline let mutex: Mutex<Value>

    /// Wraps `value`.
    public init(_ value: Value) {
        mutex = Mutex(value)
    }

    /// Runs `body` with the value while holding the lock. Do not call out (C, continuations) from `body`.
    ///
    /// Inlinable, so that callers in other modules get it specialized for their types: unspecialized, every call
    /// looked up `Mutex<Value>`'s generic metadata at run time (it showed in a profile of one call per message).
    @inlinable
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        try mutex.withLock { try body(&$0) }
    }
}
