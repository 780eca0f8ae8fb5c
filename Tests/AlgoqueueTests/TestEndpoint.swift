import AlgoqueueDemo
import AlgoqueueHTTPServer
import AlgoqueueSupport
import Foundation

/// A real HTTP endpoint on loopback standing in for a model. For `{"n": k}` it answers `{"doubled": 2k}`.
/// Inputs can ask for trouble: `{"fail": true}` gets HTTP 500, `{"hang": true}` answers only after
/// `hangFor`, `{"garbage": true}` answers 200 with text that is not JSON. `delay` slows every call.
/// Per input `n`: `"failTimes": k` answers 500 to its first k calls, `"hangTimes": k` hangs on its first k
/// calls, and `"retryAfter": s` turns those failures into 429 with `Retry-After: s`; `"delayMs": k` adds k ms to
/// that input's calls.
final class TestEndpoint: Sendable {
    let server: LoopbackHTTPServer
    let calls: Locked<Int>
    let sources: Locked<[String]>
    let lastHeaders: Locked<[String: String]>
    /// Calls per input `n`, with the time of each call.
    let callTimes: Locked<[Int: [ContinuousClock.Instant]]>

    var url: String { server.baseURL + "/predict" }
    var callCount: Int { calls.withLock { $0 } }
    /// How many calls each input `n` got.
    var callsPerInput: [Int: Int] { callTimes.withLock { $0.mapValues(\.count) } }

    static func start(delay: Duration = .zero, hangFor: Duration = .seconds(5)) async throws -> TestEndpoint {
        let calls = Locked(0)
        let sources = Locked([String]())
        let lastHeaders = Locked([String: String]())
        let callTimes = Locked([Int: [ContinuousClock.Instant]]())
        let server = try await LoopbackHTTPServer.start { request in
            calls.withLock { $0 += 1 }
            lastHeaders.withLock { headers in
                headers = [:]
                // A header sent twice shows as "first, second".
                for (name, value) in request.headers {
                    headers[name.lowercased()] = headers[name.lowercased()].map { $0 + ", " + value } ?? value
                }
            }
            if let source = request.header("X-Algoqueue-Source") { sources.withLock { $0.append(source) } }
            let object = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
            // Calls are counted per input as they arrive, before any delay.
            let count = (object["n"] as? Int).map { n in
                callTimes.withLock { times in
                    times[n, default: []].append(ContinuousClock.now)
                    return times[n]!.count
                }
            }
            if delay > .zero { try? await Task.sleep(for: delay) }
            if let extra = object["delayMs"] as? Int { try? await Task.sleep(for: .milliseconds(extra)) }
            if let count {
                if let failTimes = object["failTimes"] as? Int, count <= failTimes {
                    if let retryAfter = object["retryAfter"] as? Int {
                        return LoopbackHTTPReply(
                            status: 429,
                            headers: [("Retry-After", String(retryAfter)), ("Content-Type", "application/json")],
                            body: Array(#"{"error": "slow down"}"#.utf8))
                    }
                    return .json(500, #"{"error": "flaky failure \#(count) of \#(failTimes)"}"#)
                }
                if let hangTimes = object["hangTimes"] as? Int, count <= hangTimes {
                    try? await Task.sleep(for: hangFor)
                }
            }
            if object["fail"] as? Bool == true {
                return .json(500, #"{"error": "boom: the model crashed"}"#)
            }
            if object["hang"] as? Bool == true {
                try? await Task.sleep(for: hangFor)
            }
            if object["garbage"] as? Bool == true {
                return LoopbackHTTPReply(
                    status: 200, headers: [("Content-Type", "text/html")], body: Array("<html>oops</html>".utf8))
            }
            guard let n = object["n"] as? Int else {
                return .json(422, #"{"error": "input needs an integer field n"}"#)
            }
            return .json(200, #"{"doubled": \#(n * 2)}"#)
        }
        return TestEndpoint(
            server: server, calls: calls, sources: sources, lastHeaders: lastHeaders, callTimes: callTimes)
    }

    private init(
        server: LoopbackHTTPServer, calls: Locked<Int>, sources: Locked<[String]>,
        lastHeaders: Locked<[String: String]>,
        callTimes: Locked<[Int: [ContinuousClock.Instant]]>
    ) {
        self.server = server
        self.callTimes = callTimes
        self.calls = calls
        self.sources = sources
        self.lastHeaders = lastHeaders
    }

    func stop() async {
        await server.stop()
    }
}

/// The built `algoqueue` executable, next to the test bundle.
func algoqueueBinary() throws -> String {
    var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    let candidates: [String] = {
        var found: [String] = []
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        found.append(executable.appendingPathComponent("algoqueue").path)
        while directory.path != "/" {
            found.append(directory.appendingPathComponent(".build/debug/algoqueue").path)
            directory = directory.deletingLastPathComponent()
        }
        return found
    }()
    guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw ValidationFailure(
            "the algoqueue binary is not built; run swift build first (looked in \(candidates.prefix(2)))")
    }
    return path
}

struct ValidationFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Waits until `condition` holds, checking every 20 ms, for at most `timeout`. Returns whether it held.
func eventually(within timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
