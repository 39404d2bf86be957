//! The store's files are its operator's alone: they hold profile data. The database,
//! its WAL and shared-memory files and the lock file are 0600, whatever the umask:
//! made so before SQLite opens them (SQLite gives the WAL and shared-memory files it
//! creates the database file's permissions), and taken back to 0600 when an earlier
//! start left them readable by others.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::{Result, StoreError};

const PRIVATE: u32 = 0o600;

fn error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::File {
        path: path.to_owned(),
        source,
    }
}

/// `<database><suffix>`, as SQLite names its companions.
fn beside(database: &Path, suffix: &str) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Creates the database file and its lock file as 0600 when they are missing, and
/// takes group and other permissions away from any of the store's files that has them.
pub(super) fn make_private(database: &Path) -> Result<()> {
    for path in [database.to_owned(), beside(database, ".lock")] {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(PRIVATE)
            .open(&path)
            .map_err(|e| error(&path, e))?;
    }
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let path = beside(database, suffix);
        let mode = match std::fs::metadata(&path) {
            Ok(metadata) => metadata.permissions().mode(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(error(&path, e)),
        };
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(PRIVATE)).map_err(|e| error(&path, e))?;
            tracing::info!(file = %path.display(), "made readable by its owner only (0600)");
        }
    }
    Ok(())
}

/// A new, empty file readable by its owner only; an existing one is an error.
pub(super) fn create_private(path: &Path) -> Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE)
        .open(path)
        .map(drop)
        .map_err(|e| error(path, e))
}
