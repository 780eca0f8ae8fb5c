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
