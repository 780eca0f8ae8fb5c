import GRDB

/// Answers computed once (`algorithm.cache: input`).
extension ResultsStore {
    /// An `ok` row of `algorithm` at `version` for an input with this SHA-256, whose output is in the row; nil when
    /// there is none.
    public func cachedAnswer(algorithm: String, version: String?, inputHash: String) async throws(StoreError)
        -> ResultRow?
    {
        do {
            return try await pool.read { db in
                try Row.fetchOne(
                    db,
                    sql: """
                        SELECT * FROM results
                        WHERE algorithm = ? AND input_hash = ? AND status = 'ok' AND algorithm_version IS ?
                          AND output IS NOT NULL
                        LIMIT 1
                        """,
                    arguments: [algorithm, inputHash, version]
                ).map(Self.resultRow)
            }
        } catch {
            throw StoreError(.read, "cannot look up cached answers in \(configuration.path): \(Self.describe(error))")
        }
    }
}
