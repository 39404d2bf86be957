-- A webhook's deliveries listed newest first (GET /v1/webhooks/{id}/deliveries), paged
-- by id. Both columns never change, so the index costs nothing on status updates.
CREATE INDEX deliveries_by_webhook_id ON deliveries(webhook_id, id);
