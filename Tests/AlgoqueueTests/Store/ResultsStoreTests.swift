import AlgoqueueStore
import Foundation
import Testing

@Suite("Results store")
struct ResultsStoreTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    @Test("the migrations in the binary are the files in migrations/, in order")
    func migrationsMatchFiles() async throws {
        let directory = Self.packageRoot.appendingPathComponent("migrations")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }
            .sorted()
        #expect(files == Migrations.all.map(\.name))
        for migration in Migrations.all {
            let text = try String(contentsOf: directory.appendingPathComponent(migration.name), encoding: .utf8)
            #expect(text == migration.sql, "\(migration.name) differs from the copy carried in Migrations.swift")
        }
        #expect(Migrations.all.map(\.version) == Array(1...Migrations.all.count))
    }

    @Test("opening twice applies the migrations once; the file is created with mode 0640 in WAL mode")
    func openTwice() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.file("r.db")
        let first = try ResultsStore.open(StoreConfiguration(path: path), logger: testLogger(), migrate: false)
        #expect(
            try first.migrate() == [
                "001_initial.sql", "002_batches_and_fan_out.sql", "003_results_outbox.sql", "004_answer_cache.sql",
                "005_provenance.sql", "006_errors_index.sql",
            ])
        let second = try ResultsStore.open(StoreConfiguration(path: path), logger: testLogger(), migrate: false)
        #expect(try second.migrate() == [])
        #expect(
            try await sqlite3(path, "SELECT version, name FROM schema_migrations") == [
                "1|001_initial.sql", "2|002_batches_and_fan_out.sql", "3|003_results_outbox.sql",
                "4|004_answer_cache.sql", "5|005_provenance.sql", "6|006_errors_index.sql",
            ])
        #expect(try await sqlite3(path, "PRAGMA journal_mode") == ["wal"])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o640)
    }

    @Test("a database from a newer algoqueue is refused with a clear message")
    func newerSchema() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.file("r.db")
        _ = try ResultsStore.open(StoreConfiguration(path: path), logger: testLogger())
        _ = try await sqlite3(path, "INSERT INTO schema_migrations VALUES (99, '099_future.sql', 'x')")
        #expect {
            try ResultsStore.open(StoreConfiguration(path: path), logger: testLogger())
        } throws: { error in
            (error as? StoreError)?.code == .newerSchema && "\(error)".contains("upgrade algoqueue")
        }
    }

    @Test("writing the same row again replaces it, keeping created_at; offsets only move forward")
    func upsert() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.file("r.db")
        let store = try ResultsStore.open(StoreConfiguration(path: path), logger: testLogger())
        var row = ResultRow(
            topic: "t", partition: 1, offset: 5, algorithm: "a", status: .error, error: "first",
            createdAt: "2026-01-01T00:00:00.000Z")
        try await store.write(rows: [row], offsets: [StoredOffset(topic: "t", partition: 1, nextOffset: 6)], group: "g")
        row.status = .ok
        row.output = #"{"x": 1}"#
        row.error = nil
        row.createdAt = "2026-06-01T00:00:00.000Z"
        try await store.write(rows: [row], offsets: [StoredOffset(topic: "t", partition: 1, nextOffset: 3)], group: "g")
        #expect(
            try await sqlite3(path, "SELECT status, output, error IS NULL, created_at FROM results") == [
                #"ok|{"x": 1}|1|2026-01-01T00:00:00.000Z"#
            ])
        #expect(try store.offsets(group: "g") == [StoredOffset(topic: "t", partition: 1, nextOffset: 6)])
        #expect(try store.offsets(group: "other").isEmpty)
    }

    @Test("every value of every row is stored exactly, rows of any size side by side in one transaction")
    func valuesStoredExactly() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.file("r.db")
        let store = try ResultsStore.open(StoreConfiguration(path: path), logger: testLogger())
        var full = ResultRow(
            topic: "t", partition: 0, offset: 0, algorithm: "a", algorithmVersion: "1.2", key: "k\u{0}ey é",
            status: .ok, input: #"{"n": "é"}"#, inputBytes: 12, output: #"{"x": 1}"#, metadata: "{}",
            outputFile: "/f", attempts: 2, durationMilliseconds: 1.5, messageTimestamp: "2026-01-01T00:00:00.000Z",
            createdAt: "2026-01-02T00:00:00.000Z", updatedAt: "2026-01-03T00:00:00.000Z")
        full.inputHash = "abc"
        full.cachedFrom = "t/0/0/-1"
        full.traceparent = "00-x"
        full.httpStatus = 200
        // After a row with every column set, one with most left NULL: nothing of the first stays bound.
        let sparse = ResultRow(topic: "t", partition: 0, offset: 1, algorithm: "a", status: .error, error: "")
        // Values larger than the row buffer: SQLite copies them, and the buffer grows before the next row.
        var largeBlob = ResultRow(topic: "t", partition: 0, offset: 5, algorithm: "a", status: .ok, output: "3")
        largeBlob.rawInput = (0..<5000).map { UInt8($0 % 256) }
        let large = ResultRow(
            topic: "t", partition: 0, offset: 2, algorithm: "a", status: .ok, input: "",
            output: "\"" + String(repeating: "é", count: 50_000) + "\"")
        var blob = ResultRow(topic: "t", partition: 0, offset: 3, algorithm: "a", status: .ok, output: "1")
        blob.rawInput = [0xFF, 0x00, 0x41]
        var emptyBlob = ResultRow(topic: "t", partition: 0, offset: 4, algorithm: "a", status: .ok, output: "2")
        emptyBlob.rawInput = []
        try await store.write(
            rowGroups: [[full, largeBlob, sparse], [large], [blob, emptyBlob]],
            offsets: [StoredOffset(topic: "t", partition: 0, nextOffset: 6)], group: "g")
        let columns = """
            SELECT "offset", hex("key"), algorithm_version, status, typeof(input), hex(input), output, quote(error), \
            metadata, output_file, attempts, duration_ms, message_timestamp, created_at, input_hash, cached_from, \
            traceparent, http_status FROM results WHERE "offset" IN (0, 1, 3, 4) ORDER BY "offset"
            """
        let written = try await sqlite3(path, #"SELECT created_at FROM results WHERE "offset" = 1"#).first ?? "?"
        let expected: [[String]] = [
            [
                "0", "6B00657920C3A9", "1.2", "ok", "text", hex(#"{"n": "é"}"#), #"{"x": 1}"#, "NULL", "{}", "/f", "2",
                "1.5", "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z", "abc", "t/0/0/-1", "00-x", "200",
            ],
            ["1", "", "", "error", "null", "", "", "''", "", "", "1", "0.0", "", written, "", "", "", ""],
            ["3", "", "", "ok", "blob", "FF0041", "1", "NULL", "", "", "1", "0.0", "", written, "", "", "", ""],
            ["4", "", "", "ok", "blob", "", "2", "NULL", "", "", "1", "0.0", "", written, "", "", "", ""],
        ]
        #expect(try await sqlite3(path, columns) == expected.map { $0.joined(separator: "|") })
        let largeRow = """
            SELECT typeof(input), length(input), length(output), \
            output = '"' || replace(hex(zeroblob(50000)), '00', 'é') || '"' FROM results WHERE "offset" = 2
            """
        #expect(try await sqlite3(path, largeRow) == ["text|0|50002|1"])
        #expect(
            try await sqlite3(path, #"SELECT typeof(input), hex(input), output FROM results WHERE "offset" = 5"#) == [
                "blob|\(largeBlob.rawInput!.map { String(format: "%02X", $0) }.joined())|3"
            ])
        #expect(written.hasPrefix("20"))
    }

    private func hex(_ text: String) -> String { text.utf8.map { String(format: "%02X", $0) }.joined() }

    @Test("the results columns are the ones the README documents")
    func schemaAsDocumented() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.file("r.db")
        _ = try ResultsStore.open(StoreConfiguration(path: path), logger: testLogger())
        let columns = try await sqlite3(path, "SELECT name FROM pragma_table_info('results') ORDER BY cid")
        let readme = try String(contentsOf: Self.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        guard let section = readme.range(of: "<!-- results-columns -->"),
            let end = readme.range(of: "<!-- /results-columns -->")
        else {
            Issue.record("README.md has no results-columns table")
            return
        }
        let documented = readme[section.upperBound..<end.lowerBound].split(separator: "\n").compactMap {
            line -> String? in
            guard line.hasPrefix("| `") else { return nil }
            return line.dropFirst(3).split(separator: "`").first.map(String.init)
        }
        #expect(documented == columns)
        for required in [
            "topic", "partition", "offset", "item", "algorithm", "key", "status", "input", "output", "error",
            "attempts", "duration_ms", "created_at",
        ] {
            #expect(columns.contains(required))
        }
    }
}
