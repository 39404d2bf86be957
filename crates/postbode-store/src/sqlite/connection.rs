//! The SQLite writer's connection: opened with rusqlite on the writer's own thread,
//! a group's transaction on it (`BEGIN IMMEDIATE` … `COMMIT`), and the plumbing of its
//! statements: prepared once and cached, multi-row ones in runs of a few sizes.
//!
//! The writer's statements run on its own thread, not through sqlx's: every statement
//! sent to another thread was two thread wake-ups, and on a busy 2-core machine those
//! waits were half the time of a small group.

use async_trait::async_trait;
use rusqlite::types::ToSql;
use rusqlite::{CachedStatement, Connection, Params};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc};

use crate::Result;
use crate::backend::{Durability, GroupTx, TxSource};

/// The most rows one multi-row statement takes (13 columns at most: well under
/// SQLite's 32 766 variables).
const MOST_ROWS: usize = 256;

/// Up to this many rows go in one statement of their exact number.
const EXACT_ROWS: usize = 32;

/// Prepared statements kept: every size of every multi-row statement ([`runs`]).
const CACHED_STATEMENTS: usize = 500;

/// Splits `rows` into runs of at most [`EXACT_ROWS`] rows, or of a power of two rows
/// (at most [`MOST_ROWS`]).
///
/// A multi-row statement's text depends on its number of rows, and a text not in the
/// connection's statement cache is prepared again, which costs about as much as
/// running it. Groups vary in size, so with one statement per group nearly every
/// statement was new. A small group's rows still go in one statement. That makes
/// 32 + 3 texts per statement, all cached ([`CACHED_STATEMENTS`]).
pub(super) fn runs<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let len = match rows.len() {
            small @ ..=EXACT_ROWS => small,
            many => MOST_ROWS.min(1 << many.ilog2()),
        };
        let (run, rest) = rows.split_at(len);
        rows = rest;
        Some(run)
    })
}

/// `head VALUES (?, …), … tail`: `rows` rows of `columns` parameters.
pub(super) fn values(head: &str, columns: usize, rows: usize, tail: &str) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * (row.len() + 2) + 9);
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&row);
    }
    sql.push(' ');
    sql.push_str(tail);
    sql
}

/// Binds a multi-row statement's parameters in order.
pub(super) struct Binds<'s, 'c> {
    statement: &'s mut CachedStatement<'c>,
    next: usize,
}

impl<'s, 'c> Binds<'s, 'c> {
    pub(super) fn of(statement: &'s mut CachedStatement<'c>) -> Self {
        Self { statement, next: 0 }
    }

    pub(super) fn add<T: ToSql>(&mut self, value: T) -> Result<&mut Self> {
        self.next += 1;
        self.statement.raw_bind_parameter(self.next, value)?;
        Ok(self)
    }
}

/// Runs one of the writer's statements (`work`); at trace level
/// (`POSTBODE_LOG=postbode_store::sqlite::connection=trace`) logs it with the time it
/// took, as sqlx does for the pool's (`sqlx::query=trace`).
fn timed<T>(sql: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
    if !tracing::enabled!(tracing::Level::TRACE) {
        return work();
    }
    let started = std::time::Instant::now();
    let done = work();
    let summary = sql.split_whitespace().take(6).collect::<Vec<_>>().join(" ");
    tracing::trace!(summary, elapsed_secs = started.elapsed().as_secs_f64(), "statement");
    done
}

/// Begins write groups on the writer's connection.
pub struct WriterConnection {
    conn: Arc<Mutex<Connection>>,
    /// The `synchronous` setting the connection has now.
    synchronous: std::sync::Mutex<Durability>,
    /// Told of every commit (the checkpoints follow them).
    committed: mpsc::Sender<()>,
}

impl WriterConnection {
    /// Opens the writer's connection to the database at `path`, which the pool has
    /// created and migrated, with the pool's `pragmas` (`synchronous` among them, `FULL`).
    pub fn open(
        path: &Path,
        busy_timeout: Duration,
        pragmas: &[(&str, &str)],
        committed: mpsc::Sender<()>,
    ) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(busy_timeout)?;
        conn.set_prepared_statement_cache_capacity(CACHED_STATEMENTS);
        for (name, value) in pragmas {
            conn.execute_batch(&format!("PRAGMA {name} = {value}"))?;
        }
        // `checkpoints` (in `sqlite/mod.rs`) copies the WAL back; the writer only does
        // it itself if that falls far behind.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 10000")?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            synchronous: std::sync::Mutex::new(Durability::Full),
            committed,
        })
    }

    /// Closes the connection cleanly, so the WAL is checkpointed.
    pub async fn close(&self) {
        let conn = self.conn.lock().await;
        if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
            tracing::warn!(error = %e, "checkpointing the database at close");
        }
    }
}

