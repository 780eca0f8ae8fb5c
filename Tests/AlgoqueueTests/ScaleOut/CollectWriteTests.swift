import AlgoqueueKafka
import AlgoqueueResultsTopic
import AlgoqueueStore
import AlgoqueueSupport
import Foundation
import Testing

@Suite("collect's write: rows from their messages' bytes, and its writer")
struct CollectWriteTests {
    /// Rows that take every path of a row message: escaped and non-ASCII text, embedded JSON and `_text` forms, an
    /// input as bytes, nulls, no timestamps (the write gives them), an HTTP status.
    static func rows() -> [ResultRow] {
        var plain = ResultRow(
            topic: "in", partition: 3, offset: 42, item: 7, algorithm: "sentiment", algorithmVersion: "1.2", key: "k",
            status: .ok, input: #"{"text": "good"}"#, inputBytes: 16, output: #"{"label": "positive", "p": 0.98}"#,
            metadata: #"{"model": "m"}"#, attempts: 2, durationMilliseconds: 12.5,
            messageTimestamp: "2026-12-08T01:02:03.004Z", createdAt: "2026-12-08T01:02:04.000Z",
            updatedAt: "2026-12-08T01:02:05.000Z")
        plain.httpStatus = 200
        plain.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        plain.inputHash = "ab12"
        var escaped = plain
        escaped.offset = 43
        escaped.status = .error
        escaped.output = nil
        escaped.error = "HTTP 500: \"boom\"\nline two\ttab \\ back"
        escaped.input = "plain text, not JSON: é ü 😀"
        escaped.key = "ключ"
        escaped.metadata = "not JSON either"
        var unicodeJSON = plain
        unicodeJSON.offset = 44
        unicodeJSON.output = #"{"label": "положительный", "emoji": "😀"}"#
        unicodeJSON.algorithm = "sentiment/é"
        var bytes = plain
        bytes.offset = 45
        bytes.input = nil
        bytes.rawInput = [0, 1, 2, 255]
        bytes.inputBytes = 4
        var bare = ResultRow(topic: "in", partition: 0, offset: 46, algorithm: "a", status: .ok, output: "null")
        bare.item = -1
        var nullText = plain
        nullText.offset = 47
        nullText.output = "null"
        nullText.input = ""
        return [plain, escaped, unicodeJSON, bytes, bare, nullText]
    }

    static let columns = """
        SELECT topic, "partition", "offset", item, algorithm, algorithm_version, "key", status, typeof(input),
            quote(input), input_bytes, output, replace(error, char(10), '<LF>'), metadata, output_file, attempts, duration_ms,
            message_timestamp, created_at = updated_at, input_hash, cached_from, traceparent, http_status
        FROM results ORDER BY "offset"
        """

