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
    /// the request, that may pass (`Unavailable`, the store shutting down, or the
    /// driver's error meaning so). The one place that decides what is an outage: the
    /// server answers each with 503 and `Retry-After`.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) | StoreError::Closed => true,
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

/// SQLite: see [`sqlite_unavailable`]. PostgreSQL: class 08 (connection exceptions),
/// class 53 (insufficient resources: `disk_full`, out of memory, too many
/// connections), `57P01`-`57P03` (the server shutting down or restarting, or an
/// administrator ending the connection: "terminating connection due to administrator
/// command") and class 58 (the server's own I/O errors). Either: the connection
/// failing (refused, reset, closed), or no connection from the pool in time.
fn unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or_default();
            match code.parse::<i32>() {
                Ok(sqlite) => sqlite_unavailable(sqlite),
                Err(_) => ["08", "53", "57P01", "57P02", "57P03", "58"]
                    .iter()
                    .any(|outage| code.starts_with(outage)),
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}

/// By primary code: `SQLITE_BUSY` and `SQLITE_LOCKED` (another connection held the
/// lock past the busy timeout), `SQLITE_IOERR_*` (a write refused: `EFBIG`, `EIO`),
/// `SQLITE_FULL` (disk full, or a partial write at a file-size limit) and
/// `SQLITE_CANTOPEN`.
fn sqlite_unavailable(code: i32) -> bool {
    matches!(code & 0xff, 5 | 6 | 10 | 13 | 14)
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(code: i32) -> StoreError {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None))
    }

    #[test]
    fn outages_are_told_from_faults() {
        // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR_WRITE, SQLITE_FULL, SQLITE_CANTOPEN.
        for code in [5, 6, 10 | (3 << 8), 13, 14] {
            assert!(sqlite(code).is_unavailable(), "{code}");
        }
        // SQLITE_CONSTRAINT, SQLITE_CORRUPT: faults, not outages.
        for code in [19, 11] {
            assert!(!sqlite(code).is_unavailable(), "{code}");
        }
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(StoreError::Database(sqlx::Error::Io(io)).is_unavailable());
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(StoreError::Closed.is_unavailable());
        assert!(StoreError::Unavailable("disk full".into()).again().is_unavailable());
        assert!(!StoreError::Corrupt("x".into()).is_unavailable());
        assert!(!StoreError::Corrupt("x".into()).again().is_unavailable());
    }
}
