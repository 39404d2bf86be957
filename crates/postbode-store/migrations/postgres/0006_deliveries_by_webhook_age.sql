-- Retrying a webhook's deliveries of a time range finds them by creation time; the
-- status is checked on the row. With the status in the index, every delivery's result
-- rewrote an index entry; creation time never changes, so this index is written once.
DROP INDEX deliveries_by_webhook;
CREATE INDEX deliveries_by_webhook_age ON deliveries(webhook_id, created_at);
