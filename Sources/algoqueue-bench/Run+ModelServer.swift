import AlgoqueueKafka
import AlgoqueueSupport
import Foundation

/// The model-server scenario: the digits classifier served by MLServer (installed by scripts/setup-model-servers),
/// called in the Open Inference Protocol in micro-batches of 32 and one input per call. It prints algoqueue's CPU
/// beside the server's: how much of the machine the worker takes next to a real model server.
extension Run {
    func runModelServerScenario(algoqueue: String, broker: DevBroker, directory: String) async throws {
        let root =
            ProcessInfo.processInfo.environment["ALGOQUEUE_MODEL_SERVERS"] ?? "/var/cache/algoqueue/model-servers"
        guard FileManager.default.isExecutableFile(atPath: root + "/mlserver/bin/mlserver") else {
            throw BenchError("MLServer is not installed: run bash scripts/setup-model-servers")
        }
        let port = 18_581
        let train = try runMeasured(
            root + "/mlserver/bin/python",
            [
                try repositoryFile("examples/model-servers/train.py"), directory + "/servers", "--mlserver-port",
                "\(port)",
            ])
        guard train.status == 0 else { throw BenchError("training failed: \(train.output)") }
        let rows = try runMeasured(
            "/usr/bin/env", ["python3", try repositoryFile("examples/models/dataset.py"), "--rows"])
        let inputs = rows.output.split(separator: "\n").map { Array($0.utf8) }
        guard rows.status == 0, !inputs.isEmpty else {
            throw BenchError("examples/models/dataset.py failed: \(rows.output)")
        }
        let server = Process()
        server.executableURL = URL(fileURLWithPath: root + "/mlserver/bin/mlserver")
        server.arguments = ["start", directory + "/servers/mlserver"]
        server.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        server.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try server.run()
        // MLServer finishes its shutdown long after SIGTERM (minutes, seen here): the benchmark does not wait for it.
        defer { kill(server.processIdentifier, SIGKILL) }
        let url = "http://127.0.0.1:\(port)/v2/models/digits"
        var ready = false
        for _ in 0..<240 where !ready {
            ready = (try? runMeasured("/usr/bin/curl", ["-sf", "-o", "/dev/null", url + "/ready"]))?.status == 0
            if !ready { try await Task.sleep(for: .milliseconds(500)) }
        }
        guard ready else { throw BenchError("MLServer did not start on port \(port)") }
        print("\nscenario model-server: the digits classifier in MLServer (Open Inference Protocol), concurrency 8")
        for (label, batch) in [("micro-batches of 32", 32), ("one input per call", 1)] {
            let topic = "bench-server-\(batch)"
            try broker.createTopic(topic, partitions: 8)
            try await publish(messages, to: topic, brokers: broker.bootstrapServers) { inputs[$0 % inputs.count] }
            let serverBefore = cpuSeconds(ofProcess: server.processIdentifier) ?? 0
            let usage = try runMeasured(
                algoqueue,
                [
                    "run", "--brokers", broker.bootstrapServers, "--topic", topic, "--group", topic, "--url",
                    url + "/infer", "--protocol", "open-inference", "--batch-max-items", "\(batch)", "--concurrency",
                    "8",
                    "--database", directory + "/\(topic).db", "--until-idle", "--log-level", "error",
                ])
            guard usage.status == 0, let seconds = Self.processingSeconds(usage.output) else {
                throw BenchError("algoqueue run failed (\(usage.status)): \(usage.output)")
            }
            let serverCPU = (cpuSeconds(ofProcess: server.processIdentifier) ?? 0) - serverBefore
            print(
                String(
                    format:
                        "  %@: %.0f messages/s; algoqueue %.3f CPU s per 1000 messages, MLServer %.3f; algoqueue's share %.1f%%",
                    label, Double(messages) / seconds, usage.cpuSeconds / Double(messages) * 1000,
                    serverCPU / Double(messages) * 1000, usage.cpuSeconds / (usage.cpuSeconds + serverCPU) * 100))
        }
    }
}
