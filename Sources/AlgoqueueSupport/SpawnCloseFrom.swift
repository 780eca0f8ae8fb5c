import Glibc

/// Adds to `actions` the closing of every descriptor from `lowest` up in the child (glibc's
/// `posix_spawn_file_actions_addclosefrom_np`, 2.34+, which Swift's Glibc module does not show). A child then
/// holds none of this process's sockets, files or pipes: a long-lived child (a worker process) keeping a pipe's
/// write end open would leave whoever reads that pipe waiting for an end that never comes.
/// Returns false when the C library lacks it (the child then inherits what is not close-on-exec).
@discardableResult
public func spawnClosesDescriptors(_ actions: inout posix_spawn_file_actions_t, from lowest: Int32 = 3) -> Bool {
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    guard let symbol = closeFromSymbol else { return false }
    return unsafeBitCast(symbol, to: CloseFrom.self)(&actions, lowest) == 0
}

nonisolated(unsafe) private let closeFromSymbol = dlsym(
    UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
