//! The replay records ([`crate::backend::ReplayRecords`]) of both SQL backends, written
//! once like `records_sql`: a backend's `dialect` passes the lists.

use crate::model::DeliveryStatus;
use crate::replay::*;
use crate::rows::{self, Columns};
use crate::{Result, StoreError};

pub const JOB_COLUMNS: &str = "id, account_id, webhook_id, from_at, until_at, resend, statuses, event_types, missing, status, \
     total, done, resent, created, phase, cursor_at, cursor_id, error, created_at, updated_at";

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub fn job(row: &impl Columns) -> Result<ReplayJob> {
    let statuses: Vec<String> = serde_json::from_str(&row.text("statuses")?)?;
    let status = row.text("status")?;
    let phase = row.text("phase")?;
    let after = match (row.opt_int("cursor_at")?, row.opt_text("cursor_id")?) {
        (Some(at), Some(id)) => Some((rows::time(at), id)),
        _ => None,
    };
    Ok(ReplayJob {
        id: row.text("id")?,
        account_id: row.text("account_id")?,
        webhook_id: row.text("webhook_id")?,
        selection: ReplaySelection {
            since: rows::time(row.int("from_at")?),
            until: rows::time(row.int("until_at")?),
            resend: row.flag("resend")?,
            statuses: statuses.iter().filter_map(|s| DeliveryStatus::parse(s)).collect(),
            event_types: serde_json::from_str(&row.text("event_types")?)?,
            missing: row.flag("missing")?,
        },
        status: JobStatus::parse(&status).ok_or_else(|| StoreError::Invalid(format!("job status {status:?}")))?,
        total: count(row.int("total")?),
        done: count(row.int("done")?),
        resent: count(row.int("resent")?),
        created: count(row.int("created")?),
        cursor: ReplayCursor {
            phase: ReplayPhase::parse(&phase).ok_or_else(|| StoreError::Invalid(format!("job phase {phase:?}")))?,
            after,
        },
        error: row.opt_text("error")?,
        created_at: rows::time(row.int("created_at")?),
        updated_at: rows::time(row.int("updated_at")?),
    })
}

/// A cursor as the two values compared with `(created_at, id)`: before everything when
/// the job has done nothing yet.
pub fn cursor_values(after: Option<&(chrono::DateTime<chrono::Utc>, String)>) -> (i64, String) {
    match after {
        Some((at, id)) => (rows::ms(*at), id.clone()),
        None => (-1, String::new()),
    }
}

pub fn statuses(selection: &ReplaySelection) -> Vec<&'static str> {
    selection.statuses.iter().map(|s| s.as_str()).collect()
}

/// The `FROM ... WHERE ...` of a replay's deliveries. Parameters: webhook, account,
/// since, until, cursor time, cursor id, then the statuses and the types when the
/// selection names them.
pub fn deliveries_sql(selection: &ReplaySelection, id_in: fn(&str, usize) -> String) -> (String, usize) {
    let mut sql = String::from(
        "FROM deliveries d WHERE d.webhook_id = $1 \
         AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = $1 AND w.account_id = $2) AND d.created_at >= $3 \
         AND d.created_at <= $4 AND (d.created_at > $5 OR (d.created_at = $5 AND d.id > $6))",
    );
    let mut next = 7;
    if !selection.statuses.is_empty() {
        sql.push_str(&format!(" AND {}", id_in("d.status", next)));
        next += 1;
    }
    if !selection.event_types.is_empty() {
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND {})",
            id_in("e.type", next)
        ));
        next += 1;
    }
    (sql, next)
}

/// The `FROM ... WHERE ...` of the events without a delivery to the webhook.
/// Parameters: account, since, until, cursor time, cursor id, webhook, types.
pub fn missing_sql(types: &EventTypes, id_in: fn(&str, usize) -> String) -> String {
    let types = match types {
        EventTypes::Only(_) => id_in("e.type", 7),
        EventTypes::AllBut(_) => format!("NOT {}", id_in("e.type", 7)),
    };
    format!(
        "FROM events e WHERE e.account_id = $1 AND e.created_at >= $2 AND e.created_at <= $3 \
         AND (e.created_at > $4 OR (e.created_at = $4 AND e.id > $5)) \
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.webhook_id = $6) AND {types}"
    )
}

