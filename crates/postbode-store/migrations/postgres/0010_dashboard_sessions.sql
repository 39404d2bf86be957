-- Dashboard sessions, kept on the server so that signing out ends them at once. The
-- browser's cookie holds a random id; only its SHA-256 is stored. Deleting the API key
-- a session was made with, or its account, ends it.
CREATE TABLE dashboard_sessions (
    id_hash     BYTEA PRIMARY KEY,
    -- NULL: the operator's session.
    account_id  TEXT COLLATE "C" REFERENCES accounts(id) ON DELETE CASCADE,
    key_id      TEXT COLLATE "C" REFERENCES api_keys(id) ON DELETE CASCADE,
    -- manage | view
    role        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions(expires_at);
CREATE INDEX dashboard_sessions_by_key ON dashboard_sessions(key_id) WHERE key_id IS NOT NULL;
CREATE INDEX dashboard_sessions_by_account ON dashboard_sessions(account_id) WHERE account_id IS NOT NULL;
