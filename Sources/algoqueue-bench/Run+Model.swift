import AlgoqueueKafka
import AlgoqueueSupport
import Foundation

/// The compute-bound scenario: the digits classifier of examples/models as a `process` target. What matters
/// here is how much of the machine algoqueue itself takes next to the model it feeds.
extension Run {
    func runModelScenario(algoqueue: String, broker: DevBroker, directory: String) async throws {
        let worker = try repositoryFile("examples/models/worker.py")
        let models = URL(fileURLWithPath: worker).deletingLastPathComponent().path
        // The inputs: the data set's rows, repeated up to the message count.
        let rows = try runMeasured("/usr/bin/env", ["python3", models + "/dataset.py"])
        let inputs = rows.output.split(separator: "\n").map { Array($0.utf8) }
        guard rows.status == 0, !inputs.isEmpty else {
            throw BenchError("examples/models/dataset.py failed (pip install scikit-learn): \(rows.output)")
        }
        let topic = "bench-model"
        try broker.createTopic(topic, partitions: 8)
        try await publish(messages, to: topic, brokers: broker.bootstrapServers) { inputs[$0 % inputs.count] }
        // Reference: what one worker costs before its first answer (importing scikit-learn, training).
        let start = try runMeasured(
            "/usr/bin/env",
            ["python3", "-c", "import sys; sys.path.insert(0, '\(models)'); import digits; digits.train()"])
        let workers = 2
        let config = directory + "/model.yaml"
        try """
        algorithm: {kind: process, name: digits, command: [python3, \(worker), --threads, "2"], workers: \(workers)}
        pipeline: {concurrency: 8}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let sampler = ProcessTreeSampler()
        let usage = try runMeasured(
            algoqueue,
            [
                "run", "--brokers", broker.bootstrapServers, "--topic", topic, "--group", "bench", "--config", config,
                "--database", directory + "/model.db", "--until-idle", "--log-level", "error",
            ], whileRunning: sampler.sample)
        guard usage.status == 0, let seconds = Self.processingSeconds(usage.output) else {
            throw BenchError("algoqueue run failed (\(usage.status)): \(usage.output)")
        }
        let own = sampler.own
        let model = sampler.children
        let modelScoring = max(model - start.cpuSeconds * Double(workers), 0)
        print("\nscenario model: the digits classifier (scikit-learn) as \(workers) worker processes, concurrency 8")
        print(
            String(
                format:
                    "  algoqueue: %.0f messages/s, its own CPU %.3f s per 1000 messages; largest peak RSS (a worker's) %.1f MB",
                Double(messages) / seconds, own / Double(messages) * 1000, Double(usage.peakRSSBytes) / 1e6))
        print(
            String(
                format:
                    "  the model's workers: %.2f CPU s, of which starting (import, training: %.2f s each, measured alone) "
                    + "%.2f s; scoring %.3f CPU s per 1000 messages",
                model, start.cpuSeconds, start.cpuSeconds * Double(workers), modelScoring / Double(messages) * 1000))
        print(
            String(
                format: "  algoqueue's share of the CPU spent on scoring: %.1f%% (algoqueue %.2f s, model %.2f s)",
                own / (own + modelScoring) * 100, own, modelScoring))
    }

    /// A file of this repository, found from the working directory or from the binary's place in `.build`.
    func repositoryFile(_ relative: String) throws -> String {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        let candidates = [
            FileManager.default.currentDirectoryPath + "/" + relative,
            binary.appendingPathComponent("../../" + relative).standardizedFileURL.path,
            binary.appendingPathComponent("../../../" + relative).standardizedFileURL.path,
        ]
        guard let found = candidates.first(where: FileManager.default.fileExists(atPath:)) else {
            throw BenchError("cannot find \(relative): run the benchmark from the repository")
        }
        return found
    }
}

/// CPU of a running process and of its children, sampled from /proc until it exits (the last sample stands).
final class ProcessTreeSampler: @unchecked Sendable {
    // `@unchecked Sendable`: written by the sampling thread, read after `runMeasured` has joined it.
    private(set) var own = 0.0
    private var childCPU: [Int32: Double] = [:]
    var children: Double { childCPU.values.reduce(0, +) }

    func sample(_ pid: Int32) {
        if let cpu = cpuSeconds(ofProcess: pid) { own = cpu }
        for child in Self.children(of: pid) {
            if let cpu = cpuSeconds(ofProcess: child) { childCPU[child] = cpu }
        }
    }

    static func children(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            // After the command: state, then the parent's pid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == parent
        }
    }
}
