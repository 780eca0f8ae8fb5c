import AlgoqueueSupport
import Foundation

/// The algoqueue binary (or another program) running as a child process, its output captured to files.
final class RunningProgram: @unchecked Sendable {
    // `@unchecked Sendable`: `process` is only started once and then read; Process is thread-safe for that.
    let process = Process()
    let outputPath: String
    let errorPath: String
    private let exited: AsyncStream<Int32>
    private let exitedContinuation: AsyncStream<Int32>.Continuation

    init(
        _ path: String, _ arguments: [String], directory: TemporaryDirectory, name: String,
        environment: [String: String] = [:]
    ) throws {
        outputPath = directory.file("\(name).out")
        errorPath = directory.file("\(name).err")
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardOutput = FileHandle(forWritingAtPath: outputPath)
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        process.standardInput = FileHandle.nullDevice
        (exited, exitedContinuation) = AsyncStream.makeStream(of: Int32.self, bufferingPolicy: .bufferingNewest(1))
        let continuation = exitedContinuation
        process.terminationHandler = { process in
            continuation.yield(process.terminationStatus)
            continuation.finish()
        }
        try withSpawnLock { try process.run() }
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var errorOutput: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    /// The exit status, or nil if it has not exited within `timeout` (it is then killed).
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
        if status == nil { signal(SIGKILL) }
        return status
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
