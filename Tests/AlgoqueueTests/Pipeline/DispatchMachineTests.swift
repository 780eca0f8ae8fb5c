import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import Testing

@testable import AlgoqueuePipeline
@testable import AlgoqueueWriter

/// The dispatch loop's decisions, without Kafka, tasks or an algorithm: signals in, actions out.
@Suite("Dispatch machine: what each signal makes the loop do")
struct DispatchMachineTests {
    let p0 = TopicPartition("in", 0)
    let p1 = TopicPartition("in", 1)

    func messages(_ partition: TopicPartition, _ offsets: ClosedRange<Int64>, bytes: Int = 10, key: String? = nil)
        -> [KafkaMessage]
    {
        offsets.map {
            KafkaMessage(
                topic: partition.topic, partition: partition.partition, offset: $0, key: key.map { Array($0.utf8) },
                value: Array(repeating: UInt8(ascii: "x"), count: bytes))
        }
    }

    /// A machine with `partitions` assigned from offset 0 (their first assignment reports the join).
    func machine(
        batching: BatchConfiguration = BatchConfiguration(), ordering: Ordering = .unordered, untilIdle: Bool = true,
        assigned partitions: [TopicPartition], tracker: Locked<OffsetTracker>
    ) -> DispatchMachine {
        var machine = DispatchMachine(batching: batching, ordering: ordering, untilIdle: untilIdle)
        let actions = machine.handle(
            .kafka(.assigned(Dictionary(uniqueKeysWithValues: partitions.map { ($0, 0) }))), tracker: tracker)
        #expect(Self.names(actions) == ["joined"])
        return machine
    }

    /// Each action's name and its count of messages, for comparing sequences.
    static func names(_ actions: [DispatchMachine.Action]) -> [String] {
        actions.map { action in
            switch action {
            case .call(let work): "call \(work.message.partition)/\(work.message.offset)"
            case .callInLane(let work, let lane): "lane \(lane.split(separator: "\u{0}").last!) \(work.message.offset)"
            case .callBatch(let works): "batch \(works.map(\.message.offset))"
            case .startLinger(let number): "linger \(number)"
            case .release(let messages, let bytes): "release \(messages) \(bytes)"
            case .consumed(let count): "consumed \(count)"
            case .joined: "joined"
            case .askCommitted(let partitions): "ask \(partitions.map(\.partition).sorted())"
            case .fail(let error): "fail \(error.code)"
            }
        }
    }

    @Test("messages of assigned partitions become calls; repeats and unassigned partitions are released")
    func callsAndReleases() {
        let tracker = Locked(OffsetTracker())
        var machine = machine(assigned: [p0], tracker: tracker)
        let first = machine.handle(.kafka(.messages(messages(p0, 0...2))), tracker: tracker)
        #expect(Self.names(first) == ["consumed 3", "call 0/0", "call 0/1", "call 0/2"])
        // Offsets 1 and 2 again (a fetch after a pause), 3 new, and a partition this instance does not own.
        let again = machine.handle(.kafka(.messages(messages(p0, 1...3) + messages(p1, 0...1))), tracker: tracker)
        #expect(Self.names(again) == ["release 4 40", "consumed 1", "call 0/3"])
        #expect(machine.state.outstanding == 4)
        // A second assignment does not report the join again.
        #expect(machine.handle(.kafka(.assigned([p1: 0])), tracker: tracker).isEmpty)
    }

    @Test("micro-batches: full by count or bytes go at once, the rest lingers; a stale linger flushes nothing")
    func microBatches() {
        var batching = BatchConfiguration()
        batching.maxItems = 3
        batching.maxBytes = 100
        let tracker = Locked(OffsetTracker())
        var machine = machine(batching: batching, assigned: [p0], tracker: tracker)
        let seven = machine.handle(.kafka(.messages(messages(p0, 0...6))), tracker: tracker)
        #expect(Self.names(seven) == ["consumed 7", "batch [0, 1, 2]", "batch [3, 4, 5]", "linger 2"])
        // More before the linger ends: the same batch, no second timer.
        #expect(Self.names(machine.handle(.kafka(.messages(messages(p0, 7...7))), tracker: tracker)) == ["consumed 1"])
        #expect(machine.handle(.linger(1), tracker: tracker).isEmpty)
        #expect(Self.names(machine.handle(.linger(2), tracker: tracker)) == ["batch [6, 7]"])
        #expect(machine.handle(.linger(2), tracker: tracker).isEmpty)
        // 60-byte inputs: two reach maxBytes before maxItems.
        let big = machine.handle(.kafka(.messages(messages(p0, 8...10, bytes: 60))), tracker: tracker)
        #expect(Self.names(big) == ["consumed 3", "batch [8, 9]", "linger 4"])
    }

    @Test("ordered dispatch: messages go to the lane of their partition or key; keyless ones run unordered")
    func lanes() {
        let tracker = Locked(OffsetTracker())
        var byPartition = machine(ordering: .partition, assigned: [p0, p1], tracker: tracker)
        let both = byPartition.handle(
            .kafka(.messages(messages(p0, 0...1) + messages(p1, 0...0))), tracker: tracker)
        #expect(Self.names(both) == ["consumed 3", "lane 0 0", "lane 0 1", "lane 1 0"])

        let keyed = Locked(OffsetTracker())
        var byKey = machine(ordering: .key, assigned: [p0], tracker: keyed)
        let mixed = byKey.handle(
            .kafka(.messages(messages(p0, 0...0, key: "a") + messages(p0, 1...1))), tracker: keyed)
        #expect(Self.names(mixed) == ["consumed 2", "lane 61 0", "call 0/1"])
    }

