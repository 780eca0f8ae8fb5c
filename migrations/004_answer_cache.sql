-- algoqueue results store, schema version 4: answers computed once (algorithm.cache: input).

-- SHA-256 of the input's bytes (hex), kept for algorithms whose answers are cached.
ALTER TABLE results ADD COLUMN input_hash TEXT;
-- For a row answered from the cache: the row the answer came from, topic/partition/offset/item.
ALTER TABLE results ADD COLUMN cached_from TEXT;
-- The lookup before a call: an ok answer of the same algorithm and version for the same input.
CREATE INDEX results_answer_cache ON results (algorithm, input_hash)
    WHERE status = 'ok' AND input_hash IS NOT NULL;
