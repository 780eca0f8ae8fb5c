import AlgoqueueKafka
import AlgoqueueStore
import AlgoqueueSupport
import Testing

@testable import AlgoqueuePipeline
@testable import AlgoqueueWriter

@Suite("Offset tracker: the durable watermark")
struct OffsetTrackerTests {
    let partition = TopicPartition("t", 0)

    @Test("out-of-order completion moves the watermark only over a contiguous run")
    func outOfOrder() {
        var tracker = OffsetTracker()
        let generation = tracker.assign(partition)
        for offset in 10..<15 { #expect(tracker.receive(partition, offset: Int64(offset)) == generation) }
        tracker.finish(partition, generation: generation, offset: 12)
        tracker.finish(partition, generation: generation, offset: 11)
        #expect(tracker.takeChangedWatermarks().isEmpty)
        tracker.finish(partition, generation: generation, offset: 10)
        #expect(tracker.takeChangedWatermarks() == [partition: 13])
        #expect(tracker.takeChangedWatermarks().isEmpty)
        tracker.finish(partition, generation: generation, offset: 14)
        tracker.finish(partition, generation: generation, offset: 13)
        #expect(tracker.takeChangedWatermarks() == [partition: 15])
        #expect(tracker.pendingCount(partition) == 0)
    }

    @Test("gaps in offsets (compaction, transaction markers) do not stall the watermark")
    func gaps() {
        var tracker = OffsetTracker()
        let generation = tracker.assign(partition)
        for offset: Int64 in [3, 7, 20] { _ = tracker.receive(partition, offset: offset) }
        tracker.finish(partition, generation: generation, offset: 7)
        tracker.finish(partition, generation: generation, offset: 3)
        #expect(tracker.takeChangedWatermarks() == [partition: 8])
        tracker.finish(partition, generation: generation, offset: 20)
        #expect(tracker.takeChangedWatermarks() == [partition: 21])
    }

    @Test("completions from before a revocation no longer move offsets; redeliveries are ignored")
    func generations() {
        var tracker = OffsetTracker()
        let old = tracker.assign(partition)
        _ = tracker.receive(partition, offset: 0)
        tracker.revoke(partition)
        #expect(tracker.receive(partition, offset: 1) == nil)
        let new = tracker.assign(partition)
        #expect(new != old)
        _ = tracker.receive(partition, offset: 5)
        #expect(tracker.receive(partition, offset: 5) == nil)
        #expect(tracker.receive(partition, offset: 4) == nil)
        tracker.finish(partition, generation: old, offset: 0)
        #expect(tracker.takeChangedWatermarks().isEmpty)
        tracker.finish(partition, generation: new, offset: 5)
        #expect(tracker.takeChangedWatermarks() == [partition: 6])
    }

    @Test("a run of one partition's offsets is received with one look-up: new ones get the generation, others nil")
    func runs() {
        var tracker = OffsetTracker()
        let generation = tracker.assign(partition)
        _ = tracker.receive(partition, offset: 2)
        var generations: [Int?] = []
        tracker.receive(partition, offsets: [1, 3, 4]) { generations.append($0) }
        #expect(generations == [nil, generation, generation])
        generations = []
        tracker.receive(TopicPartition("t", 9), offsets: [0, 1]) { generations.append($0) }
        #expect(generations == [nil, nil], "a partition not assigned")
        tracker.finish(partition, generation: generation, offset: 2)
        tracker.finish(partition, generation: generation, offset: 3)
        tracker.finish(partition, generation: generation, offset: 4)
        #expect(tracker.takeChangedWatermarks() == [partition: 5])
    }

    @Test("a long run far ahead of a slow message keeps the watermark at the slow one, with no limit")
    func farAhead() {
        var tracker = OffsetTracker()
        let generation = tracker.assign(partition)
        for offset in 0..<20_000 { _ = tracker.receive(partition, offset: Int64(offset)) }
        for offset in 1..<20_000 { tracker.finish(partition, generation: generation, offset: Int64(offset)) }
        #expect(tracker.takeChangedWatermarks().isEmpty)
        #expect(tracker.pendingCount(partition) == 20_000)
        tracker.finish(partition, generation: generation, offset: 0)
        #expect(tracker.takeChangedWatermarks() == [partition: 20_000])
        #expect(tracker.pendingCount(partition) == 0)
    }
}

@Suite("Idle detection")
struct IdleDetectionTests {
    @Test("not idle before an assignment, while a rebalance has revoked everything, or with a partition not at its end")
    func idle() {
        var state = DispatchState()
        #expect(!state.isIdle)
        let partition = TopicPartition("t", 0)
        state.assignmentKnown = true
        state.assignment = [partition]
        #expect(!state.isIdle)
        state.atEnd[partition] = 10
        #expect(state.isIdle)
        state.outstanding = 1
        #expect(!state.isIdle)
        state.outstanding = 0
        state.assignment = []
        state.assignmentKnown = true
        #expect(state.isIdle, "an instance that owns no partition is idle")
    }
}

@Suite("Dispatch: a delivery of messages")
struct DeliveryTests {
    func message(_ partition: Int32, _ offset: Int64) -> KafkaMessage {
        KafkaMessage(topic: "t", partition: partition, offset: offset, value: Array("[\(offset)]".utf8))
    }

