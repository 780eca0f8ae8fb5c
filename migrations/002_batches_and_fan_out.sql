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