pub fn type_list(types: &EventTypes) -> Vec<&str> {
    match types {
        EventTypes::Only(list) | EventTypes::AllBut(list) => list.iter().map(String::as_str).collect(),
    }
}

/// Binds the parameters of [`deliveries_sql`] to `query`.
macro_rules! bind_deliveries {
    ($query:expr, $dialect:ident, $account:expr, $webhook:expr, $selection:expr, $after:expr) => {{
        let (at, id) = $crate::replay_sql::cursor_values($after);
        let statuses = $crate::replay_sql::statuses($selection);
        let types: Vec<&str> = $selection.event_types.iter().map(String::as_str).collect();
        let mut query = $query
            .bind($dialect::key($webhook))
            .bind($account)
            .bind(ms($selection.since))
            .bind(ms($selection.until))
            .bind(at)
            .bind($dialect::key(&id));
        if !statuses.is_empty() {
            query = query.bind($dialect::id_list(&statuses)?);
        }
        if !types.is_empty() {
            query = query.bind($dialect::id_list(&types)?);
        }
        query
    }};
}

/// Binds the parameters of [`missing_sql`] to `query`.
macro_rules! bind_missing {
    ($query:expr, $dialect:ident, $account:expr, $webhook:expr, $selection:expr, $types:expr, $after:expr) => {{
        let (at, id) = $crate::replay_sql::cursor_values($after);
        $query
            .bind($account)
            .bind(ms($selection.since))
            .bind(ms($selection.until))
            .bind(at)
            .bind($dialect::key(&id))
            .bind($dialect::key($webhook))
            .bind($dialect::id_list(&$crate::replay_sql::type_list($types))?)
    }};
}

