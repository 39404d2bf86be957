-- Domains an account proves it controls with a TXT record; a validated one verifies
-- the webhooks on it and its subdomains.
CREATE TABLE domains (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    domain      TEXT NOT NULL,
    token       TEXT NOT NULL,
    status      TEXT NOT NULL,
    checked_at  INTEGER,
    outcome     TEXT,
    created_at  INTEGER NOT NULL,
    UNIQUE (account_id, domain)
);

-- The profile an event concerns (from its scope at ingest), so erasing a profile finds
-- its events, and the messages sent to it, by index.
ALTER TABLE events ADD COLUMN profile_id TEXT;
CREATE INDEX events_by_profile ON events(account_id, profile_id) WHERE profile_id IS NOT NULL;
CREATE INDEX messages_by_profile ON messages(account_id, profile_id) WHERE profile_id IS NOT NULL;