    @Test("runs of partitions: each message once, in order, with its generation; end and position follow the last")
    func runs() {
        let (zero, one) = (TopicPartition("t", 0), TopicPartition("t", 1))
        let tracker = Locked(OffsetTracker())
        let generation = tracker.withLock { $0.assign(zero) }
        let other = tracker.withLock { $0.assign(one) }
        _ = tracker.withLock { $0.receive(zero, offset: 5) }
        var state = DispatchState()
        state.atEnd[zero] = 7
        state.atEnd[one] = 100
        let arrived = [
            message(0, 5), message(0, 6), message(0, 7), message(1, 40), message(1, 41), message(2, 0),
            message(0, 8),
        ]
        let (works, refused) = DispatchMachine.receive(arrived, state: &state, tracker: tracker)
        #expect(works.map(\.message.offset) == [6, 7, 40, 41, 8])
        #expect(works.map(\.generation) == [generation, generation, other, other, generation])
        #expect(refused.messages == 2, "offset 5 was received before; partition 2 is not assigned")
        #expect(refused.bytes == arrived[0].byteCount + arrived[5].byteCount)
        #expect(state.atEnd[zero] == nil, "a message at or past the end seen")
        #expect(state.atEnd[one] == 100)
        #expect(state.position[zero] == 9)
        #expect(state.position[one] == 42)
        #expect(tracker.withLock { $0.pendingCount(zero) } == 4)
    }
}

@Suite("Writer: rows of a transaction")
struct WriterRowsTests {
    @Test("each message's rows are written as they are, in message order and row order, empty messages included")
    func rowGroups() async throws {
        let directory = try TemporaryDirectory()
        let store = try ResultsStore.open(StoreConfiguration(path: directory.file("groups.db")), logger: testLogger())
        let batch = [
            completedMessage(1, algorithms: ["a"]), completedMessage(2, algorithms: []),
            completedMessage(3, algorithms: ["a", "b", "c"]),
            completedMessage(4, algorithms: ["b"]),
        ]
        try await store.write(
            rowGroups: batch.map(\.rows), offsets: [StoredOffset(topic: "t", partition: 0, nextOffset: 5)], group: "g")
        #expect(
            try await sqlite3(directory.file("groups.db"), "SELECT \"offset\" || algorithm FROM results ORDER BY rowid")
                == ["1a", "3a", "3b", "3c", "4b"])
        #expect(try store.offsets(group: "g").map(\.nextOffset) == [5])
    }

