import AlgoqueueSupport
import Foundation
import Synchronization

/// One long-lived child process with pipes on stdin, stdout and stderr. Lines it writes to stdout and stderr
/// are handed to callbacks from two reader threads; when stdout ends, the process is reaped and `onExit` told.
final class WorkerProcess: Sendable {
    let pid: pid_t
    let input: Int32
    let writes: DispatchQueue
    let inputOpen = Atomic<Bool>(true)

    private init(pid: pid_t, input: Int32, label: String) {
        self.pid = pid
        self.input = input
        writes = DispatchQueue(label: label)
    }

    /// Starts `command` (looked up in PATH when it has no slash). Throws when it cannot be started.
    static func spawn(
        _ command: [String], label: String, maxLineBytes: Int,
        onLine: @escaping @Sendable ([UInt8]) -> Void, onStderr: @escaping @Sendable (String) -> Void,
        onExit: @escaping @Sendable (_ status: String) -> Void
    ) throws(AlgorithmConfigurationError) -> WorkerProcess {
        guard !command.isEmpty else { throw AlgorithmConfigurationError("the worker command is empty") }
        var stdinPipe: [Int32] = [0, 0]
        var stdoutPipe: [Int32] = [0, 0]
        var stderrPipe: [Int32] = [0, 0]
        guard pipe(&stdinPipe) == 0, pipe(&stdoutPipe) == 0, pipe(&stderrPipe) == 0 else {
            throw AlgorithmConfigurationError("cannot create pipes for a worker: \(String(cString: strerror(errno)))")
        }
        // Only the worker's own ends reach it (through dup2); no other child inherits these.
        for descriptor in stdinPipe + stdoutPipe + stderrPipe { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        // The worker gets its three pipes and nothing else of ours (Kafka sockets, the SQLite file, other pipes).
        let pid: pid_t
        do {
            defer { for descriptor in [stdinPipe[0], stdoutPipe[1], stderrPipe[1]] { close(descriptor) } }
            pid = try spawnChild(
                command, input: .descriptor(stdinPipe[0]), output: .descriptor(stdoutPipe[1]),
                error: .descriptor(stderrPipe[1]))
        } catch {
            for descriptor in [stdinPipe[1], stdoutPipe[0], stderrPipe[0]] { close(descriptor) }
            throw AlgorithmConfigurationError(
                "cannot start the worker command \(command.joined(separator: " ")): \(String(cString: strerror(error.code)))"
            )
        }
        let worker = WorkerProcess(pid: pid, input: stdinPipe[1], label: label)
        let output = stdoutPipe[0]
        let child = pid
        let errors = stderrPipe[0]
        let stderrRead = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            readLines(errors, maxLineBytes: 64 << 10) { onStderr(String(decoding: $0, as: UTF8.self)) }
            close(errors)
            stderrRead.signal()
        }
        Thread.detachNewThread {
            readLines(output, maxLineBytes: maxLineBytes, onLine)
            close(output)
            // stdout is gone: the worker is of no more use, whether or not it has exited.
            _ = Foundation.kill(child, SIGKILL)
            let end = waitForChild(child)
            worker.closeInput()
            // Its last stderr lines (the reason it died, often) are read before its exit is told; a child of the
            // worker holding stderr open delays this by at most a second.
            _ = stderrRead.wait(timeout: .now() + 1)
            onExit(end.description)
        }
        return worker
    }

    /// Writes `line` and a line break to the worker's stdin, in order, without blocking the caller. A worker
    /// that has gone is noticed by its reader, not here.
    func send(_ line: [UInt8]) {
        writes.async { [self] in
            guard inputOpen.load(ordering: .acquiring) else { return }
            _ = writeAll(input, line + [UInt8(ascii: "\n")])
        }
    }

    /// Closes stdin: a well-behaved worker finishes what it holds and exits.
    func closeInput() {
        writes.async { [self] in
            if inputOpen.exchange(false, ordering: .acquiringAndReleasing) { close(input) }
        }
    }

    /// Kills the worker at once.
    func kill() {
        _ = Foundation.kill(pid, SIGKILL)
    }

    /// Reads `descriptor` to its end, calling `line` for each line (without its line break). A line longer
    /// than `maxLineBytes` is cut there.
    static func readLines(_ descriptor: Int32, maxLineBytes: Int, _ line: ([UInt8]) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var current: [UInt8] = []
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            var start = 0
            for index in 0..<count where buffer[index] == UInt8(ascii: "\n") {
                current += buffer[start..<index]
                line(current.count > maxLineBytes ? Array(current.prefix(maxLineBytes)) : current)
                current.removeAll(keepingCapacity: true)
                start = index + 1
            }
            current += buffer[start..<count]
        }
        if !current.isEmpty { line(current) }
    }

}