    @Test("rows written from their messages' bytes are the rows written from ResultRows, column for column")
    func sameRowsEitherWay() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let (fromRows, fromMessages) = (directory.file("rows.db"), directory.file("messages.db"))
        let rows = Self.rows()
        var messages = MessageRows()
        var scratch = MessageRows.Builder()
        for row in rows {
            let value = try #require(
                ResultMessage.record(row, topic: "results", group: "g", host: "h").value)
            #expect(ResultMessage.append(value, to: &messages, using: &scratch))
            // Read back as a row, each message is the row it was made of.
            #expect(messages.row(messages.count - 1) == row, "\(ResultMessage.json(row))")
        }
        // A message that is not a row adds nothing.
        #expect(!ResultMessage.append(Array(#"{"topic": "t"}"#.utf8), to: &messages, using: &scratch))
        #expect(messages.count == rows.count)
        let offsets = [StoredOffset(topic: "results", partition: 0, nextOffset: 6)]
        let first = try ResultsStore.open(StoreConfiguration(path: fromRows), logger: testLogger())
        try await first.writeCollected(rows: rows, offsets: offsets, group: "g")
        first.close()
        let second = try ResultsStore.open(StoreConfiguration(path: fromMessages), logger: testLogger())
        try await second.writeCollected(messages, offsets: offsets, group: "g")
        second.close()
        let expected = try await sqlite3(fromRows, Self.columns)
        #expect(expected.count == rows.count)
        #expect(try await sqlite3(fromMessages, Self.columns) == expected)
        #expect(expected.contains { $0.contains("ключ") && $0.contains("😀") })
        #expect(expected.contains { $0.contains("|blob|X'000102FF'|") })
    }

    @Test("rows of several messages joined for one transaction keep their kept text and bytes apart")
    func joinedRows() throws {
        let rows = Self.rows()
        var first = MessageRows()
        var second = MessageRows()
        var scratch = MessageRows.Builder()
        for (index, row) in rows.enumerated() {
            let value = try #require(ResultMessage.record(row, topic: "r", group: "g", host: "h").value)
            if index < 3 {
                #expect(ResultMessage.append(value, to: &first, using: &scratch))
            } else {
                #expect(ResultMessage.append(value, to: &second, using: &scratch))
            }
        }
        first.append(contentsOf: second)
        #expect((0..<first.count).map { first.row($0) } == rows)
    }

    static func batch(_ rows: ArraySlice<ResultRow>, partition: Int32, next: Int64) throws -> CollectBatch {
        var batch = CollectBatch()
        var scratch = MessageRows.Builder()
        for row in rows {
            let value = try #require(ResultMessage.record(row, topic: "r", group: "g", host: "h").value)
            #expect(ResultMessage.append(value, to: &batch.rows, using: &scratch))
            batch.messages += 1
            batch.bytes += value.count
        }
        batch.next[TopicPartition("r", partition)] = next
        return batch
    }

    @Test(
        "batches queued while the writer is busy go in one transaction, in order, with the highest offsets, up to its row bound"
    )
    func queuedBatchesJoin() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.file("c.db")
        let store = try ResultsStore.open(StoreConfiguration(path: path), logger: testLogger())
        defer { store.close() }
        let rows = (0..<30).map {
            ResultRow(topic: "in", partition: 0, offset: Int64($0), algorithm: "a", status: .ok, output: "\($0)")
        }
        let writer = CollectWriter(store: store, group: "g")
        // Three batches queued before the writer starts: one transaction.
        writer.submit(try Self.batch(rows[0..<10], partition: 0, next: 100))
        writer.submit(try Self.batch(rows[10..<20], partition: 1, next: 7))
        writer.submit(try Self.batch(rows[20..<30], partition: 0, next: 130))
        writer.close()
        let transactions = Locked<[(rows: Int, messages: Int, next: [TopicPartition: Int64])]>([])
        try await writer.run { batch, _ in
            transactions.withLock { $0.append((batch.rows.count, batch.messages, batch.next)) }
        }
        let written = transactions.withLock { $0 }
        #expect(written.count == 1)
        #expect(written.first?.rows == 30 && written.first?.messages == 30)
        #expect(written.first?.next == [TopicPartition("r", 0): 130, TopicPartition("r", 1): 7])
        #expect(try await sqlite3(path, "SELECT COUNT(*), MIN(output), MAX(\"offset\") FROM results") == ["30|0|29"])
        #expect(
            try await sqlite3(path, #"SELECT "partition", next_offset FROM consumer_offsets ORDER BY 1"#)
                == ["0|130", "1|7"])
        try await writer.drain()

        // With room for 25 rows a transaction, the same three batches take two: 10 + 10, then 10.
        let second = directory.file("c2.db")
        let small = try ResultsStore.open(StoreConfiguration(path: second), logger: testLogger())
        defer { small.close() }
        let bounded = CollectWriter(store: small, group: "g", maxRows: 25)
        for (first, partition, next) in [(0, Int32(0), Int64(100)), (10, 1, 7), (20, 0, 130)] {
            bounded.submit(try Self.batch(rows[first..<first + 10], partition: partition, next: next))
        }
        bounded.close()
        let sizes = Locked<[Int]>([])
        try await bounded.run { batch, _ in sizes.withLock { $0.append(batch.rows.count) } }
        #expect(sizes.withLock { $0 } == [20, 10])
        #expect(try await sqlite3(second, "SELECT COUNT(*) FROM results") == ["30"])
    }

    @Test("a write that fails stops the writer: run and drain throw it, and nothing after it is written")
    func writeFailure() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.file("c.db")
        let store = try ResultsStore.open(StoreConfiguration(path: path), logger: testLogger())
        defer { store.close() }
        // A trigger refuses the second batch's rows (offset 5 onwards).
        _ = try await sqlite3(
            path,
            #"CREATE TRIGGER refuse BEFORE INSERT ON results WHEN NEW."offset" >= 5 BEGIN SELECT RAISE(ABORT, 'refused'); END"#
        )
        let rows = (0..<10).map {
            ResultRow(topic: "in", partition: 0, offset: Int64($0), algorithm: "a", status: .ok, output: "1")
        }
        let writer = CollectWriter(store: store, group: "g")
        writer.submit(try Self.batch(rows[0..<5], partition: 0, next: 5))
        let written = Locked(0)
        async let running: Void = writer.run { batch, _ in written.withLock { $0 += batch.rows.count } }
        try await writer.drain()
        #expect(written.withLock { $0 } == 5)
        writer.submit(try Self.batch(rows[5..<10], partition: 0, next: 10))
        await #expect(throws: StoreError.self) { try await writer.drain() }
        var runFailure: (any Error)?
        do { try await running } catch { runFailure = error }
        #expect(runFailure is StoreError)
        #expect(written.withLock { $0 } == 5)
        #expect(try await sqlite3(path, "SELECT COUNT(*) FROM results") == ["5"])
        #expect(try await sqlite3(path, "SELECT next_offset FROM consumer_offsets") == ["5"])
    }

    @Test(
        "a collector running as a service whose store refuses a write stops, exits 1 and stores no offset past its rows"
    )
    func serviceStopsOnAFailedWrite() async throws {
        let bed = try await TestBed(topic: "results", partitions: 1)
        defer { bed.cleanUp() }
        let rows = (0..<50).map {
            ResultRow(topic: "in", partition: 0, offset: Int64($0), algorithm: "a", status: .ok, output: "\($0)")
        }
        _ = try await produce(
            rows.map { ResultMessage.record($0, topic: "results", group: "g", host: "h").value ?? [] }, to: "results",
            brokers: bed.broker.bootstrapServers)
        // The store refuses the rows of inputs from offset 30 on.
        let database = bed.directory.file("collected.db")
        try ResultsStore.open(StoreConfiguration(path: database), logger: testLogger()).close()
        _ = try await sqlite3(
            database,
            #"CREATE TRIGGER refuse BEFORE INSERT ON results WHEN NEW."offset" >= 30 BEGIN SELECT RAISE(ABORT, 'refused'); END"#
        )
        // No --until-idle: without the writer ending the reading, this would wait for messages for ever.
        let collector = try RunningProgram(
            try algoqueueBinary(),
            ["collect", "--brokers", bed.broker.bootstrapServers, "--topic", "results", "--database", database],
            directory: bed.directory, name: "collect")
        let status = await collector.exitStatus(within: .seconds(60))
        if status == nil { collector.signal(SIGKILL) }
        #expect(status == 1, "\(collector.errorOutput.suffix(800))")
        #expect(collector.errorOutput.contains("refused"), "\(collector.errorOutput.suffix(800))")
        // Whatever was written, its offset is stored with it, and nothing beyond.
        let written = try await sqlite3(database, "SELECT COUNT(*) FROM results")
        let stored = try await sqlite3(database, "SELECT COALESCE(MAX(next_offset), 0) FROM consumer_offsets")
        #expect(written == stored, "rows \(written), stored offset \(stored)")
        // Rows 0-29 may all be written (the messages came in more than one batch, the first ones whole), never more.
        #expect(Int(written.first ?? "") ?? 50 <= 30)
    }
}
