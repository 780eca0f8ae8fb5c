-- algoqueue results store, schema version 6: an index of error rows only.

-- Error rows by time, for the errors view, `algoqueue results --errors` and replay. It replaces
-- results_by_status (status, updated_at), which held every row: an ok row is now written with one
-- index fewer.
DROP INDEX results_by_status;
CREATE INDEX results_errors ON results (updated_at) WHERE status = 'error';
