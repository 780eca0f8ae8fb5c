import AlgoqueueSupport
import Foundation

extension Run {
    /// Starts `algoqueue run` on an empty topic (as a service, with a results topic and the metrics listener), lets
    /// it join, and prints the CPU it uses while nothing happens.
    func measureIdle(algoqueue: String, brokers: String, url: String) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("algoqueue-idle-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pid = try spawnChild(
            [
                algoqueue, "run", "--brokers", brokers, "--topic", "bench-idle", "--group", "bench-idle", "--url",
                url + "/single", "--database", directory + "/idle.db", "--results-topic", "bench-idle-results",
                "--metrics-listen", "127.0.0.1:0", "--log-level", "error",
            ], input: .null, output: .null, error: .null)
        defer {
            kill(pid, SIGTERM)
            _ = waitForChild(pid)
        }
        try await Task.sleep(for: .seconds(5))  // joining the group and starting up are not idle time
        guard let before = cpuSeconds(ofProcess: pid) else { throw BenchError("the idle service exited early") }
        try await Task.sleep(for: .seconds(idleSeconds))
        let used = (cpuSeconds(ofProcess: pid) ?? before) - before
        print(
            String(
                format:
                    "\nidle service (run with a results topic and /metrics, nothing to consume): %.3f CPU s in %d s "
                    + "(%.2f%% of one core)",
                used, idleSeconds, used / Double(idleSeconds) * 100))
    }
}
