import Glibc

/// What a child process gets as its standard input, output or error.
public enum ChildStream: Sendable {
    /// One of this process's descriptors, duplicated onto the child's.
    case descriptor(Int32)
    /// /dev/null.
    case null
}

/// A child process that could not be started, with the C library's reason.
public struct SpawnError: Error, CustomStringConvertible {
    public let program: String
    public let code: Int32
    public var description: String { "cannot start \(program): \(String(cString: strerror(code)))" }
}

/// Starts `command` (its first element looked up in PATH when it has no slash) with `input`, `output` and
/// `error` on descriptors 0-2 and no other descriptor of this process, no signal blocked or ignored, in a
/// process group of its own, under the spawn lock. `environment` replaces this process's environment when given.
/// Returns the child's pid; reap it with `waitForChild`.
///
/// This is `posix_spawn` itself, not Foundation's `Process`: on Linux `Process.run()` lists `/proc/self/fd` and
/// copies each entry's whole 256-byte name field, past the end of the last entry, and in a process with over
/// a thousand descriptors open (the test suite, its brokers and clients in parallel) that read ran off mapped
/// memory and stopped the process with SIGSEGV.
public func spawnChild(
    _ command: [String], input: ChildStream, output: ChildStream, error: ChildStream,
    environment: [String: String]? = nil
) throws(SpawnError) -> pid_t {
    guard let program = command.first else { throw SpawnError(program: "an empty command", code: EINVAL) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    for (target, stream) in [input, output, error].enumerated() {
        switch stream {
        case .descriptor(let descriptor):
            posix_spawn_file_actions_adddup2(&actions, descriptor, Int32(target))
        case .null:
            posix_spawn_file_actions_addopen(&actions, Int32(target), "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
        }
    }
    spawnClosesDescriptors(&actions)
    let argv = command.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    let envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
    defer { for pointer in envp ?? [] { free(pointer) } }
    // The child starts with no signal blocked and every signal at its default action. It would otherwise inherit
    // the starting thread's mask (event-loop and pool threads block nearly all signals) and what this process
    // ignores (SIGPIPE, and SIGINT and SIGTERM, which the service handles its own way): SIGTERM and Ctrl-C would
    // not stop a worker, and systemd's stop would wait for its timeout.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var signals = sigset_t()
    sigemptyset(&signals)
    posix_spawnattr_setsigmask(&attributes, &signals)
    sigfillset(&signals)
    posix_spawnattr_setsigdefault(&attributes, &signals)
    // A process group of its own: Ctrl-C in a terminal reaches algoqueue alone, which stops its workers in order
    // (stdin closed, then killed if they linger) rather than losing the requests they hold.
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(
        &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
    var pid: pid_t = 0
    let spawned = withSpawnLock {
        if let envp {
            posix_spawnp(&pid, program, &actions, &attributes, argv, envp)
        } else {
            posix_spawnp(&pid, program, &actions, &attributes, argv, environ)
        }
    }
    guard spawned == 0 else { throw SpawnError(program: program, code: spawned) }
    return pid
}

/// How a child process ended: "exit status 3" or "killed by signal 9" as text.
public enum ChildEnd: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case killed(signal: Int32)

    /// The exit code, or the signal's number when a signal ended it (as Foundation's `terminationStatus`).
    public var status: Int32 {
        switch self {
        case .exited(let code): code
        case .killed(let signal): signal
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): "exit status \(code)"
        case .killed(let signal): "killed by signal \(signal)"
        }
    }
}

/// Waits for child `pid` to end and reaps it. A wait a signal interrupts is tried again.
public func waitForChild(_ pid: pid_t) -> ChildEnd {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0, errno == EINTR {}
    return status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .killed(signal: status & 0x7f)
}
