-- algoqueue results store, schema version 5: where an answer came from.

-- The message's W3C traceparent header, when it had one (it is passed to the algorithm too).
ALTER TABLE results ADD COLUMN traceparent TEXT;
-- The HTTP status of the last attempt, for HTTP targets.
ALTER TABLE results ADD COLUMN http_status INTEGER;
