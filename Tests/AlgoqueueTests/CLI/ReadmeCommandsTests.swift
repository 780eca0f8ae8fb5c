import AlgoqueueDemo
import AlgoqueueHTTPServer
import Foundation
import Testing

/// The README's examples cannot drift: its `sh runnable` blocks run, in order, as one shell script.
@Suite("README commands")
struct ReadmeCommandsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../..")
        .standardized

    /// The bodies of the README's fenced blocks whose info string is `sh runnable`, in order (a block inside a list
    /// item is indented, its fences too).
    static func runnableBlocks(_ readme: String) -> [String] {
        var blocks: [String] = []
        var current: [String]?
        for line in readme.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line.trimmingCharacters(in: .whitespaces) == "```sh runnable" {
                current = []
            } else if current != nil, line.trimmingCharacters(in: .whitespaces).hasPrefix("```") {
                blocks.append(current!.joined(separator: "\n"))
                current = nil
            } else {
                current?.append(String(line))
            }
        }
        return blocks
    }

    @Test("Every runnable block runs as written (the model's address aside) and prints what the README shows")
    func runnableBlocksRun() async throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let blocks = Self.runnableBlocks(readme)
        #expect(blocks.count >= 3, "README.md has too few runnable blocks")
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        // The stand-in model: the built-in text-stats algorithm, wherever the README says 127.0.0.1:8080.
        let model = try await LoopbackHTTPServer.start { request in
            var request = request
            request.uri = DemoAlgorithm.path
            return await DemoAlgorithm.handle(request)
        }
        let bin = directory.file("bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: bin + "/algoqueue", withDestinationPath: try algoqueueBinary())
        // The commands run from a checkout's top directory: examples/ is where the README says.
        try FileManager.default.createSymbolicLink(
            atPath: directory.file("examples"), withDestinationPath: Self.root.appendingPathComponent("examples").path)
        let script = (["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"] + blocks)
            .joined(separator: "\n")
            .replacingOccurrences(of: "http://127.0.0.1:8080", with: model.baseURL)
        try script.write(toFile: directory.file("readme.sh"), atomically: true, encoding: .utf8)
        // Waited for without blocking a thread: the in-process endpoints of tests running beside this one need them.
        let program = try RunningProgram(
            "/bin/bash", ["-c", "cd '\(directory.path)' && PATH='\(bin)':\"$PATH\" bash readme.sh"],
            directory: directory,
            name: "readme")
        let status = await program.exitStatus(within: .seconds(300))
        let result = (output: program.output, error: program.errorOutput)
        #expect(status == 0, "the README's commands failed:\n\(result.output)\n\(result.error)")
        // What the README shows as output (lines `# 0|0|ok` right after a command) is what the commands print.
        for block in blocks {
            for line in block.split(separator: "\n") where line.hasPrefix("# ") && line.contains("|") {
                #expect(
                    result.output.contains(line.dropFirst(2)),
                    "README shows \(line) but the commands printed:\n\(result.output)")
            }
        }
        await model.stop()
    }
}
