import AlgoqueueHTTPServer
import AlgoqueueSupport

/// One scenario's endpoint and settings.
struct Scenario {
    let name: String
    let path: String
    let concurrency: Int
    let batchItems: Int
    let latency: Duration

    init(name: String, concurrency: Int) throws {
        self.name = name
        switch name {
        case "single": (path, self.concurrency, batchItems, latency) = ("/single", concurrency, 1, .zero)
        case "batch": (path, self.concurrency, batchItems, latency) = ("/batch", 4, 100, .zero)
        case "latency": (path, self.concurrency, batchItems, latency) = ("/single", 64, 1, .milliseconds(20))
        case "adaptive": (path, self.concurrency, batchItems, latency) = ("/capped", 0, 1, .milliseconds(20))
        case "python": (path, self.concurrency, batchItems, latency) = ("/single", 64, 1, .zero)
        default: throw BenchError("unknown scenario \(name): use single, batch, latency, adaptive, python or model")
        }
    }

    /// The `--concurrency` value: `auto` for the adaptive scenario.
    var concurrencyFlag: String { name == "adaptive" ? "auto" : String(concurrency) }

    var summary: String {
        switch name {
        case "adaptive":
            "--concurrency auto against an endpoint that serves 16 calls at once (20 ms) and answers 429 above"
        case "single": "one call per message, concurrency \(concurrency), fast endpoint"
        case "python":
            "one call per message, concurrency \(concurrency), fast endpoint, against a tuned Python consumer"
        case "batch": "micro-batches of \(batchItems), concurrency \(concurrency), fast endpoint"
        default: "latency-bound endpoint (\(latency.milliseconds) ms per call), concurrency \(concurrency)"
        }
    }
}

/// The loopback endpoint: doubles `n`, for one input or a list; waits `latency` first.
enum Endpoint {
    /// Calls `/capped` is serving, and how many it refused (it serves 16 at once).
    static let active = Locked(0)
    static let refused = Locked(0)

    /// How long latency-bound calls were actually held, summed, and how many there were: the ideal rate assumes
    /// exactly `latency`, so the benchmark prints what the endpoint itself added.
    static let held = Locked((total: Duration.zero, calls: 0))

    /// Answers on the connection's event loop and writes the reply `latency` later, from the loop's own timer: no
    /// hop to a task and back and no timer thread, so that what the endpoint adds to `latency` is as small as the
    /// event loop makes it (``held`` says how much).
    static func answer(_ request: LoopbackHTTPRequest, latency: Duration) -> TimedReply {
        let start = ContinuousClock.now
        let release: @Sendable () -> Void = {
            guard latency > .zero else { return }
            let took = ContinuousClock.now - start
            held.withLock {
                $0.total += took
                $0.calls += 1
            }
        }
        if request.uri.hasPrefix("/capped") {
            let admitted = active.withLock { count -> Bool in
                guard count < 16 else { return false }
                count += 1
                return true
            }
            guard admitted else {
                refused.withLock { $0 += 1 }
                return TimedReply(
                    LoopbackHTTPReply(
                        status: 429, headers: [("Retry-After", "0"), ("Content-Type", "application/json")],
                        body: Array(#"{"error": "busy"}"#.utf8)))
            }
            return TimedReply(
                .json(200, #"{"doubled": \#((JSONSyntaxLite.numbers(request.body).first ?? 0) * 2)}"#), after: latency
            ) {
                release()
                active.withLock { $0 -= 1 }
            }
        }
        if request.uri.hasPrefix("/batch") {
            let elements = JSONSyntaxLite.numbers(request.body)
            return TimedReply(
                .json(200, "[" + elements.map { #"{"doubled": \#($0 * 2)}"# }.joined(separator: ",") + "]"),
                after: latency, whenDue: release)
        }
        return TimedReply(
            .json(200, #"{"doubled": \#((JSONSyntaxLite.numbers(request.body).first ?? 0) * 2)}"#), after: latency,
            whenDue: release)
    }
}

/// The integers after each `"n":` in a body: enough for the benchmark's own inputs, and cheap.
enum JSONSyntaxLite {
    static func numbers(_ body: [UInt8]) -> [Int] {
        var result: [Int] = []
        var index = 0
        let marker = Array(#""n":"#.utf8)
        while index + marker.count <= body.count {
            if body[index..<index + marker.count].elementsEqual(marker) {
                index += marker.count
                while index < body.count, body[index] == 0x20 { index += 1 }
                var value = 0
                while index < body.count, body[index] >= 0x30, body[index] <= 0x39 {
                    value = value * 10 + Int(body[index] - 0x30)
                    index += 1
                }
                result.append(value)
            } else {
                index += 1
            }
        }
        return result
    }
}
