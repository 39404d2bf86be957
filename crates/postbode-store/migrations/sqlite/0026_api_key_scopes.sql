-- API keys get a name, scopes (space-separated; keys made before scopes keep every
-- right: `manage`) and the time they were last used (written at most once a minute).
ALTER TABLE api_keys ADD COLUMN name TEXT;
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'manage';
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
