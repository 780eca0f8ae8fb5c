import AlgoqueueStore
import Foundation
import Testing

/// What a write hands the results publisher in memory must be what the publisher would read back from the store.
@Suite("Results store: the outbox a write queues")
struct OutboxQueueTests {
    static func rows() -> [ResultRow] {
        var text = ResultRow(
            topic: "in", partition: 1, offset: 7, item: -1, algorithm: "a", algorithmVersion: "2", key: "k",
            status: .ok, input: #"{"x": 1}"#, inputBytes: 8, output: #"{"y": 2}"#, metadata: #"{"m": true}"#,
            attempts: 2, durationMilliseconds: 1.25, messageTimestamp: "2026-12-07T10:00:00.000Z")
        text.inputHash = "abc"
        text.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        text.httpStatus = 200
        var bytes = ResultRow(
            topic: "in", partition: 1, offset: 8, item: 3, algorithm: "a", status: .error, inputBytes: 4,
            error: "HTTP 500", durationMilliseconds: 0.1, createdAt: "2026-01-01T00:00:00.000Z")
        bytes.rawInput = [0, 1, 2, 255]
        let both = ResultRow(
            topic: "in", partition: 2, offset: 9, algorithm: "b", status: .ok, input: "text", inputBytes: 4,
            output: "plain")
        var withRaw = both
        withRaw.rawInput = [9, 9]
        return [text, bytes, withRaw]
    }

    @Test(
        "a write queues each new row as a read of the outbox gives it; a row written again is left to the read",
        arguments: [true, false])
    func queuedAsStored(keepInputs: Bool) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        var configuration = StoreConfiguration(path: directory.file("r.db"))
        configuration.keepInputs = keepInputs
        let store = try ResultsStore.open(configuration, logger: testLogger())
        let rows = Self.rows()
        let split = SplitRowInfo(batchItems: 10, chunkFirstItem: 0, chunkItems: 5, algorithms: 1)
        let (_, queued) = try await store.write(
            rowGroups: [Array(rows.prefix(2)), Array(rows.suffix(1))], offsets: [], group: "g",
            queueing: [nil, split, nil])
        #expect(queued.count == 3 && queued.entries.count == 3 && queued.lastUnlisted == 0)
        let read = try await store.outbox(limit: 10)
        #expect(read.map(\.id) == queued.entries.map(\.id))
        for (stored, handed) in zip(read, queued.entries) {
            #expect(stored.split == handed.split)
            #expect(
                stored.row.topic == handed.row.topic && stored.row.offset == handed.row.offset
                    && stored.row.createdAt == handed.row.createdAt && stored.row.updatedAt == handed.row.updatedAt
                    && stored.row.input == handed.row.input && stored.row.rawInput == handed.row.rawInput,
                "\(stored.row) against \(handed.row)")
            #expect(stored.row == handed.row)
        }
        #expect(queued.entries[1].row.createdAt == "2026-01-01T00:00:00.000Z")
        #expect(queued.entries[0].split == nil && queued.entries[1].split == split)

        // Written again (a replay, or a redelivery): the stored row keeps its first created_at, which only a read
        // tells, so the entry is queued but not handed over.
        var again = rows[0]
        again.output = #"{"y": 3}"#
        let (_, replaced) = try await store.write(
            rowGroups: [[again], [rows[2]]], offsets: [], group: "g", queueing: [nil, nil])
        #expect(replaced.count == 2 && replaced.entries.isEmpty)
        let all = try await store.outbox(limit: 10)
        #expect(all.count == 5 && replaced.lastUnlisted == all.last?.id)
        #expect(all[3].row.output == #"{"y": 3}"# && all[3].row.createdAt == read[0].row.createdAt)
        // The outbox's ids now run ahead of the rows' rowids: a new row is still told from a replaced one.
        var fresh = rows[0]
        fresh.offset = 100
        let (_, next) = try await store.write(rowGroups: [[fresh]], offsets: [], group: "g", queueing: [nil])
        #expect(next.entries.map(\.row.offset) == [100] && next.lastUnlisted == 0)
        store.close()
    }

    @Test("published runs leave the outbox by their first and last id")
    func removeRanges() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try ResultsStore.open(StoreConfiguration(path: directory.file("r.db")), logger: testLogger())
        let rows = (0..<10).map {
            ResultRow(topic: "in", partition: 0, offset: Int64($0), algorithm: "a", status: .ok, output: "1")
        }
        let (_, queued) = try await store.write(
            rowGroups: [rows], offsets: [], group: "g", queueing: Array(repeating: nil, count: rows.count))
        let ids = queued.entries.map(\.id)
        try await store.removeFromOutbox([ids[0]...ids[2], ids[5]...ids[6]])
        #expect(try await store.outbox(limit: 20).map(\.id) == [ids[3], ids[4]] + Array(ids[7...]))
        #expect(try await store.lastOutboxID() == ids[9])
        #expect(
            try await store.outbox(limit: 20, after: ids[3], through: ids[8]).map(\.id) == [ids[4], ids[7], ids[8]])
        store.close()
    }
}
