-- The trace of the request that sent an event (its W3C traceparent), for the spans
-- of its deliveries and the traceparent of their calls; never part of the body.
ALTER TABLE events ADD COLUMN trace_parent TEXT;
