//! The PostgreSQL backend, on which several Postbode nodes share the work.
//!
//! - Each node has its own writer (group commit, as on SQLite): a group is one
//!   transaction whose rows go in with `UNNEST` arrays, a handful of statements however
//!   many rows. Rows two nodes may both change (a profile, a webhook's health, an hour
//!   of statistics) are locked when read, in id order, so concurrent groups serialise
//!   on them instead of losing an update.
//! - Claims run in transactions of their own beside the writer, taking due deliveries
//!   with `FOR UPDATE SKIP LOCKED` and leasing them; a node that dies leaves leases that
//!   run out, and the other nodes claim those deliveries then.
//! - A commit that made deliveries due sends `NOTIFY postbode_work`; every node listens
//!   and wakes its engine ([`listen`]), with the engine's polling as the fallback.
//! - Idempotency keys are settled by the key's row: a second node storing the same key
//!   waits for the first's commit and then sees its event.

mod group;
mod listen;
mod prune;
mod records;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

use crate::backend::{Backend, GroupTx, PruneTx};
use crate::writer::{self, WriterHandle};
use crate::{Result, Store};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The channel commits announce due deliveries on.
pub(crate) const WORK_CHANNEL: &str = "postbode_work";

/// Write groups of the main queue committing at once on one node: while one waits for
/// PostgreSQL (its round trips, its WAL flush), the next is written.
const GROUPS_AT_ONCE: usize = 3;

/// Connections per node: the writer, the claims, the listener, and the API's reads.
const MAX_CONNECTIONS: u32 = 16;

pub struct PgStore {
    pool: PgPool,
    writer: WriterHandle,
    work: Arc<Notify>,
    listener: tokio::task::JoinHandle<()>,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://...`) and applies the migrations
    /// (which several nodes starting at once do one at a time, under an advisory lock).
    pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
        let options = PgConnectOptions::from_str(url)?;
        // One plain connection first: a pool retries until its timeout and then says only
        // that it timed out; this says why (refused, unknown host, authentication, no
        // such database).
        let probe = <sqlx::PgConnection as sqlx::Connection>::connect_with(&options).await?;
        sqlx::Connection::close(probe).await?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        let (writer, queue, locking) = writer::channel(writer::Commits::SideBySide);
        let work = Arc::new(Notify::new());
        let source = Arc::new(group::PgTxSource::new(pool.clone()));
        for queue in std::iter::repeat_n(queue, GROUPS_AT_ONCE).chain(locking) {
            tokio::spawn(writer::run(source.clone(), queue, work.clone()));
        }
        let listener = tokio::spawn(listen::wake_on_notify(pool.clone(), work.clone()));
        Ok(Arc::new(Self {
            pool,
            writer,
            work,
            listener,
        }))
    }

    /// Tells every node's engine (this one's too) that deliveries became due.
    async fn announce_work(&self) {
        self.work.notify_one();
        if let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
            .bind(WORK_CHANNEL)
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %e, "announcing work to the other nodes; they will find it when they poll");
        }
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

#[async_trait]
impl Backend for PgStore {
    fn writer(&self) -> &WriterHandle {
        &self.writer
    }

    fn work_signal(&self) -> Arc<Notify> {
        self.work.clone()
    }

    async fn claim_transaction(&self) -> Result<Option<Box<dyn GroupTx>>> {
        Ok(Some(Box::new(group::PgTx::begin(&self.pool).await?)))
    }

    async fn prune_transaction(&self) -> Result<Box<dyn PruneTx>> {
        Ok(Box::new(prune::PgPruneTx::begin(&self.pool).await?))
    }
}
