import AlgoqueueHTTPServer
import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import ArgumentParser
import Foundation

/// `algoqueue-bench`: measures algoqueue against references taken in the same run on the same machine.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "algoqueue-bench",
        abstract: "Throughput benchmark: algoqueue against references measured in the same run.",
        discussion: """
            Starts a development broker and a loopback HTTP endpoint in this process, publishes the inputs, \
            runs the real `algoqueue run --until-idle` as a child process (its CPU time and peak RSS come \
            from the kernel), and measures the references as child processes too: the consumer alone, the \
            HTTP client alone at the same concurrency, SQLite writes alone, and, if it is installed, `wrk` \
            (a lean C client) against the same endpoint. Processing time runs from the first message \
            consumed to the last row written (joining the group is not counted).

            Build in release mode first:
              swift build -c release && .build/release/algoqueue-bench --messages 50000
            Optional references: apt-get install -y wrk; pip install confluent-kafka aiohttp (--scenarios python)
            """,
        subcommands: [Run.self, ConsumeOnly.self, HTTPOnly.self, SQLiteOnly.self, SQLiteCLoop.self],
        defaultSubcommand: Run.self
    )
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the scenarios and print figures.")

    @Option(help: "Messages per scenario.")
    var messages = 20_000

    @Option(
        help:
            "Scenarios: single, batch, latency, adaptive, python, model, model-server, results-topic, collect (comma-separated)."
    )
    var scenarios = "single,batch,latency"

    @Option(help: "Calls in flight for the single-call scenario.")
    var concurrency = 16

    @Option(help: "A configuration file passed to algoqueue run (to compare settings, such as store.synchronous).")
    var config: String?

    @Option(
        help:
            "Another algoqueue binary (a before build): the collect scenario runs it too in each round, alternating.")
    var compareWith: String?

    @Option(help: "Also measure an idle service's CPU over this many seconds (0: skip).")
    var idleSeconds = 0

    @Flag(
        inversion: .prefixedNo,
        help: "Compare each scenario's rows with a serial run (concurrency 1, no batches) of the same messages.")
    var verify = true

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "algoqueue-bench-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let algoqueue = executable.deletingLastPathComponent().appendingPathComponent("algoqueue").path
        guard FileManager.default.isExecutableFile(atPath: algoqueue) else {
            throw BenchError("no algoqueue binary next to \(executable.path): build the package first")
        }
        print(
            "machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory >> 30) GiB; \(messages) messages per scenario"
        )
        let broker = try DevBroker(logger: quietLogger())
        defer { withExtendedLifetime(broker) {} }
        let latency = Locked(Duration.zero)
        let server = try await LoopbackHTTPServer.start(timed: { request in
            Endpoint.answer(request, latency: latency.withLock { $0 })
        })
        // The endpoint stops before this returns, whatever the scenarios did.
        let outcome: Result<Void, any Error>
        do {
            if idleSeconds > 0 {
                try await measureIdle(algoqueue: algoqueue, brokers: broker.bootstrapServers, url: server.baseURL)
            }
            // The single scenario's CPU per 1000 messages, for the latency-bound target (half of it).
            var fastPathCPU: Double?
            // The lean C client at full speed (single), for its own figure at 20 ms (latency).
            var fastFloor: ClientFloor?
            for scenario in scenarios.split(separator: ",").map(String.init) where !scenario.isEmpty {
                if scenario == "model-server" {
                    try await runModelServerScenario(algoqueue: algoqueue, broker: broker, directory: directory)
                    continue
                }
                if scenario == "results-topic" {
                    try await runResultsTopicScenario(
                        algoqueue: algoqueue, broker: broker, url: server.baseURL, directory: directory,
                        executable: executable.path)
                    continue
                }
                if scenario == "collect" {
                    try await runCollectScenario(algoqueue: algoqueue, broker: broker, directory: directory)
                    continue
                }
                if scenario == "model" {
                    try await runModelScenario(algoqueue: algoqueue, broker: broker, directory: directory)
                    continue
                }
                let setup = try Scenario(name: scenario, concurrency: concurrency)
                latency.withLock { $0 = setup.latency }
                Endpoint.held.withLock { $0 = (.zero, 0) }
                let topic = "bench-\(scenario)"
                try broker.createTopic(topic, partitions: 8)
                try await publish(messages, to: topic, brokers: broker.bootstrapServers)
                let database = directory + "/\(scenario).db"
                var arguments = [
                    "run", "--brokers", broker.bootstrapServers, "--topic", topic, "--group", "bench", "--url",
                    server.baseURL + setup.path, "--database", database, "--until-idle", "--concurrency",
                    setup.concurrencyFlag,
                    "--log-level", "error",
                ]
                if setup.batchItems > 1 { arguments += ["--batch-max-items", String(setup.batchItems)] }
                if let config { arguments += ["--config", config] }
                let before = try referenceBefore(
                    setup, url: server.baseURL, directory: directory, executable: executable.path)
                let ownBefore = Self.ownCPUSeconds()
                let usage = try runMeasured(algoqueue, arguments)
                let ownCPU = Self.ownCPUSeconds() - ownBefore
                guard usage.status == 0, let seconds = Self.processingSeconds(usage.output) else {
                    throw BenchError("algoqueue run failed (\(usage.status)): \(usage.output)")
                }
                let rate = Double(messages) / seconds
                let cpuPerThousand = usage.cpuSeconds / Double(messages) * 1000
                if scenario == "single" { fastPathCPU = cpuPerThousand }
                let store = try ResultsStore.open(StoreConfiguration(path: database), logger: quietLogger())
                let stats = try store.statistics()
                store.close()
                print("\nscenario \(scenario): \(setup.summary)")
                print(
                    String(
                        format: "  algoqueue: %.0f messages/s, %.3f CPU s per 1000 messages, peak RSS %.1f MB", rate,
                        cpuPerThousand, Double(usage.peakRSSBytes) / 1e6))
                print(
                    String(
                        format: "  call latency: p50 %.2f ms, p99 %.2f ms; rows %d", stats.p50Milliseconds ?? 0,
                        stats.p99Milliseconds ?? 0, stats.total))
                print(
                    String(
                        format:
                            "  meanwhile the broker and endpoint used %.2f CPU s, algoqueue %.2f CPU s, in %.2f s wall (2 cores: %.2f core-s)",
                        ownCPU, usage.cpuSeconds, usage.wallSeconds,
                        usage.wallSeconds * Double(ProcessInfo.processInfo.activeProcessorCount)))
                let floor = try await references(
                    for: setup, rate: rate, before: before, cpuPerThousand: cpuPerThousand, fastPathCPU: fastPathCPU,
                    fastFloor: fastFloor, topic: topic,
                    brokers: broker.bootstrapServers, url: server.baseURL,
                    directory: directory, executable: executable.path)
                if scenario == "single" { fastFloor = floor }
                if verify {
                    latency.withLock { $0 = .zero }
                    try compareWithSerialRun(
                        database: database, topic: topic, brokers: broker.bootstrapServers,
                        url: server.baseURL + "/single",
                        directory: directory, algoqueue: algoqueue)
                }
            }
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        await server.stop()
        try outcome.get()
    }

    /// Runs the same messages again one call at a time, without batches, and counts the rows that differ
    /// (coordinates, status or output) between the two stores.
    func compareWithSerialRun(
        database: String, topic: String, brokers: String, url: String, directory: String, algoqueue: String
    ) throws {
        let serial = database.replacingOccurrences(of: ".db", with: "-serial.db")
        let run = try runMeasured(
            algoqueue,
            [
                "run", "--brokers", brokers, "--topic", topic, "--group", "bench-serial", "--url", url, "--database",
                serial,
                "--until-idle", "--concurrency", "1", "--log-level", "error",
            ])
        guard run.status == 0 else { throw BenchError("the serial run failed (\(run.status)): \(run.output)") }
        let rows = "SELECT partition, offset, item, algorithm, status, output FROM"
        let compare = try runMeasured(
            "/usr/bin/sqlite3",
            [
                database,
                "ATTACH '\(serial)' AS serial; SELECT (SELECT COUNT(*) FROM results), (SELECT COUNT(*) FROM serial.results), "
                    + "(SELECT COUNT(*) FROM (\(rows) main.results EXCEPT \(rows) serial.results)), "
                    + "(SELECT COUNT(*) FROM (\(rows) serial.results EXCEPT \(rows) main.results));",
            ])
        let counts = compare.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|").compactMap {
            Int($0)
        }
        guard counts.count == 4 else { throw BenchError("cannot compare with the serial run: \(compare.output)") }
        let same = counts[0] == counts[1] && counts[2] == 0 && counts[3] == 0
        print(
            "  serial run (concurrency 1, no batches): \(counts[1]) rows; rows identical (coordinates, status, output): "
                + (same ? "yes" : "NO (\(counts[2]) only here, \(counts[3]) only in the serial run)"))
    }

    /// Prints the scenario's references; returns the lean C client's figures where it was measured.
    @discardableResult
    func references(
        for setup: Scenario, rate: Double, before: Double?, cpuPerThousand: Double, fastPathCPU: Double?,
        fastFloor: ClientFloor?, topic: String, brokers: String, url: String, directory: String, executable: String
    ) async throws -> ClientFloor? {
        switch setup.name {
        case "adaptive":
            // The same messages again with the limit fixed at what the endpoint serves: auto should come close.
            let algoqueue = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent(
                "algoqueue")
            let fixed = try runMeasured(
                algoqueue.path,
                [
                    "run", "--brokers", brokers, "--topic", topic, "--group", "bench-fixed", "--url", url + setup.path,
                    "--database", directory + "/adaptive-fixed.db", "--until-idle", "--concurrency", "16",
                    "--log-level", "error",
                ])
            guard fixed.status == 0, let fixedSeconds = Self.processingSeconds(fixed.output) else {
                throw BenchError("the --concurrency 16 run failed (\(fixed.status)): \(fixed.output)")
            }
            let fixedRate = Double(messages) / fixedSeconds
            print(
                String(
                    format:
                        "  reference --concurrency 16: %.0f messages/s; auto / fixed 16 = %.3f (target >= 0.80); "
                        + "endpoint refusals (429) during both runs: %d",
                    fixedRate, rate / fixedRate, Endpoint.refused.withLock { $0 }))
        case "python":
            // bench/python_reference.py: confluent-kafka + aiohttp + executemany, same broker, endpoint, messages.
            let script = try repositoryFile("bench/python_reference.py")
            let python = try runMeasured(
                "/usr/bin/env",
                [
                    "python3", script, "--brokers", brokers, "--topic", topic, "--group", "bench-python", "--url",
                    url + setup.path,
                    "--database", directory + "/python-reference.db", "--messages", String(messages), "--concurrency",
                    String(setup.concurrency),
                ])
            guard python.status == 0, let pythonSeconds = Self.value("seconds", in: python.output) else {
                throw BenchError(
                    "the Python reference failed (\(python.status); pip install confluent-kafka aiohttp): \(python.output)"
                )
            }
            print(
                String(
                    format:
                        "  reference tuned Python consumer: %.0f messages/s, %.3f CPU s per 1000 messages, peak RSS %.1f MB; "
                        + "algoqueue / Python = %.2fx (target >= 3)",
                    Double(messages) / pythonSeconds, python.cpuSeconds / Double(messages) * 1000,
                    Double(python.peakRSSBytes) / 1e6, pythonSeconds * rate / Double(messages)))
        case "single":
            let (after, httpCPU) = try referenceRun(executable, httpOnlyArguments(setup, url: url))
            let httpRate = ((before ?? after) + after) / 2
            print(
                String(
                    format:
                        "  reference HTTP-only: %.0f requests/s (%.0f before algoqueue's run, %.0f after), %.3f CPU s "
                        + "per 1000 requests; algoqueue / HTTP-only = %.3f (target >= 0.85); "
                        + "CPU s per 1000 messages %.3f (target <= 0.060)",
                    httpRate, before ?? after, after, httpCPU, rate / httpRate, cpuPerThousand))
            let floor = try ClientFloor.measure(
                url: url + setup.path, connections: setup.concurrency, seconds: 3, directory: directory)
            print(floor?.summary(concurrency: setup.concurrency) ?? ClientFloor.notInstalled)
            try storeReferences(rate: rate, scenario: setup.name, directory: directory, executable: executable)
            return floor
        case "batch":
            let consumeRate = try referenceRate(
                executable,
                [
                    "consume-only", "--brokers", brokers, "--topic", topic, "--group", "bench-consume-only",
                    "--messages", String(messages),
                ])
            // For information only: consuming alone reads from librdkafka's prefetch, which no pipeline that writes a
            // row per message can approach; SQLite-only below is the reference the target is set against.
            print(
                String(
                    format:
                        "  reference consume-only: %.0f messages/s; algoqueue / consume-only = %.3f (for information)",
                    consumeRate, rate / consumeRate))
            // Every message ends as a row: writing rows alone bounds what the pipeline can reach.
            try storeReferences(
                rate: rate, before: before, scenario: setup.name, directory: directory, executable: executable)
        default:
            let ideal = Double(setup.concurrency) / setup.latency.seconds
            print(
                String(
                    format: "  ideal %d / %.3f s = %.0f messages/s; algoqueue / ideal = %.3f (target >= 0.97)",
                    setup.concurrency, setup.latency.seconds, ideal, rate / ideal))
            if setup.name == "latency" {
                // The same calls without Kafka or the store: what the HTTP path and the endpoint leave of the ideal.
                let (httpRate, httpCPU) = try referenceRun(executable, httpOnlyArguments(setup, url: url))
                print(
                    String(
                        format:
                            "  reference HTTP-only (same endpoint and concurrency): %.0f requests/s = %.3f of ideal, "
                            + "%.3f CPU s per 1000 requests; algoqueue / HTTP-only = %.3f",
                        httpRate, httpRate / ideal, httpCPU, rate / httpRate))
            }
            let held = Endpoint.held.withLock { $0 }
            if held.calls > 0 {
                print(
                    String(
                        format: "  the endpoint held each call %.2f ms on average (the ideal assumes %.2f ms)",
                        held.total.seconds * 1000 / Double(held.calls), setup.latency.seconds * 1000))
            }
            if setup.name == "latency", let fastPathCPU {
                print(
                    String(
                        format:
                            "  CPU s per 1000 messages against the single scenario's %.3f: %.2f (target <= 0.50)",
                        fastPathCPU, cpuPerThousand / fastPathCPU))
            }
            if setup.name == "latency" {
                try latencyFloor(
                    url: url + setup.path, concurrency: setup.concurrency, ideal: ideal, fastFloor: fastFloor,
                    directory: directory)
            }
        }
        return nil
    }

    /// Publishes `count` messages: `{"n": N}`, or what `value` makes of N.
    func publish(
        _ count: Int, to topic: String, brokers: String,
        value: @escaping @Sendable (Int) -> [UInt8] = { Array(#"{"n": \#($0)}"#.utf8) }
    ) async throws {
        var configuration = KafkaProducerConfiguration()
        configuration.brokers = [brokers]
        let producer = try KafkaProducer(configuration: configuration, logger: quietLogger())
        var failure: (any Error)?
        await forEachConcurrently(
            0..<count, limit: 2000,
            { n -> (any Error)? in
                do {
                    _ = try await producer.send(KafkaRecord(topic: topic, value: value(n)))
                    return nil
                } catch {
                    return error
                }
            }
        ) { error in
            if failure == nil { failure = error }
        }
        if let failure { throw failure }
        await producer.close()
    }

    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
    }

    static func processingSeconds(_ output: String) -> Double? {
        guard let range = output.range(of: "(processing ") else { return nil }
        return Double(output[range.upperBound...].prefix { $0 != " " })
    }

    static func value(_ name: String, in output: String) -> Double? {
        guard let range = output.range(of: name + "=") else { return nil }
        return Double(output[range.upperBound...].prefix { !$0.isWhitespace })
    }
}