#[async_trait]
impl TxSource for WriterConnection {
    async fn begin(&self, durability: Durability) -> Result<Box<dyn GroupTx>> {
        let conn = self.conn.clone().lock_owned().await;
        let changed = {
            let mut current = self.synchronous.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::replace(&mut *current, durability) != durability
        };
        let tx = SqliteTx {
            conn,
            committed: self.committed.clone(),
        };
        if changed {
            // WAL with NORMAL skips the flush at commit and never corrupts the file; a
            // commit it loses to a power cut only held leases.
            tx.batch(match durability {
                Durability::Full => "PRAGMA synchronous = FULL",
                Durability::Relaxed => "PRAGMA synchronous = NORMAL",
            })?;
        }
        tx.batch("BEGIN IMMEDIATE")?;
        Ok(Box::new(tx))
    }
}

pub struct SqliteTx {
    pub(super) conn: OwnedMutexGuard<Connection>,
    /// Told of the commit (the checkpoints follow them).
    pub(super) committed: mpsc::Sender<()>,
}

impl SqliteTx {
    pub(super) fn statement(&self, sql: &str) -> Result<CachedStatement<'_>> {
        Ok(self.conn.prepare_cached(sql)?)
    }

    /// Runs statements without parameters or rows (transaction control).
    pub(super) fn batch(&self, sql: &str) -> Result<()> {
        timed(sql, || Ok(self.conn.execute_batch(sql)?))
    }

    /// Runs a statement; answers how many rows it changed.
    pub(super) fn run(&self, sql: &str, params: impl Params) -> Result<usize> {
        timed(sql, || Ok(self.statement(sql)?.execute(params)?))
    }

    pub(super) fn all<T>(
        &self,
        sql: &str,
        params: impl Params,
        convert: impl Fn(&rusqlite::Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        timed(sql, || {
            let mut statement = self.statement(sql)?;
            let mut rows = statement.query(params)?;
            let mut found = Vec::new();
            while let Some(row) = rows.next()? {
                found.push(convert(row)?);
            }
            Ok(found)
        })
    }

    pub(super) fn optional<T>(
        &self,
        sql: &str,
        params: impl Params,
        convert: impl Fn(&rusqlite::Row) -> Result<T>,
    ) -> Result<Option<T>> {
        Ok(self.all(sql, params, convert)?.into_iter().next())
    }

    /// Runs a multi-row statement once per run of `rows`, binding each row with `bind`.
    pub(super) fn each_run<T>(
        &self,
        rows: &[T],
        (head, columns, tail): (&str, usize, &str),
        bind: impl Fn(&mut Binds, &T) -> Result<()>,
    ) -> Result<usize> {
        let mut changed = 0;
        for run in runs(rows) {
            let sql = values(head, columns, run.len(), tail);
            changed += timed(&sql, || {
                let mut statement = self.statement(&sql)?;
                let mut binds = Binds::of(&mut statement);
                for row in run {
                    bind(&mut binds, row)?;
                }
                Ok(statement.raw_execute()?)
            })?;
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_every_row_in_order_in_few_statements_of_few_sizes() {
        for len in [0, 1, 2, 3, 7, 208, 256, 257, 1000] {
            let rows: Vec<usize> = (0..len).collect();
            let runs: Vec<&[usize]> = runs(&rows).collect();
            assert_eq!(runs.concat(), rows, "{len} rows");
            assert!(
                runs.iter()
                    .all(|r| r.len() <= EXACT_ROWS || r.len().is_power_of_two() && r.len() <= MOST_ROWS)
            );
        }
        let lengths = |len| runs(&vec![0; len]).map(<[_]>::len).collect::<Vec<_>>();
        assert_eq!(lengths(20), [20]);
        assert_eq!(lengths(50), [32, 18]);
        assert_eq!(lengths(208), [128, 64, 16]);
        assert_eq!(lengths(600), [256, 256, 64, 24]);
    }
}
