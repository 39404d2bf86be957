-- Retention walks events and attempts by age and expired idempotency keys by expiry,
-- a batch at a time, each by index instead of a scan of the table.
CREATE INDEX events_by_age ON events(created_at, id);
CREATE INDEX attempts_by_age ON attempts(started_at);
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys(expires_at);
