import Foundation

/// What a lean C client costs against the same endpoint at the same concurrency: `wrk` (one thread, epoll, no
/// Swift, no NIO), if it is installed (`apt-get install -y wrk`). Not a target: it shows what any HTTP client on this
/// machine pays per call in the kernel and at the endpoint, at full speed and while calls wait.
struct ClientFloor {
    let requests: Int
    let seconds: Double
    let cpuSeconds: Double

    var rate: Double { Double(requests) / seconds }
    var cpuPerThousand: Double { cpuSeconds / Double(requests) * 1000 }

    static let program = "/usr/bin/wrk"

    static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: program) }

    /// Runs `wrk` for `seconds` against `url` with `connections` connections, posting the benchmark's own input.
    /// Nil when `wrk` is not installed.
    static func measure(url: String, connections: Int, seconds: Int, directory: String) throws -> ClientFloor? {
        guard isInstalled else { return nil }
        let script = directory + "/wrk-post.lua"
        try """
        wrk.method = "POST"
        wrk.body = '{"n": 21}'
        wrk.headers["Content-Type"] = "application/json"
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let run = try runMeasured(
            program, ["-t1", "-c\(connections)", "-d\(seconds)s", "-s", script, "--timeout", "10s", url])
        guard run.status == 0, let counted = Self.counted(in: run.output), counted.requests > 0 else {
            throw BenchError("wrk failed (\(run.status)): \(run.output)")
        }
        if run.output.contains("Non-2xx") || run.output.contains("Socket errors") {
            throw BenchError("wrk saw failed requests: \(run.output)")
        }
        return ClientFloor(requests: counted.requests, seconds: counted.seconds, cpuSeconds: run.cpuSeconds)
    }

    /// `N requests in 5.00s, ...` → (N, 5.00); nil for another length unit (wrk prints `ms` and `m` too; it is told
    /// whole seconds).
    static func counted(in output: String) -> (requests: Int, seconds: Double)? {
        guard let range = output.range(of: " requests in ") else { return nil }
        let line = output[..<range.lowerBound].split(separator: "\n").last ?? ""
        let length = output[range.upperBound...].prefix { $0 != "," }
        guard let requests = Int(line.trimmingCharacters(in: .whitespaces)), length.hasSuffix("s"),
            !length.hasSuffix("ms"), let seconds = Double(length.dropLast())
        else { return nil }
        return (requests, seconds)
    }

    /// The line the benchmark prints for it.
    func summary(concurrency: Int) -> String {
        String(
            format:
                "  floor: wrk (C, one thread, epoll) at %d connections: %.0f requests/s, %.3f CPU s per 1000 requests",
            concurrency, rate, cpuPerThousand)
    }

    static let notInstalled =
        "  floor: wrk is not installed (apt-get install -y wrk), so the lean C client is not measured"
}

extension Run {
    /// The latency-bound scenario's floor: the lean C client against the same endpoint at the same concurrency, its
    /// share of the ideal rate, and its CPU per call while calls wait against its own at full speed (`fastFloor`, from
    /// the single scenario). A client's cost per call is its system calls and wake-ups; waiting removes none of them.
    func latencyFloor(url: String, concurrency: Int, ideal: Double, fastFloor: ClientFloor?, directory: String) throws {
        guard let floor = try ClientFloor.measure(url: url, connections: concurrency, seconds: 5, directory: directory)
        else {
            print(ClientFloor.notInstalled)
            return
        }
        print(floor.summary(concurrency: concurrency) + String(format: " = %.3f of ideal", floor.rate / ideal))
        guard let fastFloor else { return }
        print(
            String(
                format:
                    "  the same ratio for wrk: %.3f CPU s per 1000 requests here against %.3f at full speed (single): %.2f",
                floor.cpuPerThousand, fastFloor.cpuPerThousand, floor.cpuPerThousand / fastFloor.cpuPerThousand))
    }
}
