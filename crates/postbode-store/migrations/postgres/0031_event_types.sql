-- The event-type catalogue: each account's custom types, with a description, a JSON
-- Schema for `data` (checked on ingest) and an example. The suite's own types are built
-- in and not stored. A type of which events exist is archived rather than deleted.
CREATE TABLE event_types (
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name        TEXT COLLATE "C" NOT NULL,
    description TEXT,
    schema      TEXT,
    example     TEXT,
    archived    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);
