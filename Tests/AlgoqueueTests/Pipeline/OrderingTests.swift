import AlgoqueueHTTPServer
import AlgoqueueKafka
import AlgoqueuePipeline
import AlgoqueueSupport
import Foundation
import Testing

/// An endpoint that records, per lane, how many calls overlapped and in which order offsets arrived.
final class OrderProbe: Sendable {
    struct State {
        var inFlight: [String: Int] = [:]
        var maxInFlight: [String: Int] = [:]
        var offsets: [String: [Int]] = [:]
        var total = 0
        var maxTotal = 0
    }

    let state = Locked(State())
    let server: LoopbackHTTPServer

    init(lane: @escaping @Sendable (LoopbackHTTPRequest) -> String) async throws {
        let state = self.state
        server = try await LoopbackHTTPServer.start { request in
            let name = lane(request)
            let offset = Int(request.header("X-Algoqueue-Source")?.split(separator: "/").last ?? "") ?? -1
            state.withLock {
                $0.inFlight[name, default: 0] += 1
                $0.maxInFlight[name] = max($0.maxInFlight[name] ?? 0, $0.inFlight[name]!)
                $0.offsets[name, default: []].append(offset)
                $0.total += 1
                $0.maxTotal = max($0.maxTotal, $0.total)
            }
            try? await Task.sleep(for: .milliseconds(15))
            state.withLock {
                $0.inFlight[name]! -= 1
                $0.total -= 1
            }
            return .json(200, #"{"ok": true}"#)
        }
    }
}

/// The offsets whose rows took more than one call, with how many.
func retried(_ database: String) async -> [String] {
    (try? await sqlite3(database, "SELECT offset || ' x' || attempts FROM results WHERE attempts > 1")) ?? []
}

@Suite("Ordering modes")
struct OrderingTests {
    @Test("partition: one call at a time per partition, in offset order, partitions in parallel")
    func partition() async throws {
        let bed = try await TestBed(topic: "by-partition", partitions: 4)
        defer { bed.cleanUp() }
        let probe = try await OrderProbe { request in
            String(request.header("X-Algoqueue-Source")?.split(separator: "/").dropFirst().first ?? "?")
        }
        _ = try await produce(
            (0..<80).map { numberInput($0) }, to: "by-partition", brokers: bed.broker.bootstrapServers)
        var harness = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["by-partition"], group: "p",
            database: bed.directory.file("r.db"),
            url: probe.server.baseURL + "/p")
        harness.concurrency = 4
        harness.ordering = .partition
        // A loaded machine (the whole suite at once on 2 cores) can hold a 15 ms call past the default 5 s timeout;
        // its retry would call that offset twice, which is at-least-once delivery, not an ordering fault.
        harness.timeout = .seconds(30)
        let totals = try await harness.runUntilIdle()
        #expect(totals.durable == 80)
        let state = probe.state.withLock { $0 }
        #expect(state.maxInFlight.count == 4)
        #expect(state.maxInFlight.values.allSatisfy { $0 == 1 }, "\(state.maxInFlight)")
        let calledAgain = await retried(harness.database)
        #expect(
            state.offsets.values.allSatisfy { $0 == $0.sorted() && Set($0).count == $0.count },
            "\(state.offsets); called more than once: \(calledAgain)")
        #expect(state.maxTotal >= 2, "partitions should run in parallel")
        await probe.server.stop()
        await bed.endpoint.stop()
    }

    @Test("key: calls for one key never overlap and run in offset order; keys in parallel")
    func key() async throws {
        let bed = try await TestBed(topic: "by-key", partitions: 1)
        defer { bed.cleanUp() }
        let probe = try await OrderProbe { request in
            let object = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any]
            return object?["k"] as? String ?? "?"
        }
        let values: [[UInt8]?] = (0..<60).map { Array(#"{"k": "k\#($0 % 4)", "n": \#($0)}"#.utf8) }
        _ = try await produce(
            values, to: "by-key", brokers: bed.broker.bootstrapServers, keys: (0..<60).map { "k\($0 % 4)" })
        var harness = PipelineHarness(
            brokers: bed.broker.bootstrapServers, topics: ["by-key"], group: "k", database: bed.directory.file("r.db"),
            url: probe.server.baseURL + "/p")
        harness.concurrency = 4
        harness.ordering = .key
        // A loaded machine (the whole suite at once on 2 cores) can hold a 15 ms call past the default 5 s timeout;
        // its retry would call that offset twice, which is at-least-once delivery, not an ordering fault.
        harness.timeout = .seconds(30)
        let totals = try await harness.runUntilIdle()
        #expect(totals.durable == 60)
        let state = probe.state.withLock { $0 }
        #expect(Set(state.maxInFlight.keys) == ["k0", "k1", "k2", "k3"])
        #expect(state.maxInFlight.values.allSatisfy { $0 == 1 }, "\(state.maxInFlight)")
        let calledAgain = await retried(harness.database)
        #expect(
            state.offsets.values.allSatisfy { $0 == $0.sorted() && $0.count == 15 },
            "\(state.offsets); called more than once: \(calledAgain)")
        #expect(state.maxTotal >= 2, "different keys should run in parallel")
        await probe.server.stop()
        await bed.endpoint.stop()
    }
}