    @Test("rows given in groups are counted in runs of one algorithm across groups, errors newest first")
    func groupCounts() {
        let statistics = RowTally()
        let batch = [
            completedMessage(1, algorithms: ["a"]), completedMessage(2, algorithms: []),
            completedMessage(3, algorithms: ["a", "b"]),
            completedMessage(4, algorithms: ["b"]),
        ]
        var groups = batch.map(\.rows)
        groups[2][1].status = .error
        groups[2][1].error = "first"
        groups[3][0].status = .error
        groups[3][0].error = "second"
        groups[0][0].cachedFrom = "t/0/0"
        let counted = statistics.record(groups)
        #expect(counted.rows == 4 && counted.ok == 2 && counted.cached == 1)
        let counts = statistics.perAlgorithm
        #expect(counts["a"]?.ok == 2 && counts["a"]?.errors == 0)
        #expect(counts["b"]?.ok == 0 && counts["b"]?.errors == 2)
        #expect(statistics.recentErrors.map(\.error) == ["second", "first"])
    }

    @Test("ok and error rows are counted per algorithm, in runs or interleaved (fan-out)")
    func counts() {
        let statistics = RowTally()
        var rows = ["a", "b", "a", "a", "c", "b"].map {
            ResultRow(topic: "t", partition: 0, offset: 0, algorithm: $0, status: .ok)
        }
        rows[3].status = .error
        rows[3].error = "boom"
        statistics.record(rows)
        statistics.record(Array(rows.prefix(2)))
        let counts = statistics.perAlgorithm
        #expect(counts["a"]?.ok == 3 && counts["a"]?.errors == 1)
        #expect(counts["b"]?.ok == 3 && counts["b"]?.errors == 0)
        #expect(counts["c"]?.ok == 1 && counts["c"]?.errors == 0)
        #expect(statistics.recentErrors.map(\.error) == ["boom"])
    }

    @Test("the status page's recent errors: the last 20, newest first, across records")
    func recentErrors() {
        let statistics = RowTally()
        let rows = (0..<60).map { offset in
            var row = ResultRow(topic: "t", partition: 0, offset: Int64(offset), algorithm: "a", status: .ok)
            if offset % 2 == 1 {
                row.status = .error
                row.error = "e\(offset)"
            }
            return row
        }
        statistics.record(Array(rows.prefix(30)))
        #expect(statistics.recentErrors.map(\.offset) == Array(stride(from: 29, through: 1, by: -2)).map(Int64.init))
        statistics.record(Array(rows.suffix(30)))
        let recent = statistics.recentErrors
        #expect(recent.map(\.offset) == Array(stride(from: 59, through: 21, by: -2)).map(Int64.init))
        #expect(recent.first?.error == "e59" && recent.first?.algorithm == "a")
        #expect(statistics.perAlgorithm["a"]?.ok == 30 && statistics.perAlgorithm["a"]?.errors == 30)
    }

    @Test("the writer is behind at two transactions' worth of waiting rows, and catches up when it writes them")
    func behind() async throws {
        let directory = try TemporaryDirectory()
        let store = try ResultsStore.open(StoreConfiguration(path: directory.file("behind.db")), logger: testLogger())
        let tracker = Locked(OffsetTracker())
        let writer = ResultWriter(
            store: store, group: "g", committer: OffsetCommitter(tracker: tracker, commit: { _ in }), maxRows: 2,
            logger: testLogger())
        #expect(ResultWriter.transactionsAhead == 2)
        for offset in 0..<3 { writer.submit(completedMessage(Int64(offset), algorithms: ["a"])) }
        #expect(!writer.isBehind)
        writer.submit(contentsOf: [completedMessage(3, algorithms: ["a"])])
        #expect(writer.isBehind)
        for offset in 4..<8 { writer.submit(completedMessage(Int64(offset), algorithms: ["a"])) }
        writer.close()
        try await writer.run { _ in }
        #expect(!writer.isBehind)
        #expect(try await sqlite3(directory.file("behind.db"), "SELECT COUNT(*) FROM results") == ["8"])
    }
}
