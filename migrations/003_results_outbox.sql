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
    queued_at   TEXT    NOT NULL
);
