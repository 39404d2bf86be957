-- When the attempt that ended a delivery (delivered or failed) started: the hour its
-- statistics count it in, so a resend or recover can take it out of that hour.
ALTER TABLE deliveries ADD COLUMN ended_at INTEGER;

-- The engine holds a webhook's calls back until then (its circuit breaker), on every
-- node, for the reason given.
ALTER TABLE webhooks ADD COLUMN paused_until INTEGER;
ALTER TABLE webhooks ADD COLUMN pause_reason TEXT;

-- The fields of a database that imports find profiles by, and the table that finds them
-- (replacing per-field expression indexes made at run time).
ALTER TABLE databases ADD COLUMN key_fields TEXT NOT NULL DEFAULT '[]';

CREATE TABLE profile_keys (
    account_id  TEXT NOT NULL,
    database_id TEXT NOT NULL,
    field       TEXT NOT NULL,
    -- The value as JSON text, so 42 and "42" differ.
    value       TEXT NOT NULL,
    profile_id  TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    -- The value leads: a lookup of many values uses the index whatever the planner's
    -- statistics say about a database that is still being imported.
    PRIMARY KEY (value, field, database_id, profile_id)
) WITHOUT ROWID;
CREATE INDEX profile_keys_by_profile ON profile_keys(profile_id);


-- A webhook's deliveries listed newest first (GET /v1/webhooks/{id}/deliveries), paged
-- by id. Both columns never change, so the index costs nothing on status updates.
CREATE INDEX deliveries_by_webhook_id ON deliveries(webhook_id, id);
