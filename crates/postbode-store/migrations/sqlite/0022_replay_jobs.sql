-- Replays of a webhook's deliveries and of the events it never had, run in batches as
-- a job. The cursor (the last row done, by creation time and id) moves in the same
-- transaction as each batch's work, so a restart resumes where the work stopped.
CREATE TABLE replay_jobs (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    webhook_id  TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    from_at     INTEGER NOT NULL,
    until_at    INTEGER NOT NULL,
    -- Whether the webhook's deliveries are sent again (else only missing events).
    resend      INTEGER NOT NULL,
    -- JSON lists; empty: every delivery status, every event type.
    statuses    TEXT NOT NULL,
    event_types TEXT NOT NULL,
    -- Whether events of the range without a delivery to the webhook get one.
    missing     INTEGER NOT NULL,
    -- running | done | failed
    status      TEXT NOT NULL,
    total       INTEGER NOT NULL,
    done        INTEGER NOT NULL DEFAULT 0,
    resent      INTEGER NOT NULL DEFAULT 0,
    created     INTEGER NOT NULL DEFAULT 0,
    -- deliveries | missing
    phase       TEXT NOT NULL,
    cursor_at   INTEGER,
    cursor_id   TEXT,
    error       TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
-- One running job per webhook: two replays of the same events would send them twice.
CREATE UNIQUE INDEX replay_jobs_running ON replay_jobs(webhook_id) WHERE status = 'running';
CREATE INDEX replay_jobs_by_webhook ON replay_jobs(webhook_id, created_at);
