-- A disabled webhook's deliveries wait (held) until it is enabled again. Claims find
-- due deliveries webhook by webhook, so a held backlog is never read by them: the
-- partial index holds only pending deliveries, by webhook and due time.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_pending ON deliveries(webhook_id, next_attempt_at) WHERE status = 'pending';
-- Events held for a disabled webhook, per hour.
ALTER TABLE webhook_stats ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
