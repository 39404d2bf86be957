-- Full-text search of the events' bodies for the delivery log: a contentless FTS5
-- index (the text stays only in `events`) with `detail=none` (which words occur in which
-- event, not where: a few bytes per word and event), keyed on the events' rowid and kept
-- by triggers, so every way an event is written or deleted (ingest, retention, erasure)
-- keeps it true. Existing events are indexed here.
CREATE VIRTUAL TABLE events_text USING fts5(body, content='', contentless_delete=1, detail=none);
INSERT INTO events_text(rowid, body) SELECT rowid, CAST(body AS TEXT) FROM events;
CREATE TRIGGER events_text_insert AFTER INSERT ON events BEGIN
    INSERT INTO events_text(rowid, body) VALUES (new.rowid, CAST(new.body AS TEXT));
END;
CREATE TRIGGER events_text_delete AFTER DELETE ON events BEGIN
    DELETE FROM events_text WHERE rowid = old.rowid;
END;
CREATE TRIGGER events_text_update AFTER UPDATE OF body ON events BEGIN
    DELETE FROM events_text WHERE rowid = old.rowid;
    INSERT INTO events_text(rowid, body) VALUES (new.rowid, CAST(new.body AS TEXT));
END;
