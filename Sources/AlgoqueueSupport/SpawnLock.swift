import Synchronization

/// Serialises starting child processes with work that closes a listening socket and binds its port again.
///
/// While a child is being started it holds a copy of every descriptor of this process until it executes its
/// program (close-on-exec descriptors too). A listening socket closed in that instant stays listening in the
/// child, and binding its port again fails with "address in use". librdkafka's mock cluster does exactly that
/// when a broker goes down, and aborts the process when the bind fails; so the development broker takes this
/// lock around it, and everything here that starts a process (worker processes, the tests' programs) takes it
/// around the start.
public func withSpawnLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
    try spawnLock.withLock { _ throws(E) in try body() }
}

private let spawnLock = Mutex<Void>(())
