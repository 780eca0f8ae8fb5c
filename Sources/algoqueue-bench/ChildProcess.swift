import AlgoqueueSupport
import Foundation

/// What a finished child process used, from `wait4`.
struct ChildUsage {
    var status: Int32
    var wallSeconds: Double
    var cpuSeconds: Double
    var peakRSSBytes: Int
    var output: String
}

/// Runs a program to completion and returns its resource usage (CPU, peak RSS) as the kernel counted it;
/// `whileRunning` is called with its pid every 100 ms on another thread until it exits.
func runMeasured(
    _ path: String, _ arguments: [String], whileRunning: (@Sendable (Int32) -> Void)? = nil
) throws -> ChildUsage {
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString).out")
    _ = FileManager.default.createFile(atPath: output.path, contents: nil)
    let handle = try FileHandle(forWritingTo: output)
    defer { try? FileManager.default.removeItem(at: output) }
    let started = Date()
    let pid: pid_t
    do {
        pid = try spawnChild(
            [path] + arguments, input: .descriptor(STDIN_FILENO), output: .descriptor(handle.fileDescriptor),
            error: .descriptor(STDERR_FILENO))
    } catch {
        throw BenchError(error.description)
    }
    if let whileRunning {
        let running = Locked(true)
        let stopped = DispatchSemaphore(value: 0)
        let child = pid
        Thread.detachNewThread {
            while running.withLock({ $0 }) {
                whileRunning(child)
                usleep(100_000)
            }
            stopped.signal()
        }
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0, errno == EINTR {}
        running.withLock { $0 = false }
        stopped.wait()
        whileRunning(pid)  // the last sample: an exited child's own figures stay readable until it is reaped
    }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0, errno == EINTR {}
    let wall = Date().timeIntervalSince(started)
    try handle.close()
    let cpu =
        Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) / 1e6
    let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
    let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return ChildUsage(
        status: exitCode, wallSeconds: wall, cpuSeconds: cpu, peakRSSBytes: Int(usage.ru_maxrss) * 1024, output: text)
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
