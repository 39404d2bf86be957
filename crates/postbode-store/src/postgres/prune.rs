//! Retention's transactions on PostgreSQL, where several nodes may prune at once: each
//! takes the rows it deletes with `SKIP LOCKED`, so two nodes split the work instead of
//! waiting for each other, and a delivery the writer holds (being sent again, its result
//! recorded) keeps its event for a later pass rather than making retention wait.

use sqlx::{Postgres, Transaction};

use super::records::dialect;
use crate::prune_sql::sql_prune;

pub struct PgPruneTx {
    tx: Transaction<'static, Postgres>,
}

impl PgPruneTx {
    pub async fn begin(pool: &sqlx::PgPool) -> crate::Result<Self> {
        Ok(Self {
            tx: pool.begin().await?,
        })
    }
}

sql_prune!(
    PgPruneTx,
    dialect,
    "FOR UPDATE SKIP LOCKED",
    // The locked row's status is its newest; a row locked elsewhere counts as pending,
    // and not held (its webhook may be enabled again by now).
    "SELECT d.event_id, COALESCE(l.status, 'pending') AS status, \
       COALESCE(l.status = 'pending' AND NOT w.enabled, false) AS held FROM deliveries d \
     JOIN webhooks w ON w.id = d.webhook_id \
     LEFT JOIN (SELECT id, status FROM deliveries WHERE event_id = ANY($1) FOR UPDATE SKIP LOCKED) l \
     ON l.id = d.id WHERE d.event_id = ANY($1)"
        .to_owned()
);
