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
        Migration(
            version: 1, name: "001_initial.sql",
            sql: #"""
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

                """#),
        Migration(
            version: 2, name: "002_batches_and_fan_out.sql",
            sql: #"""
                -- algoqueue results store, schema version 2: batch messages split into chunks, fan-out, sideband outputs.

                -- What the target said about a call (the Algorithmia envelope's metadata), as JSON text.
                ALTER TABLE results ADD COLUMN metadata TEXT;
                -- Where an output too large to keep in the row was written (output is then NULL).
                ALTER TABLE results ADD COLUMN output_file TEXT;

                -- Batch messages split into chunks that every instance in the group shares; one row per batch, keyed by
                -- the coordinates of the message that carried it (the rows of every chunk carry the same coordinates).
                CREATE TABLE batches (
                    topic              TEXT    NOT NULL,
                    "partition"        INTEGER NOT NULL,
                    "offset"           INTEGER NOT NULL,
                    items              INTEGER NOT NULL,
                    chunks             INTEGER NOT NULL,
                    split_at           TEXT    NOT NULL,
                    completed_at       TEXT,
                    event_published_at TEXT,
                    PRIMARY KEY (topic, "partition", "offset")
                );

                -- The chunks of each split batch; written_at is set in the transaction that writes the chunk's rows.
                CREATE TABLE batch_chunks (
                    topic       TEXT    NOT NULL,
                    "partition" INTEGER NOT NULL,
                    "offset"    INTEGER NOT NULL,
                    first_item  INTEGER NOT NULL,
                    items       INTEGER NOT NULL,
                    written_at  TEXT,
                    PRIMARY KEY (topic, "partition", "offset", first_item)
                );

                -- Split batches and how far they are.
                CREATE VIEW batch_progress AS
                SELECT b.topic, b."partition", b."offset", b.items, b.chunks,
                    (SELECT COUNT(*) FROM batch_chunks c
                     WHERE c.topic = b.topic AND c."partition" = b."partition" AND c."offset" = b."offset"
                       AND c.written_at IS NOT NULL) AS chunks_written,
                    b.split_at, b.completed_at
                FROM batches b;

                -- Per input (a message, or an item of a batch message): every algorithm's status side by side.
                -- statuses is a JSON object such as {"sentiment": "ok", "language": "error"}.
                CREATE VIEW input_status AS
                SELECT topic, "partition", "offset", item, MAX("key") AS "key", COUNT(*) AS algorithms,
                    SUM(status = 'ok') AS ok, SUM(status = 'error') AS errors,
                    json_group_object(algorithm, status) AS statuses, MAX(updated_at) AS updated_at
                FROM results
                GROUP BY topic, "partition", "offset", item;

                """#),
        Migration(
            version: 3, name: "003_results_outbox.sql",
            sql: #"""
                -- algoqueue results store, schema version 3: the outbox of the results topic (results.topic).

                -- Rows written while a results topic is set, in the same transaction as the row itself; an entry is
                -- removed once the broker has acknowledged the row. What is here after a crash is published at the
                -- next start. A row written again (a replay) is queued again.
                CREATE TABLE results_outbox (
                    id          INTEGER PRIMARY KEY AUTOINCREMENT,
                    topic       TEXT    NOT NULL,
                    "partition" INTEGER NOT NULL,
                    "offset"    INTEGER NOT NULL,
                    item        INTEGER NOT NULL,
                    algorithm   TEXT    NOT NULL,
                    queued_at   TEXT    NOT NULL,
                    -- For a row of a split batch: the batch's items, its chunk (first item, items) and how many algorithms
                    -- each item goes to, so that a collector can tell when the batch is whole. NULL otherwise.
                    batch_items      INTEGER,
                    chunk_first_item INTEGER,
                    chunk_items      INTEGER,
                    algorithms       INTEGER
                );

                """#),
        Migration(
            version: 4, name: "004_answer_cache.sql",
            sql: #"""
                -- algoqueue results store, schema version 4: answers computed once (algorithm.cache: input).

                -- SHA-256 of the input's bytes (hex), kept for algorithms whose answers are cached.
                ALTER TABLE results ADD COLUMN input_hash TEXT;
                -- For a row answered from the cache: the row the answer came from, topic/partition/offset/item.
                ALTER TABLE results ADD COLUMN cached_from TEXT;
                -- The lookup before a call: an ok answer of the same algorithm and version for the same input.
                CREATE INDEX results_answer_cache ON results (algorithm, input_hash)
                    WHERE status = 'ok' AND input_hash IS NOT NULL;

                """#),
        Migration(
            version: 5, name: "005_provenance.sql",
            sql: #"""
                -- algoqueue results store, schema version 5: where an answer came from.

                -- The message's W3C traceparent header, when it had one (it is passed to the algorithm too).
                ALTER TABLE results ADD COLUMN traceparent TEXT;
                -- The HTTP status of the last attempt, for HTTP targets.
                ALTER TABLE results ADD COLUMN http_status INTEGER;

                """#),
        Migration(
            version: 6, name: "006_errors_index.sql",
            sql: #"""
                -- algoqueue results store, schema version 6: an index of error rows only.

                -- Error rows by time, for the errors view, `algoqueue results --errors` and replay. It replaces
                -- results_by_status (status, updated_at), which held every row: an ok row is now written with one
                -- index fewer.
                DROP INDEX results_by_status;
                CREATE INDEX results_errors ON results (updated_at) WHERE status = 'error';

                """#),
    ]

    /// The newest schema version this build knows.
    public static var latestVersion: Int { all.last?.version ?? 0 }
}
