-- The delivery log pages a webhook's deliveries newest first, by id.
CREATE INDEX deliveries_by_webhook_id ON deliveries(webhook_id, id);
