//! Retention's transactions on SQLite: a pool connection that takes the write lock at
//! once (`BEGIN IMMEDIATE`, waiting its turn behind the writer), so no row locks are
//! needed.

use sqlx::{Sqlite, Transaction};

use super::records::dialect;
use crate::prune_sql::sql_prune;

pub struct SqlitePruneTx {
    tx: Transaction<'static, Sqlite>,
}

impl SqlitePruneTx {
    pub async fn begin(pool: &sqlx::SqlitePool) -> crate::Result<Self> {
        Ok(Self {
            tx: pool.begin_with("BEGIN IMMEDIATE").await?,
        })
    }
}

sql_prune!(
    SqlitePruneTx,
    dialect,
    "",
    format!(
        "SELECT d.event_id, d.status, (d.status = 'pending' AND w.enabled = 0) AS held \
         FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE {}",
        dialect::key_in("d.event_id", 1)
    )
);
