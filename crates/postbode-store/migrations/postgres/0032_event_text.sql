-- Full-text search of the events' bodies for the delivery log: a GIN index over the
-- words of each body (the 'simple' configuration: words as they are, without case, no
-- stemming), no stored column. convert_from is only STABLE, so the body's text goes
-- through a function declared IMMUTABLE: bodies are always UTF-8 JSON.
CREATE FUNCTION postbode_body_text(body BYTEA) RETURNS TEXT
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT convert_from(body, 'UTF8') $$;
CREATE INDEX events_by_text ON events USING gin (to_tsvector('simple', postbode_body_text(body)));