/// Implements `ReplayRecords` for a backend type with a `pool` field, using the given
/// `dialect` module (`id_in`, `id_list`).
macro_rules! sql_replay_records {
    ($store:ty, $dialect:ident) => {
        #[async_trait::async_trait]
        impl $crate::backend::ReplayRecords for $store {
            async fn create_replay_job(&self, job: &ReplayJob) -> Result<bool> {
                let statuses = serde_json::to_string(&$crate::replay_sql::statuses(&job.selection))?;
                let done = sqlx::query(&format!(
                    "INSERT INTO replay_jobs ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                     $14, $15, NULL, NULL, NULL, $16, $17) ON CONFLICT DO NOTHING",
                    $crate::replay_sql::JOB_COLUMNS
                ))
                .bind(&job.id)
                .bind(&job.account_id)
                .bind($dialect::key(&job.webhook_id))
                .bind(ms(job.selection.since))
                .bind(ms(job.selection.until))
                .bind(job.selection.resend)
                .bind(statuses)
                .bind(serde_json::to_string(&job.selection.event_types)?)
                .bind(job.selection.missing)
                .bind(job.status.as_str())
                .bind(i64::try_from(job.total).unwrap_or(i64::MAX))
                .bind(0_i64)
                .bind(0_i64)
                .bind(0_i64)
                .bind(job.cursor.phase.as_str())
                .bind(ms(job.created_at))
                .bind(ms(job.updated_at))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn get_replay_job(&self, account_id: &str, id: &str) -> Result<Option<ReplayJob>> {
                let row = sqlx::query(&format!(
                    "SELECT {} FROM replay_jobs WHERE id = $1 AND account_id = $2",
                    $crate::replay_sql::JOB_COLUMNS
                ))
                .bind(id)
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map($crate::replay_sql::job).transpose()
            }

            async fn webhook_replay_jobs(
                &self,
                account_id: &str,
                webhook_id: &str,
                limit: u32,
            ) -> Result<Vec<ReplayJob>> {
                sqlx::query(&format!(
                    "SELECT {} FROM replay_jobs WHERE webhook_id = $1 AND account_id = $2 \
                     ORDER BY created_at DESC, id DESC LIMIT $3",
                    $crate::replay_sql::JOB_COLUMNS
                ))
                .bind($dialect::key(webhook_id))
                .bind(account_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map($crate::replay_sql::job)
                .collect()
            }

            async fn running_replay_jobs(&self) -> Result<Vec<ReplayJob>> {
                sqlx::query(&format!(
                    "SELECT {} FROM replay_jobs WHERE status = 'running' ORDER BY created_at, id",
                    $crate::replay_sql::JOB_COLUMNS
                ))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map($crate::replay_sql::job)
                .collect()
            }

            async fn fail_replay_job(&self, id: &str, error: &str, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
                sqlx::query(
                    "UPDATE replay_jobs SET status = 'failed', error = $1, updated_at = $2 \
                     WHERE id = $3 AND status = 'running'",
                )
                .bind(error)
                .bind(ms(now))
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn count_replay_deliveries(
                &self,
                account_id: &str,
                webhook_id: &str,
                selection: &ReplaySelection,
                cap: u64,
            ) -> Result<u64> {
                let (from, next) = $crate::replay_sql::deliveries_sql(selection, $dialect::id_in);
                let sql = format!("SELECT COUNT(*) AS n FROM (SELECT 1 {from} LIMIT ${next}) AS matching");
                let query = $crate::replay_sql::bind_deliveries!(
                    sqlx::query(&sql),
                    $dialect,
                    account_id,
                    webhook_id,
                    selection,
                    None
                );
                let row = query
                    .bind(i64::try_from(cap).unwrap_or(i64::MAX))
                    .fetch_one(&self.pool)
                    .await?;
                Ok(u64::try_from(row.int("n")?).unwrap_or(0))
            }

            async fn replay_deliveries(
                &self,
                account_id: &str,
                webhook_id: &str,
                selection: &ReplaySelection,
                after: Option<&(chrono::DateTime<chrono::Utc>, String)>,
                limit: u32,
            ) -> Result<Vec<(chrono::DateTime<chrono::Utc>, String)>> {
                let (from, next) = $crate::replay_sql::deliveries_sql(selection, $dialect::id_in);
                let sql = format!("SELECT d.created_at, d.id {from} ORDER BY d.created_at, d.id LIMIT ${next}");
                let query = $crate::replay_sql::bind_deliveries!(
                    sqlx::query(&sql),
                    $dialect,
                    account_id,
                    webhook_id,
                    selection,
                    after
                );
                query
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|row| Ok((rows::time(row.int("created_at")?), row.text("id")?)))
                    .collect()
            }

            async fn count_missing_events(
                &self,
                account_id: &str,
                webhook_id: &str,
                selection: &ReplaySelection,
                types: &EventTypes,
                cap: u64,
            ) -> Result<u64> {
                let from = $crate::replay_sql::missing_sql(types, $dialect::id_in);
                let sql = format!("SELECT COUNT(*) AS n FROM (SELECT 1 {from} LIMIT $8) AS missing");
                let row = $crate::replay_sql::bind_missing!(
                    sqlx::query(&sql),
                    $dialect,
                    account_id,
                    webhook_id,
                    selection,
                    types,
                    None
                )
                .bind(i64::try_from(cap).unwrap_or(i64::MAX))
                .fetch_one(&self.pool)
                .await?;
                Ok(u64::try_from(row.int("n")?).unwrap_or(0))
            }

            async fn missing_events(
                &self,
                account_id: &str,
                webhook_id: &str,
                selection: &ReplaySelection,
                types: &EventTypes,
                after: Option<&(chrono::DateTime<chrono::Utc>, String)>,
                limit: u32,
            ) -> Result<Vec<ReplayEvent>> {
                let from = $crate::replay_sql::missing_sql(types, $dialect::id_in);
                let sql = format!("SELECT e.id, e.type, e.created_at {from} ORDER BY e.created_at, e.id LIMIT $8");
                $crate::replay_sql::bind_missing!(
                    sqlx::query(&sql),
                    $dialect,
                    account_id,
                    webhook_id,
                    selection,
                    types,
                    after
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| {
                    Ok(ReplayEvent {
                        id: row.text("id")?,
                        event_type: row.text("type")?,
                        created_at: rows::time(row.int("created_at")?),
                    })
                })
                .collect()
            }
        }
    };
}

pub(crate) use {bind_deliveries, bind_missing, sql_replay_records};
