-- Deliveries and attempts belong to an account through their webhook, and an attempt to
-- its event through its delivery: the copies of those ids in every row go. Queries check
-- the account on the webhook instead.
ALTER TABLE deliveries DROP COLUMN account_id;
ALTER TABLE attempts DROP COLUMN account_id, DROP COLUMN event_id;
