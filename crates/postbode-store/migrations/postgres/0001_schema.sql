-- The same tables as the SQLite backend (migrations/sqlite), in PostgreSQL's types.
-- Times are Unix milliseconds (BIGINT); ids are `<kind>_<ulid>` and sort by creation;
-- JSON is stored as text, exactly as written, so bodies and settings read back byte
-- for byte. Counters are BIGINT throughout. Ids compare byte by byte (COLLATE "C"), as
-- in SQLite, so paging by id (`id > $cursor`) means the same whatever the locale.

CREATE TABLE accounts (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT COLLATE "C" PRIMARY KEY,
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    secret_hash BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX api_keys_by_account ON api_keys(account_id);

CREATE TABLE webhooks (
    id                    TEXT COLLATE "C" PRIMARY KEY,
    account_id            TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    settings              TEXT NOT NULL,
    enabled               BOOLEAN NOT NULL,
    disabled_reason       TEXT,
    secret                TEXT NOT NULL,
    verification          TEXT NOT NULL,
    failing_since         BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    previous_secret       TEXT,
    previous_secret_until BIGINT,
    -- The engine holds the webhook's calls back until then (its circuit breaker).
    paused_until          BIGINT,
    pause_reason          TEXT,
    -- What claims filter on, read out of the JSON once per write instead of per claim.
    verified              BOOLEAN GENERATED ALWAYS AS ((verification::jsonb ->> 'status') = 'verified') STORED
);
CREATE INDEX webhooks_by_account ON webhooks(account_id, id);

CREATE TABLE events (
    id          TEXT COLLATE "C" PRIMARY KEY,
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    type        TEXT NOT NULL,
    body        BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE idempotency_keys (
    account_id   TEXT COLLATE "C" NOT NULL,
    key          TEXT NOT NULL,
    request_hash BYTEA NOT NULL,
    event_id     TEXT COLLATE "C" NOT NULL,
    deliveries   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (account_id, key)
);

CREATE TABLE deliveries (
    id               TEXT COLLATE "C" PRIMARY KEY,
    account_id       TEXT COLLATE "C" NOT NULL,
    event_id         TEXT COLLATE "C" NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    webhook_id       TEXT COLLATE "C" NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_trigger     TEXT NOT NULL DEFAULT 'scheduled',
    next_attempt_at  BIGINT,
    lease_until      BIGINT,
    last_status_code BIGINT,
    created_at       BIGINT NOT NULL,
    delivered_at     BIGINT,
    ended_at         BIGINT
);
-- The engines' queue: only pending rows, in the order they fall due.
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_event ON deliveries(event_id);
CREATE INDEX deliveries_by_webhook ON deliveries(webhook_id, status, created_at);
-- A webhook's deliveries newest first, paged by id.
CREATE INDEX deliveries_by_webhook_id ON deliveries(webhook_id, id);

CREATE TABLE attempts (
    id            TEXT COLLATE "C" PRIMARY KEY,
    account_id    TEXT COLLATE "C" NOT NULL,
    delivery_id   TEXT COLLATE "C",
    webhook_id    TEXT COLLATE "C" NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id      TEXT COLLATE "C",
    number        BIGINT NOT NULL,
    trigger       TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    status_code   BIGINT,
    error_kind    TEXT,
    error         TEXT,
    response_body TEXT
);
CREATE INDEX attempts_by_webhook ON attempts(webhook_id, id);
CREATE INDEX attempts_by_delivery ON attempts(delivery_id);

CREATE TABLE webhook_stats (
    webhook_id         TEXT COLLATE "C" NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    hour               BIGINT NOT NULL,
    delivered          BIGINT NOT NULL DEFAULT 0,
    failed             BIGINT NOT NULL DEFAULT 0,
    skipped            BIGINT NOT NULL DEFAULT 0,
    attempts           BIGINT NOT NULL DEFAULT 0,
    latency            TEXT NOT NULL DEFAULT '{"buckets":{}}',
    skipped_unverified BIGINT NOT NULL DEFAULT 0,
    condition_errors   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (webhook_id, hour)
);

CREATE TABLE signing_keys (
    id           TEXT COLLATE "C" PRIMARY KEY,
    algorithm    TEXT NOT NULL,
    selector     TEXT NOT NULL UNIQUE,
    private_key  TEXT NOT NULL,
    public_key   BYTEA NOT NULL,
    activates_at BIGINT NOT NULL,
    retires_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE databases (
    id          TEXT COLLATE "C" PRIMARY KEY,
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    fields      TEXT NOT NULL,
    unsubscribe TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    key_fields  TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX databases_by_account ON databases(account_id, id);

CREATE TABLE collections (
    id          TEXT COLLATE "C" PRIMARY KEY,
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    database_id TEXT COLLATE "C" NOT NULL REFERENCES databases(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    fields      TEXT NOT NULL,
    unsubscribe TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX collections_by_database ON collections(database_id, id);

CREATE TABLE profiles (
    id          TEXT COLLATE "C" PRIMARY KEY,
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    database_id TEXT COLLATE "C" NOT NULL REFERENCES databases(id) ON DELETE CASCADE,
    fields      TEXT NOT NULL,
    interests   TEXT NOT NULL,
    sequence    BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
CREATE INDEX profiles_by_database ON profiles(database_id, id);

CREATE TABLE subprofiles (
    id            TEXT COLLATE "C" PRIMARY KEY,
    account_id    TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    profile_id    TEXT COLLATE "C" NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    database_id   TEXT COLLATE "C" NOT NULL,
    collection_id TEXT COLLATE "C" NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    fields        TEXT NOT NULL,
    sequence      BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    modified_at   BIGINT NOT NULL
);
CREATE INDEX subprofiles_by_profile ON subprofiles(profile_id, id);
CREATE INDEX subprofiles_by_collection ON subprofiles(collection_id, id);

CREATE TABLE profile_keys (
    account_id  TEXT COLLATE "C" NOT NULL,
    database_id TEXT COLLATE "C" NOT NULL,
    field       TEXT NOT NULL,
    value       TEXT NOT NULL,
    profile_id  TEXT COLLATE "C" NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    -- The value leads: a lookup of many values uses the index whatever the planner's
    -- statistics say about a database that is still being imported.
    PRIMARY KEY (value, field, database_id, profile_id)
);
CREATE INDEX profile_keys_by_profile ON profile_keys(profile_id);

CREATE TABLE messages (
    id            TEXT COLLATE "C" PRIMARY KEY,
    account_id    TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    mailing       TEXT NOT NULL,
    email         TEXT NOT NULL,
    profile_id    TEXT COLLATE "C",
    subprofile_id TEXT COLLATE "C",
    created_at    BIGINT NOT NULL
);
