import AlgoqueueSupport
import Foundation
import Synchronization
import Testing

/// The algoqueue binary (or another program) running as a child process, its output captured to files.
final class RunningProgram: Sendable {
    let pid: pid_t
    let outputPath: String
    let errorPath: String
    private let running = Atomic<Bool>(true)
    private let exited: AsyncStream<Int32>

    init(
        _ path: String, _ arguments: [String], directory: TemporaryDirectory, name: String,
        environment: [String: String] = [:]
    ) throws {
        outputPath = directory.file("\(name).out")
        errorPath = directory.file("\(name).err")
        let output = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let error = open(errorPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { for descriptor in [output, error] where descriptor >= 0 { close(descriptor) } }
        guard output >= 0, error >= 0 else { throw POSIXError(.EIO) }
        pid = try spawnChild(
            [path] + arguments, input: .null, output: .descriptor(output), error: .descriptor(error),
            environment: environment.isEmpty ? nil : ProcessInfo.processInfo.environment.merging(environment) { $1 })
        let continuation: AsyncStream<Int32>.Continuation
        (exited, continuation) = AsyncStream.makeStream(of: Int32.self, bufferingPolicy: .bufferingNewest(1))
        // The wait has a thread of its own: the concurrency pool's two threads are for the tests' endpoints.
        Thread.detachNewThread { [self] in
            let end = waitForChild(pid)
            running.store(false, ordering: .releasing)
            continuation.yield(end.status)
            continuation.finish()
        }
    }

    /// Whether the program has not ended yet.
    var isRunning: Bool { running.load(ordering: .acquiring) }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var errorOutput: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    /// Sends signal `number`, unless the program has ended (its pid may belong to another process by then).
    func signal(_ number: Int32) {
        if isRunning { kill(pid, number) }
    }

    /// The exit status, or nil if it has not exited within `timeout`: it is then killed, once the stacks of its
    /// threads are in the test log (with gdb, where installed), so that a hang seen once says where it was.
    func exitStatus(within timeout: Duration) async -> Int32? {
        let exited = self.exited
        let status = await withTaskGroup(of: Int32?.self) { group in
            group.addTask {
                for await status in exited { return status }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
        if status == nil {
            if isRunning { await logStacks() }
            signal(SIGKILL)
        }
        return status
    }

    /// Writes the stacks of the program's threads to standard error (the test log), if gdb is installed.
    private func logStacks() async {
        guard let stacks = await stacks() else { return }
        let text = "== \(errorPath) (pid \(pid)) had not ended in time; its threads:\n\(stacks)\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// The stacks of the program's threads as gdb prints them, or nil without gdb.
    func stacks() async -> String? {
        let gdb = "/usr/bin/gdb"
        guard FileManager.default.isExecutableFile(atPath: gdb) else { return nil }
        return try? await runProgram(
            "/usr/bin/timeout", ["-k", "5", "60", gdb, "-p", "\(pid)", "-batch", "-ex", "thread apply all bt"]
        ).output
    }
}

/// Runs the algoqueue binary to completion and returns its status and output.
func algoqueue(_ arguments: [String], directory: TemporaryDirectory, timeout: Duration = .seconds(120)) async throws
    -> (status: Int32?, output: String, error: String)
{
    let program = try RunningProgram(
        try algoqueueBinary(), arguments, directory: directory, name: "run-\(UUID().uuidString.prefix(8))")
    let status = await program.exitStatus(within: timeout)
    return (status, program.output, program.errorOutput)
}

/// What librdkafka 2.0.2 prints when it aborts in its consumer close because the stop came in the middle of a
/// rebalance (librdkafka issues 4027 and 4792). algoqueue leaves its group so that this never happens
/// (`ConsumerPollLoop.leaveGroup`); the stop tests fail if it does.
let librdkafkaCloseAssertion = "rd_kafka_cgrp_terminated: assert: !rd_kafka_assignment_in_progress"

/// Waits for `program`, stopped with SIGTERM, to exit and expects status 0, and librdkafka's close assertion
/// nowhere in its output; returns whether both held.
@discardableResult
func expectCleanStop(
    _ program: RunningProgram, within timeout: Duration, sourceLocation: SourceLocation = #_sourceLocation
) async -> Bool {
    let status = await program.exitStatus(within: timeout)
    let aborted = program.errorOutput.contains(librdkafkaCloseAssertion)
    #expect(status == 0, "\(program.errorPath): \(program.errorOutput.suffix(1500))", sourceLocation: sourceLocation)
    #expect(!aborted, "\(program.errorPath): librdkafka aborted in its close", sourceLocation: sourceLocation)
    return status == 0 && !aborted
}
