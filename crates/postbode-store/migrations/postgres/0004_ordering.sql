-- The subject an ordered webhook keeps a delivery in order with (a profile, or a custom
-- event's ordering_key): a delivery is claimable only when no earlier delivery of its
-- subject is still pending.
ALTER TABLE deliveries ADD COLUMN ordering_key TEXT;
CREATE INDEX deliveries_by_subject ON deliveries(webhook_id, ordering_key, id)
    WHERE status = 'pending' AND ordering_key IS NOT NULL;
