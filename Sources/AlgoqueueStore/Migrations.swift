/// One schema change: applied once, in order, in its own transaction.
public struct Migration: Sendable {
    /// The schema version this migration brings the store to.
    public let version: Int
    /// The file name in `migrations/` it was taken from.
    public let name: String
    /// The SQL it runs.
    public let sql: String
}

/// The migrations carried inside the binary, so an installed algoqueue needs no source tree.
///
/// Each is a verbatim copy of a file in `migrations/`; a test keeps the two identical.
public enum Migrations {
    /// Every migration, oldest first.
    public static let all: [Migration] = [
        Migration(version: 1, name: "001_initial.sql", sql: #"""
-- algoqueue results store, schema version 1.
-- One row per (topic, partition, offset, item, algorithm); a replay rewrites the same row.

CREATE TABLE results (
    topic             TEXT    NOT NULL,
    "partition"       INTEGER NOT NULL,
    "offset"          INTEGER NOT NULL,
    item              INTEGER NOT NULL DEFAULT -1,
    algorithm         TEXT    NOT NULL,
    algorithm_version TEXT,
    "key"             TEXT,
    status            TEXT    NOT NULL CHECK (status IN ('ok', 'error')),
    input             TEXT,
    input_bytes       INTEGER NOT NULL DEFAULT 0,
    output            TEXT,
    error             TEXT,
    attempts          INTEGER NOT NULL DEFAULT 1,
    duration_ms       REAL    NOT NULL DEFAULT 0,
    message_timestamp TEXT,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    PRIMARY KEY (topic, "partition", "offset", item, algorithm)
);

CREATE INDEX results_by_status ON results (status, updated_at);
CREATE INDEX results_by_time ON results (updated_at);

-- The next offset to read per partition, written in the same transaction as the rows it covers.
CREATE TABLE consumer_offsets (
    group_id    TEXT    NOT NULL,
    topic       TEXT    NOT NULL,
    "partition" INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    updated_at  TEXT    NOT NULL,
    PRIMARY KEY (group_id, topic, "partition")
);

-- Newest first: what happened lately.
CREATE VIEW latest_results AS
SELECT topic, "partition", "offset", item, algorithm, "key", status, output, error, attempts, duration_ms, updated_at
FROM results
ORDER BY updated_at DESC;

-- Every failed input with what went wrong.
CREATE VIEW errors AS
SELECT topic, "partition", "offset", item, algorithm, "key", error, attempts, input, updated_at
FROM results
WHERE status = 'error'
ORDER BY updated_at DESC;

"""#)
    ]

    /// The newest schema version this build knows.
    public static var latestVersion: Int { all.last?.version ?? 0 }
}
