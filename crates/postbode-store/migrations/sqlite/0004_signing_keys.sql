-- Postbode's own signing keys (http-signature: RSA; rfc9421: Ed25519). The private key
-- is PKCS#8, sealed with the master key; the public key is its SubjectPublicKeyInfo.
CREATE TABLE signing_keys (
    id           TEXT PRIMARY KEY,
    algorithm    TEXT NOT NULL,
    selector     TEXT NOT NULL UNIQUE,
    private_key  TEXT NOT NULL,
    public_key   BLOB NOT NULL,
    activates_at INTEGER NOT NULL,
    retires_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
