-- Times are Unix milliseconds (INTEGER); ids are `<kind>_<ulid>` and sort by creation.

CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    secret_hash BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- The user's settings as JSON (postbode_core::webhook::WebhookSettings); `enabled`
    -- lives in its own column, which wins, because the engine filters on it.
    settings        TEXT NOT NULL,
    enabled         INTEGER NOT NULL,
    disabled_reason TEXT,
    secret          TEXT NOT NULL,
    verification    TEXT NOT NULL,
    failing_since   INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX webhooks_by_account ON webhooks(account_id, id);

CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    type        TEXT NOT NULL,
    body        BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE idempotency_keys (
    account_id   TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    event_id     TEXT NOT NULL,
    deliveries   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, key)
) WITHOUT ROWID;

CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    event_id         TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    webhook_id       TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- What the next attempt is for: scheduled, resend or recover.
    next_trigger     TEXT NOT NULL DEFAULT 'scheduled',
    next_attempt_at  INTEGER,
    lease_until      INTEGER,
    last_status_code INTEGER,
    created_at       INTEGER NOT NULL,
    delivered_at     INTEGER
);
-- The engine's queue: only pending rows, in the order they fall due.
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_event ON deliveries(event_id);
CREATE INDEX deliveries_by_webhook ON deliveries(webhook_id, status, created_at);

CREATE TABLE attempts (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    delivery_id   TEXT,
    webhook_id    TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id      TEXT,
    number        INTEGER NOT NULL,
    trigger       TEXT NOT NULL,
    started_at    INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    status_code   INTEGER,
    error_kind    TEXT,
    error         TEXT,
    response_body TEXT
);
CREATE INDEX attempts_by_webhook ON attempts(webhook_id, id);
CREATE INDEX attempts_by_delivery ON attempts(delivery_id);

-- Hourly roll-up per webhook, so statistics never scan the attempt log.
CREATE TABLE webhook_stats (
    webhook_id   TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    hour         INTEGER NOT NULL,
    delivered    INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0,
    attempts     INTEGER NOT NULL DEFAULT 0,
    latency      TEXT NOT NULL DEFAULT '{"buckets":{}}',
    PRIMARY KEY (webhook_id, hour)
) WITHOUT ROWID;
