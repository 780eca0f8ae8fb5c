import AlgoqueueHTTPServer
import AlgoqueueKafka
import AlgoqueueSupport
import Foundation
import Testing

@testable import AlgoqueuePipeline

@Suite("Scale-out: --until-idle in a group")
struct GroupIdleTests {
    @Test(
        "a member killed with -9 keeps its partitions until its session ends; --until-idle waits for them and leaves no input without a row"
    )
    func waitsForAKilledMembersPartitions() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        try broker.createTopic("held", partitions: 2)
        // Calls hang while the first instance runs (it dies holding both partitions), then answer at once.
        let hanging = Locked(true)
        let calls = Locked(0)
        let server = try await LoopbackHTTPServer.start { request in
            calls.withLock { $0 += 1 }
            if hanging.withLock({ $0 }) { try? await Task.sleep(for: .seconds(60)) }
            let object = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
            return .json(200, #"{"doubled": \#(2 * (object["n"] as? Int ?? 0))}"#)
        }
        let count = 40
        _ = try await produce(
            (0..<count).map { numberInput($0) }, to: "held", brokers: broker.bootstrapServers,
            keys: (0..<count).map { "k\($0)" })
        func instance(_ name: String) throws -> RunningProgram {
            try RunningProgram(
                try algoqueueBinary(),
                [
                    "run", "--brokers", broker.bootstrapServers, "--topic", "held", "--group", "held", "--url",
                    server.baseURL + "/predict", "--database", directory.file("\(name).db"), "--concurrency", "2",
                    "--until-idle", "--kafka-property", "session.timeout.ms=8000", "--kafka-property",
                    "heartbeat.interval.ms=500",
                ], directory: directory, name: name)
        }
        let first = try instance("first")
        let calling = await eventually(within: .seconds(60)) { calls.withLock { $0 } >= 2 }
        #expect(calling, "the first instance made no call: \(first.errorOutput.suffix(500))")
        first.signal(SIGKILL)
        #expect(await first.exitStatus(within: .seconds(10)) == SIGKILL)
        hanging.withLock { $0 = false }

        // Joining, the second instance may be given only part of the topic while the dead member still counts
        // in the group; it is not done before the dead member's partitions come round to it.
        let second = try instance("second")
        let status = await second.exitStatus(within: .seconds(90))
        #expect(status == 0, "\(second.errorOutput.suffix(800))")
        #expect(
            try await sqlite3(
                directory.file("second.db"),
                "SELECT COUNT(DISTINCT json_extract(input, '$.n')), SUM(status = 'ok') FROM results")
                == ["\(count)|\(count)"],
            "\(second.errorOutput.suffix(1500))")
        #expect(second.errorOutput.contains("idle: every partition is consumed to its end and written"))
        await server.stop()
    }

    @Test("the group's answer wakes the loop: the check reports each answer, after which the instance is done")
    func answerWakesTheLoop() async throws {
        let broker = try DevBroker(logger: testLogger())
        defer { withExtendedLifetime(broker) {} }
        try broker.createTopic("answered", partitions: 2)
        var kafka = KafkaConsumerConfiguration()
        kafka.brokers = [broker.bootstrapServers]
        kafka.topics = ["answered"]
        kafka.groupID = "answered"
        let answers = Locked(0)
        let check = GroupIdleCheck(kafka: kafka, admin: nil, logger: testLogger()) { answers.withLock { $0 += 1 } }
        // This instance owns every partition: nobody else's can be behind, once the cluster has said so.
        let all: Set = [TopicPartition("answered", 0), TopicPartition("answered", 1)]
        try await withThrowingTaskGroup(of: Void.self) { beside in
            beside.addTask { await check.run() }
            // No answer yet: not done, and the question goes out.
            #expect(!check.othersDone(assignment: all))
            let answered = await eventually(within: .seconds(30)) { answers.withLock { $0 } >= 1 }
            #expect(answered, "the check never reported an answer")
            // Judged again on that report (not on a later heartbeat), the instance is done.
            #expect(check.othersDone(assignment: all))
            beside.cancelAll()
        }
    }
}
