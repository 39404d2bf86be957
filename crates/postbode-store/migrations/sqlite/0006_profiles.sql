-- Profile data (databases, collections, profiles, subprofiles) and sent messages.
-- Field definitions and values are JSON (postbode_core::profile); a profile's `fields`
-- holds only the fields that have a value.

CREATE TABLE databases (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    fields      TEXT NOT NULL,
    unsubscribe TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX databases_by_account ON databases(account_id, id);

CREATE TABLE collections (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    database_id TEXT NOT NULL REFERENCES databases(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    fields      TEXT NOT NULL,
    unsubscribe TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX collections_by_database ON collections(database_id, id);

CREATE TABLE profiles (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    database_id TEXT NOT NULL REFERENCES databases(id) ON DELETE CASCADE,
    fields      TEXT NOT NULL,
    interests   TEXT NOT NULL,
    -- Grows with every change, so a receiver can order the events of one profile.
    sequence    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    modified_at INTEGER NOT NULL
);
CREATE INDEX profiles_by_database ON profiles(database_id, id);

CREATE TABLE subprofiles (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    profile_id    TEXT NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
    database_id   TEXT NOT NULL,
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    fields        TEXT NOT NULL,
    sequence      INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    modified_at   INTEGER NOT NULL
);
CREATE INDEX subprofiles_by_profile ON subprofiles(profile_id, id);
CREATE INDEX subprofiles_by_collection ON subprofiles(collection_id, id);

-- A message outlives its profile: its events then carry the recipient and mailing only.
CREATE TABLE messages (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    mailing       TEXT NOT NULL,
    email         TEXT NOT NULL,
    profile_id    TEXT,
    subprofile_id TEXT,
    created_at    INTEGER NOT NULL
);
