import AlgoqueueKafka
import AlgoqueueResultsTopic
import AlgoqueueStore
import Testing

@testable import AlgoqueuePipeline
@testable import AlgoqueueSupport
@testable import AlgoqueueWriter

/// A completed message of partition t/0 with one ok row per algorithm.
func completedMessage(_ offset: Int64, algorithms: [String] = ["a"]) -> CompletedMessage {
    CompletedMessage(
        partition: TopicPartition("t", 0), generation: 1, offset: offset, byteCount: 1,
        rows: algorithms.map { ResultRow(topic: "t", partition: 0, offset: offset, algorithm: $0, status: .ok) })
}

@Suite("Result writer: group commit")
struct ResultWriterTests {
    @Test("the committer stores, and commits once durable, only the offset below which every message has its rows")
    func committer() {
        let partition = TopicPartition("t", 0)
        let tracker = Locked(OffsetTracker())
        tracker.withLock { tracker in
            _ = tracker.assign(partition, start: 0)
            for offset in 0..<4 { _ = tracker.receive(partition, offset: Int64(offset)) }
        }
        let committed = Locked<[[TopicPartition: Int64]]>([])
        let committer = OffsetCommitter(
            tracker: tracker, commit: { offsets in committed.withLock { $0.append(offsets) } })
        // 1 and 2 have their rows, 0 is still in a call: nothing past 0 moves.
        let first = committer.offsetsToStore([completedMessage(1), completedMessage(2)])
        #expect((first[partition] ?? 0) == 0)
        #expect(committed.withLock { $0 }.isEmpty, "nothing goes to Kafka before the transaction is durable")
        let moved = committer.offsetsToStore([completedMessage(0)])
        #expect(moved == [partition: 3])
        committer.durable(moved)
        #expect(committed.withLock { $0 } == [[partition: 3]])
    }

    /// A writer of `w.db` in `directory`, its partition t/0 assigned from offset 0 with offsets 0-8 received.
    func writer(in directory: TemporaryDirectory, maxRows: Int, commitInterval: Duration = .zero) throws -> (
        ResultWriter, ResultsStore
    ) {
        let store = try ResultsStore.open(StoreConfiguration(path: directory.file("w.db")), logger: testLogger())
        let tracker = Locked(OffsetTracker())
        tracker.withLock { tracker in
            _ = tracker.assign(TopicPartition("t", 0), start: 0)
            for offset in 0..<9 { _ = tracker.receive(TopicPartition("t", 0), offset: Int64(offset)) }
        }
        let writer = ResultWriter(
            store: store, group: "g", committer: OffsetCommitter(tracker: tracker, commit: { _ in }), maxRows: maxRows,
            commitInterval: commitInterval,
            logger: testLogger())
        return (writer, store)
    }

    /// Runs `writer`, recording each durable transaction as the offsets of its messages, in order.
    func recordTransactions(of writer: ResultWriter) -> (Locked<[[Int64]]>, Task<Void, any Error>) {
        let batches = Locked<[[Int64]]>([])
        let running = Task {
            try await writer.run { batch in batches.withLock { $0.append(batch.rows.map { $0[0].offset }) } }
        }
        return (batches, running)
    }

    @Test("between transactions a lone row waits for others, and a full transaction's worth is written at once")
    func pauseEndsWhenFull() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        // A commit interval far longer than the test: only a full transaction can end the pause.
        let (writer, _) = try writer(in: directory, maxRows: 3, commitInterval: .seconds(120))
        let (batches, running) = recordTransactions(of: writer)
        writer.submit(completedMessage(0))  // the first transaction does not wait
        #expect(await eventually(within: .seconds(30)) { batches.withLock { $0.count } == 1 })
        writer.submit(completedMessage(1))
        // The writer holds the lone row back, waiting for others to join it.
        #expect(await eventually(within: .seconds(30)) { writer.full.state.withLock { $0.waiter != nil } })
        writer.submit(contentsOf: [completedMessage(2), completedMessage(3)])
        #expect(await eventually(within: .seconds(30)) { batches.withLock { $0.count } == 2 })
        writer.close()
        try await running.value
        #expect(batches.withLock { $0 } == [[0], [1, 2, 3]])
        #expect(try await sqlite3(directory.file("w.db"), "SELECT COUNT(*) FROM results") == ["4"])
    }

    @Test("after a transaction of half maxRows or more the next starts at once; after a small one it waits")
    func noPauseAfterLargeTransaction() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        // A commit interval far longer than the test: a transaction that waited out a pause would never come.
        let (writer, _) = try writer(in: directory, maxRows: 4, commitInterval: .seconds(120))
        let (batches, running) = recordTransactions(of: writer)
        writer.submit(contentsOf: [completedMessage(0), completedMessage(1)])  // half of maxRows
        #expect(await eventually(within: .seconds(30)) { batches.withLock { $0.count } == 1 })
        // A lone row right after it is written without waiting for others.
        writer.submit(completedMessage(2))
        #expect(await eventually(within: .seconds(30)) { batches.withLock { $0.count } == 2 })
        // That transaction was small: the next lone row waits for others again.
        writer.submit(completedMessage(3))
        #expect(await eventually(within: .seconds(30)) { writer.full.state.withLock { $0.waiter != nil } })
        #expect(batches.withLock { $0.count } == 2)
        writer.close()
        try await running.value
        #expect(batches.withLock { $0 } == [[0, 1], [2], [3]])
    }

    @Test("every durable transaction is reported, in order, before the writer returns")
    func reportsInOrder() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let (writer, store) = try writer(in: directory, maxRows: 2)
        for offset in 0..<9 { writer.submit(completedMessage(Int64(offset))) }
        writer.close()
        let reported = Locked<[Int64]>([])
        try await writer.run { batch in
            reported.withLock { $0 += batch.rows.map { $0[0].offset } }
        }
        #expect(reported.withLock { $0 } == Array(0..<9))
        #expect(try store.offsets(group: "g") == [StoredOffset(topic: "t", partition: 0, nextOffset: 9)])
    }
}
