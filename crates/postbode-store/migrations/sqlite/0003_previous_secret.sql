-- During a secret rotation the previous secret keeps signing until previous_secret_until.
-- Both secrets are stored sealed with the master key.
ALTER TABLE webhooks ADD COLUMN previous_secret TEXT;
ALTER TABLE webhooks ADD COLUMN previous_secret_until INTEGER;
