-- The event-type catalogue: each account's custom types, with a description, a JSON
-- Schema for `data` (checked on ingest) and an example. The suite's own types are built
-- in and not stored. A type of which events exist is archived rather than deleted.
CREATE TABLE event_types (
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT,
    schema      TEXT,
    example     TEXT,
    archived    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
) WITHOUT ROWID;