    @Test("idle: every partition at its end, every message durable; an end beyond the position reached is ignored")
    func idle() {
        let tracker = Locked(OffsetTracker())
        var machine = DispatchMachine(batching: BatchConfiguration(), ordering: .unordered, untilIdle: true)
        #expect(!machine.isIdle)  // no assignment yet
        _ = machine.handle(.kafka(.assigned([p0: 0, p1: 5])), tracker: tracker)
        _ = machine.handle(.kafka(.messages(messages(p0, 0...2))), tracker: tracker)
        _ = machine.handle(.kafka(.endOfPartition(p1, nextOffset: 5)), tracker: tracker)
        // An end at offset 5 while 3 was reached (an end from before a pause, with messages to fetch again) is stale.
        _ = machine.handle(.kafka(.endOfPartition(p0, nextOffset: 5)), tracker: tracker)
        #expect(machine.state.atEnd[p0] == nil)
        _ = machine.handle(.kafka(.endOfPartition(p0, nextOffset: 3)), tracker: tracker)
        #expect(!machine.isIdle)  // three messages not durable
        _ = machine.handle(.durable(messages: 2), tracker: tracker)
        #expect(!machine.isIdle)
        _ = machine.handle(.durable(messages: 1), tracker: tracker)
        #expect(machine.isIdle)
        // A message beyond the end: not idle until the new end is seen and the message written.
        _ = machine.handle(.kafka(.messages(messages(p0, 3...3))), tracker: tracker)
        #expect(!machine.isIdle)
        _ = machine.handle(.kafka(.endOfPartition(p0, nextOffset: 4)), tracker: tracker)
        _ = machine.handle(.durable(messages: 1), tracker: tracker)
        #expect(machine.isIdle)
        // A rebalance takes everything: not idle until the next assignment.
        _ = machine.handle(.kafka(.revoked([p0, p1])), tracker: tracker)
        #expect(!machine.isIdle)
        _ = machine.handle(.kafka(.assigned([:])), tracker: tracker)
        #expect(machine.isIdle)
    }

    @Test("chunks published elsewhere keep the instance busy until the group commits them")
    func chunksElsewhere() {
        let tracker = Locked(OffsetTracker())
        var machine = machine(assigned: [p0], tracker: tracker)
        _ = machine.handle(.kafka(.endOfPartition(p0, nextOffset: 0)), tracker: tracker)
        #expect(machine.isIdle)
        // Chunks to this instance's own partition (beyond the end seen) and to another one.
        _ = machine.handle(.published([p0: 4, p1: 7]), tracker: tracker)
        #expect(machine.state.atEnd[p0] == nil)
        #expect(Self.names(machine.handle(.tick, tracker: tracker)) == ["ask [1]"])
        // An end before the chunks is stale; the one after them counts.
        _ = machine.handle(.kafka(.endOfPartition(p0, nextOffset: 0)), tracker: tracker)
        #expect(machine.state.atEnd[p0] == nil)
        _ = machine.handle(.kafka(.messages(messages(p0, 0...3))), tracker: tracker)
        _ = machine.handle(.durable(messages: 4), tracker: tracker)
        _ = machine.handle(.kafka(.endOfPartition(p0, nextOffset: 4)), tracker: tracker)
        #expect(!machine.isIdle)  // partition 1's chunks are not consumed yet
        machine.committedElsewhere([p1: 6])
        #expect(!machine.isIdle)
        machine.committedElsewhere([p1: 7])
        #expect(machine.isIdle)
        #expect(machine.handle(.tick, tracker: tracker).isEmpty)

        // Without --until-idle nothing is asked.
        var running = DispatchMachine(batching: BatchConfiguration(), ordering: .unordered, untilIdle: false)
        _ = running.handle(.published([p1: 7]), tracker: tracker)
        #expect(running.handle(.tick, tracker: tracker).isEmpty)
    }

    @Test("a fatal Kafka error and a failed write stop the loop; a transient Kafka error does not")
    func failures() {
        let tracker = Locked(OffsetTracker())
        var machine = machine(assigned: [p0], tracker: tracker)
        #expect(machine.handle(.kafka(.error(KafkaError(.consumer, "broker down"))), tracker: tracker).isEmpty)
        #expect(
            Self.names(machine.handle(.kafka(.error(KafkaError(.fatal, "fenced"))), tracker: tracker)) == [
                "fail kafka"
            ])
        #expect(
            Self.names(machine.handle(.writerFailed(StoreError(.write, "disk full")), tracker: tracker)) == [
                "fail store"
            ])
    }

    @Test("a revocation forgets the partition: its messages are released until it is assigned again")
    func revocation() {
        let tracker = Locked(OffsetTracker())
        var machine = machine(assigned: [p0, p1], tracker: tracker)
        _ = machine.handle(.kafka(.revoked([p1])), tracker: tracker)
        #expect(machine.state.assignmentKnown)  // p0 is still owned
        let late = machine.handle(.kafka(.messages(messages(p1, 0...1) + messages(p0, 0...0))), tracker: tracker)
        #expect(Self.names(late) == ["release 2 20", "consumed 1", "call 0/0"])
        _ = machine.handle(.kafka(.assigned([p1: 0])), tracker: tracker)
        let back = machine.handle(.kafka(.messages(messages(p1, 0...0))), tracker: tracker)
        #expect(Self.names(back) == ["consumed 1", "call 1/0"])
    }
}
