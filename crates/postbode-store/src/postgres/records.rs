//! The records of the PostgreSQL backend: the shared statements (`records_sql`) on the
//! pool, with PostgreSQL's way of reading JSON fields and passing lists.

use postbode_core::page::{Page, PageRequest};
use postbode_core::webhook::Webhook;

use super::PgStore;
use crate::Result;
use crate::model::*;
use crate::records_sql::sql_records;
use crate::replay::*;
use crate::replay_sql::sql_replay_records;
use crate::rows::{self, Columns, ms};

pub(super) mod dialect {
    use crate::Result;

    /// A top-level field of a JSON text column, as text.
    pub fn json_text(column: &str, key: &str) -> String {
        format!("({column}::jsonb ->> '{key}')")
    }

    /// A top-level field of a JSON text column equals the JSON value in parameter `n`.
    pub fn json_equals(column: &str, key: &str, n: usize) -> String {
        format!("({column}::jsonb -> '{key}') = ${n}::jsonb")
    }

    /// `column` is one of the ids in parameter `n` (bound with [`id_list`]).
    /// The ids of the account `$2`'s events whose body holds every word of the search
    /// `$n` (bound as [`text_query`]), through the GIN index `events_by_text`.
    pub fn events_with_text(n: usize) -> String {
        format!(
            "SELECT ev.id FROM events ev WHERE to_tsvector('simple', postbode_body_text(ev.body)) \
             @@ to_tsquery('simple', ${n}) AND ev.account_id = $2 ORDER BY ev.created_at DESC LIMIT {}",
            postbode_core::search::MAX_EVENTS
        )
    }

    /// The words as a `tsquery`, all of them required (they are letters and digits only).
    pub fn text_query(terms: &[String]) -> String {
        terms.join(" & ")
    }

    pub fn id_in(column: &str, n: usize) -> String {
        format!("{column} = ANY(${n})")
    }

    /// A transaction that changes the signing keys: another node's waits for it (reads
    /// do not), so no other change comes between its read and its writes.
    pub async fn begin_key_change(pool: &sqlx::PgPool) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = pool.begin().await?;
        sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    pub fn id_list(ids: &[&str]) -> Result<Vec<String>> {
        Ok(ids.iter().map(|id| (*id).to_owned()).collect())
    }

    /// The ids in parameter `n` as a table named `alias` with one column, `value`.
    /// An id as it is stored: PostgreSQL keeps ids as text.
    pub fn key(id: &str) -> String {
        id.to_owned()
    }

    pub fn key_list<S: AsRef<str>>(ids: &[S]) -> Result<Vec<String>> {
        Ok(ids.iter().map(|id| id.as_ref().to_owned()).collect())
    }

    pub fn key_in(column: &str, n: usize) -> String {
        id_in(column, n)
    }

    pub fn key_table(n: usize, alias: &str) -> String {
        format!("unnest(${n}::text[]) AS {alias}(value)")
    }

    /// An account's statistics summed per hour: counters added, latency histograms
    /// merged bucket by bucket (parameters: account, first hour, end).
    pub fn account_hours() -> String {
        "WITH rows AS (SELECT s.* FROM webhooks w JOIN webhook_stats s ON s.webhook_id = w.id \
             WHERE w.account_id = $1 AND s.hour >= $2 AND s.hour < $3), \
         counts AS (SELECT hour, SUM(delivered)::bigint AS delivered, SUM(failed)::bigint AS failed, \
             SUM(skipped_unverified)::bigint AS skipped_unverified, SUM(condition_errors)::bigint AS condition_errors, SUM(held)::bigint AS held, \
             SUM(attempts)::bigint AS attempts FROM rows GROUP BY hour), \
         latency AS (SELECT r.hour, b.key, SUM(b.value::bigint) AS n \
             FROM rows r, jsonb_each_text(r.latency::jsonb -> 'buckets') b GROUP BY r.hour, b.key), \
         merged AS (SELECT hour, jsonb_build_object('buckets', jsonb_object_agg(key, n))::text AS latency \
             FROM latency GROUP BY hour) \
         SELECT '' AS webhook_id, c.hour, c.delivered, c.failed, c.skipped_unverified, c.condition_errors, c.held, \
             c.attempts, COALESCE(m.latency, '{\"buckets\":{}}') AS latency \
         FROM counts c LEFT JOIN merged m ON m.hour = c.hour ORDER BY c.hour"
            .to_owned()
    }
}

sql_records!(PgStore, dialect);
sql_replay_records!(PgStore, dialect);
