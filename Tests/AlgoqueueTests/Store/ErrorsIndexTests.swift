import AlgoqueueStore
import Testing

@Suite("Results store: the index of error rows")
struct ErrorsIndexTests {
    @Test("a store of schema 5 is upgraded: its error rows are found through an index that holds only them")
    func upgradeKeepsErrorQueries() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.file("r.db")
        // A store as algoqueue left it before schema 6, with rows in it.
        var script = """
            CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);

            """
        for migration in Migrations.all where migration.version <= 5 {
            script += migration.sql
            script += "INSERT INTO schema_migrations VALUES (\(migration.version), '\(migration.name)', 'x');\n"
        }
        for offset in 0..<6 {
            let status = offset % 3 == 0 ? "'error', NULL, 'HTTP 503'" : "'ok', '{\"n\": \(offset)}', NULL"
            script += """
                INSERT INTO results (topic, "partition", "offset", algorithm, status, output, error, created_at,
                    updated_at) VALUES ('t', 0, \(offset), 'a', \(status), '2026-12-06T10:00:0\(offset).000Z',
                    '2026-12-06T10:00:0\(offset).000Z');

                """
        }
        _ = try await sqlite3(path, script)
        let indexes = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'results' AND sql IS NOT NULL"
        #expect(try await sqlite3(path, indexes).contains("results_by_status"))

        let store = try ResultsStore.open(StoreConfiguration(path: path), logger: testLogger())
        defer { store.close() }
        #expect(try store.schemaVersion() == 6)
        let names = try await sqlite3(path, indexes)
        #expect(names.contains("results_errors") && !names.contains("results_by_status"))
        // The errors view and the queries of `results --errors` and replay read the new index.
        #expect(try await sqlite3(path, "EXPLAIN QUERY PLAN SELECT * FROM errors").joined().contains("results_errors"))
        var query = ResultQuery()
        query.errorsOnly = true
        query.since = "2026-12-06T10:00:01.000Z"
        #expect(try await store.results(query).map(\.offset) == [3])
        #expect(try await sqlite3(path, "SELECT \"offset\" FROM errors") == ["3", "0"])
        #expect(try store.statusCounts() == [.ok: 4, .error: 2])
    }

    @Test("counting rows by status: a store with no error rows has no error count, an empty one none at all")
    func statusCounts() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try ResultsStore.open(StoreConfiguration(path: directory.file("r.db")), logger: testLogger())
        defer { store.close() }
        #expect(try store.statusCounts().isEmpty)
        let rows = (0..<3).map {
            ResultRow(topic: "t", partition: 0, offset: Int64($0), algorithm: "a", status: .ok, output: "1")
        }
        try await store.write(rows: rows, offsets: [], group: "g")
        #expect(try store.statusCounts() == [.ok: 3])
    }
}
