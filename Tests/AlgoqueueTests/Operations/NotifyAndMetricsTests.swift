import AlgoqueueHTTPServer
import AlgoqueueKafka
import AlgoqueueSupport
import Foundation
import Testing

/// A real datagram socket standing in for systemd's notify socket; collects what arrives.
final class NotifySocket: @unchecked Sendable {
    // `@unchecked Sendable`: the descriptor is written once; messages are behind a lock.
    let path: String
    let descriptor: Int32
    let messages = Locked([String]())

    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw ValidationFailure("cannot bind \(path)") }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count > 0 {
                    messages.withLock { $0.append(String(decoding: buffer[0..<count], as: UTF8.self)) }
                } else if count < 0, errno != EAGAIN, errno != EWOULDBLOCK {
                    break
                }
            }
        }
        thread.start()
    }

    func close() {
        shutdown(descriptor, Int32(SHUT_RDWR))
        Foundation.close(descriptor)
    }
}

/// GETs a URL on loopback; returns status and body, or nil when nothing answers.
func httpGet(_ url: String) async -> (status: Int, body: String)? {
    guard let result = try? await runProgram("/usr/bin/curl", ["-s", "-m", "5", "-w", "\n%{http_code}", url]),
        result.status == 0
    else { return nil }
    var lines = result.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let status = Int(lines.removeLast()) ?? 0
    return (status, lines.joined(separator: "\n"))
}

@Suite("Operations: systemd, metrics, health")
struct NotifyAndMetricsTests {
    @Test("READY, WATCHDOG and STOPPING reach the notify socket, in that order")
    func notify() async throws {
        let bed = try await TestBed(topic: "notify", partitions: 2)
        defer { bed.cleanUp() }
        _ = try await produce((0..<20).map { numberInput($0) }, to: "notify", brokers: bed.broker.bootstrapServers)
        let socket = try NotifySocket(path: bed.directory.file("notify.sock"))
        defer { socket.close() }
        let arguments =
            runArguments(
                brokers: bed.broker.bootstrapServers, topic: "notify", group: "notify", url: bed.endpoint.url,
                database: bed.directory.file("r.db")) + ["--concurrency", "auto"]
        let service = try RunningProgram(
            try algoqueueBinary(), arguments, directory: bed.directory, name: "notify",
            environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "1000000"])
        let settled = await eventually(within: .seconds(60)) {
            let messages = socket.messages.withLock { $0 }
            return messages.contains("READY=1") && messages.contains("WATCHDOG=1")
                && messages.contains { $0.hasPrefix("STATUS=consumed 20, ok 20, errors 0, lag 0, ") }
        }
        #expect(settled, "\(socket.messages.withLock { $0 })")
        service.signal(SIGTERM)
        #expect(await service.exitStatus(within: .seconds(30)) == 0)
        let messages = socket.messages.withLock { $0 }
        let ready = try #require(messages.firstIndex(of: "READY=1"))
        let firstWatchdog = try #require(messages.firstIndex(of: "WATCHDOG=1"))
        let stopping = try #require(messages.firstIndex(of: "STOPPING=1"))
        #expect(ready < firstWatchdog && firstWatchdog < stopping, "\(messages)")
        #expect(
            // With --concurrency auto the STATUS line shows where the limit stands.
            messages.contains {
                $0.hasPrefix("STATUS=consumed 20, ok 20, errors 0, lag 0, ") && $0.contains("/s, limit ")
                    && $0.hasSuffix(" in flight")
            },
            "\(messages)")
        #expect(messages[..<ready].allSatisfy { $0 != "WATCHDOG=1" })
        await bed.endpoint.stop()
    }

    @Test("/metrics is scraped and parsed during a run; /readyz goes false on a stalled endpoint and true again")
    func metricsAndReadiness() async throws {
        let bed = try await TestBed(topic: "metrics", partitions: 2)
        defer { bed.cleanUp() }
        let stuck = Locked(true)
        let server = try await LoopbackHTTPServer.start { request in
            let object = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
            if object["stall"] as? Bool == true {
                while stuck.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(20)) }
            }
            return .json(200, #"{"fine": true}"#)
        }
        var values = (0..<30).map { numberInput($0) }
        values.append(Array(#"{"stall": true}"#.utf8))
        _ = try await produce(values, to: "metrics", brokers: bed.broker.bootstrapServers, partition: 0)
        let config = bed.directory.file("c.yaml")
        try "health:\n  stall_timeout: 1s\n".write(toFile: config, atomically: true, encoding: .utf8)
        let arguments =
            runArguments(
                brokers: bed.broker.bootstrapServers, topic: "metrics", group: "metrics", url: server.baseURL + "/p",
                database: bed.directory.file("r.db")) + [
                "--config", config, "--metrics-listen", "127.0.0.1:0", "--timeout", "60s",
            ]
        let service = try RunningProgram(try algoqueueBinary(), arguments, directory: bed.directory, name: "metrics")
        let base = try await statusPageURL(of: service)
        #expect(
            await eventually(within: .seconds(30)) { await httpGet(base + "/healthz")?.status == 200 },
            "\(service.errorOutput)")
        let stalled = await eventually(within: .seconds(60)) {
            guard let ready = await httpGet(base + "/readyz") else { return false }
            return ready.status == 503 && ready.body.contains("a call has been running for")
        }
        #expect(stalled)
        // The gauges follow the pipeline's 1-second tick.
        _ = await eventually(within: .seconds(5)) {
            Self.parse(await httpGet(base + "/metrics")?.body ?? "")["algoqueue_calls_in_flight"] == 1
        }
        let metrics = try #require(await httpGet(base + "/metrics"))
        let samples = Self.parse(metrics.body)
        #expect(samples["algoqueue_messages_consumed_total"] == 31)
        #expect(samples["algoqueue_rows_total{status=\"ok\"}"] == 30)
        #expect(samples["algoqueue_calls_in_flight"] == 1)
        // A fixed --concurrency is the limit in force (it used to read 0).
        #expect(samples["algoqueue_concurrency_limit"] == 4)
        #expect(samples["algoqueue_call_duration_seconds_count"] == 30)
        #expect((samples["algoqueue_store_commit_duration_seconds_count"] ?? 0) >= 1)
        #expect(samples["algoqueue_partition_lag{topic=\"metrics\",partition=\"0\"}"] == 1)
        stuck.withLock { $0 = false }
        #expect(await eventually(within: .seconds(30)) { await httpGet(base + "/readyz")?.status == 200 })
        service.signal(SIGTERM)
        #expect(await service.exitStatus(within: .seconds(30)) == 0)
        await server.stop()
        await bed.endpoint.stop()
    }

    /// Prometheus text format: `name{labels} value` per line, comments skipped.
    static func parse(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            samples[String(line[..<space])] = value
        }
        return samples
    }
}
