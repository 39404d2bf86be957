//! The embedded SQLite backend: WAL mode with `synchronous=FULL` for durability, one
//! writer (a thread of its own) that applies the rules' write groups on its own
//! connection (`group`, through rusqlite on that thread), and a sqlx pool of
//! connections for reads, for the rare management writes (which wait their turn
//! through `busy_timeout`) and for copying the WAL back into the database beside the
//! writer (`checkpoints`).

mod connection;
mod files;
mod group;
mod prune;
mod records;

use async_trait::async_trait;
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, oneshot};

use crate::backend::{Backend, GroupTx, PruneTx};
use crate::writer::{self, WriterHandle};
use crate::{Result, StoreError};

/// Every connection's settings, the pool's and the writer's.
const PRAGMAS: [(&str, &str); 5] = [
    ("journal_mode", "WAL"),
    ("synchronous", "FULL"),
    ("foreign_keys", "ON"),
    ("temp_store", "memory"),
    // 8 MB of pages per connection (up to 9 of them): a 1 000 000-delivery backlog
    // drains in 84 MB instead of 119 MB, no slower (the OS caches the file too).
    ("cache_size", "-8000"),
];

/// How long a connection waits for another's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
    writer: WriterHandle,
    work: Arc<Notify>,
    /// Held for the store's lifetime: one process per SQLite file (see `open`).
    _lock: Option<std::fs::File>,
}

/// Takes `<database file>.lock` exclusively, so a second process cannot open the same
/// file: the store clears leases at open on the understanding that it is alone. The
/// operating system releases the lock when the process dies, even by `kill -9`.
fn lock_database(options: &SqliteConnectOptions) -> Result<Option<std::fs::File>> {
    let path = options.get_filename();
    if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
        return Ok(None);
    }
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| StoreError::Commit(format!("opening {}: {e}", std::path::Path::new(&lock_path).display())))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse(path.display().to_string())),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Commit(format!("locking {}: {e}", path.display()))),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://PATH`) and applies
    /// the migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let options = PRAGMAS
            .iter()
            .fold(SqliteConnectOptions::from_str(url)?, |options, (name, value)| {
                options.pragma(*name, *value)
            })
            .create_if_missing(true)
            .busy_timeout(BUSY_TIMEOUT)
            .log_statements(tracing::log::LevelFilter::Trace);
        let file = options.get_filename();
        if !file.as_os_str().is_empty() && file.as_os_str() != ":memory:" {
            files::make_private(file)?;
        }
        let lock = lock_database(&options)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&pool).await?;
        drop_key_indexes(&pool).await?;
        // An SQLite file has one service process (the data directory is not shared), so
        // a lease found at open belongs to a process that died: its deliveries are due
        // now, not when the lease would have run out.
        sqlx::query("UPDATE deliveries SET lease_until = NULL WHERE status = 'pending' AND lease_until IS NOT NULL")
            .execute(&pool)
            .await?;
        let (committed, commits) = tokio::sync::mpsc::channel(1);
        tokio::spawn(checkpoints(pool.clone(), commits));
        let (writer, queue, _) = writer::channel(writer::Commits::OneAtATime);
        let work = Arc::new(Notify::new());
        // The writer gets a thread of its own, and runs its statements on it: SQLite
        // calls block, and on the shared runtime they would hold up the HTTP traffic.
        let (ready, opened) = oneshot::channel();
        let signal = work.clone();
        let path = options.get_filename().to_owned();
        std::thread::Builder::new()
            .name("postbode-writer".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready.send(Err(StoreError::Commit(format!("starting the writer: {e}"))));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match connection::WriterConnection::open(&path, BUSY_TIMEOUT, &PRAGMAS, committed) {
                        Ok(source) => {
                            let _ = ready.send(Ok(()));
                            let source = Arc::new(source);
                            writer::run(source.clone(), queue, signal).await;
                            // Every sender is gone: the store was dropped.
                            source.close().await;
                        }
                        Err(e) => {
                            let _ = ready.send(Err(e));
                        }
                    }
                });
            })
            .map_err(|e| StoreError::Commit(format!("starting the writer thread: {e}")))?;
        opened.await.map_err(|_| StoreError::Closed)??;
        Ok(Self {
            pool,
            writer,
            work,
            _lock: lock,
        })
    }
}

/// The least time between two checkpoints while commits go on.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(100);

/// Copies committed pages from the WAL back into the database file, beside the writer.
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold, so
/// the writer (and every request waiting on its group) paid for it; here a pool
/// connection does it, at most every [`CHECKPOINT_PAUSE`] while the writer commits.
/// Ends when the writer is gone.
async fn checkpoints(pool: SqlitePool, mut commits: tokio::sync::mpsc::Receiver<()>) {
    while commits.recv().await.is_some() {
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            tracing::warn!(error = %e, "checkpointing the WAL");
        }
        tokio::time::sleep(CHECKPOINT_PAUSE).await;
    }
}

/// Copies the database at `url` (`sqlite://PATH`) to `target`, consistent as of one
/// moment, while the service may be running: `VACUUM INTO` on a read-only connection of
/// its own (the service's single-process lock is a separate file, so this needs no
/// lock). `target` must not exist yet; the copy is readable by its owner only.
pub async fn backup(url: &str, target: &std::path::Path) -> Result<()> {
    let options = SqliteConnectOptions::from_str(url)?
        .read_only(true)
        .busy_timeout(Duration::from_secs(30));
    let mut connection = options.connect().await?;
    let path = target;
    let target = target
        .to_str()
        .ok_or_else(|| StoreError::Invalid(format!("{} is not a UTF-8 path", target.display())))?;
    // `VACUUM INTO` fills an empty file and keeps its permissions.
    files::create_private(path)?;
    let copied = sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(&mut connection)
        .await;
    if copied.is_err() {
        let _ = std::fs::remove_file(path);
    }
    copied?;
    sqlx::Connection::close(connection).await?;
    Ok(())
}

/// Earlier versions indexed import keys with one expression index per field name, made
/// at run time; `profile_keys` replaces them.
async fn drop_key_indexes(pool: &SqlitePool) -> Result<()> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'profiles\\_by\\_field\\_%' ESCAPE '\\'",
    )
    .fetch_all(pool)
    .await?;
    for name in names {
        // The name was made of `profiles_by_field_` and hex digits.
        if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            sqlx::query(&format!("DROP INDEX IF EXISTS {name}"))
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

#[async_trait]
impl Backend for SqliteStore {
    fn writer(&self) -> &WriterHandle {
        &self.writer
    }

    fn work_signal(&self) -> Arc<Notify> {
        self.work.clone()
    }

    async fn claim_transaction(&self) -> Result<Option<Box<dyn GroupTx>>> {
        Ok(None)
    }

    async fn prune_transaction(&self) -> Result<Box<dyn PruneTx>> {
        Ok(Box::new(prune::SqlitePruneTx::begin(&self.pool).await?))
    }
}
