-- Events a webhook's condition could not be evaluated for (and that were not sent).
ALTER TABLE webhook_stats ADD COLUMN condition_errors INTEGER NOT NULL DEFAULT 0;
