#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    #[error("the idempotency key {key:?} was used before with a different request")]
    IdempotencyConflict { key: String },
    #[error("the write could not be committed: {0}")]
    Commit(String),
    #[error("{0} is in use by another Postbode process")]
    InUse(String),
    /// A caller broke a rule it should have checked (a bug, not bad user input).
    #[error("invalid request to the store: {0}")]
    Invalid(String),
    #[error("the store is shutting down")]
    Closed,
    #[error("unsupported database URL {0:?}: use sqlite://PATH")]
    UnsupportedUrl(String),
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}
