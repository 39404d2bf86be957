-- Events a webhook wanted but did not get because its URL is not verified.
ALTER TABLE webhook_stats ADD COLUMN skipped_unverified INTEGER NOT NULL DEFAULT 0;
