#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// From the SQLite writer's own connection (`sqlite/group.rs`).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    #[error("the idempotency key {key:?} was used before with a different request")]
    IdempotencyConflict { key: String },
    #[error("the write could not be committed: {0}")]
    Commit(String),
    /// The database cannot write now (disk full, a file-size limit, an I/O error, the
    /// server unreachable); nothing was changed, and the same request may succeed later.
    #[error("the database cannot store anything right now: {0}")]
    Unavailable(String),
    /// One of the SQLite store's files could not be made or made private.
    #[error("{}: {source}", .path.display())]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is in use by another Postbode process")]
    InUse(String),
    /// A caller broke a rule it should have checked (a bug, not bad user input).
    #[error("invalid request to the store: {0}")]
    Invalid(String),
    #[error("the store is shutting down")]
    Closed,
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DATABASE")]
    UnsupportedUrl(String),
    /// `postbode migrate --from --to` cannot go ahead (the target has data, or the move
    /// is not from SQLite to PostgreSQL).
    #[error("cannot move the store: {0}")]
    Move(String),
}

impl StoreError {
    /// The database could not write or be reached: a condition of the machine, not of
    /// the request, that may pass (`Unavailable`, or the driver's error meaning so).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Database(e) => unavailable(e),
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => sqlite_unavailable(e.extended_code),
            _ => false,
        }
    }

    /// The same failure again, for every write of a group that failed together.
    pub(crate) fn again(&self) -> StoreError {
        match self.is_unavailable() {
            true => StoreError::Unavailable(self.to_string()),
            false => StoreError::Commit(self.to_string()),
        }
    }
}

/// SQLite: `SQLITE_FULL` (disk full, or a partial write at a file-size limit),
/// `SQLITE_IOERR_*` (a write refused: `EFBIG`, `EIO`), `SQLITE_CANTOPEN`. PostgreSQL:
/// class 53 (insufficient resources: `disk_full`, out of memory, too many connections)
/// and class 08 (connection exceptions). Either: the connection or pool failing.
fn unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or_default();
            match code.parse::<i32>() {
                Ok(sqlite) => sqlite_unavailable(sqlite),
                Err(_) => code.starts_with("53") || code.starts_with("08"),
            }
        }
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}

/// `SQLITE_IOERR_*`, `SQLITE_FULL` and `SQLITE_CANTOPEN`, by their primary code.
fn sqlite_unavailable(code: i32) -> bool {
    matches!(code & 0xff, 10 | 13 | 14)
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}
