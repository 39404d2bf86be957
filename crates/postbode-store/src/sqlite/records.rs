//! The records of the SQLite backend: the shared statements (`records_sql`) on the
//! pool, with SQLite's way of reading JSON fields and passing lists.

use postbode_core::page::{Page, PageRequest};
use postbode_core::webhook::Webhook;

use super::SqliteStore;
use crate::Result;
use crate::model::*;
use crate::records_sql::sql_records;
use crate::replay::*;
use crate::replay_sql::sql_replay_records;
use crate::rows::{self, Columns, ms};

pub(super) mod dialect {
    use crate::Result;

    /// A top-level field of a JSON text column, as SQL text (or number).
    pub fn json_text(column: &str, key: &str) -> String {
        format!("({column} ->> '$.{key}')")
    }

    /// A top-level field of a JSON text column equals the JSON value in parameter `n`.
    pub fn json_equals(column: &str, key: &str, n: usize) -> String {
        format!("({column} -> '$.{key}') = json(${n})")
    }

    /// `column` is one of the ids in parameter `n` (bound with [`id_list`]).
    /// The ids of the events whose body holds every word of the search `$n` (bound as
    /// [`text_query`]): the FTS5 index `events_text`, keyed on the events' rowid.
    pub fn events_with_text(n: usize) -> String {
        format!(
            "SELECT ev.id FROM events ev WHERE ev.rowid IN (SELECT rowid FROM events_text WHERE events_text MATCH ${n} \
             ORDER BY rowid DESC LIMIT {})",
            postbode_core::search::MAX_EVENTS
        )
    }

    /// The words as an FTS5 query: each quoted (they are letters and digits only), all
    /// of them required.
    pub fn text_query(terms: &[String]) -> String {
        terms.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(" ")
    }

    pub fn id_in(column: &str, n: usize) -> String {
        format!("{column} IN (SELECT value FROM json_each(${n}))")
    }

    /// A transaction that changes the signing keys: it holds the write lock from the
    /// start, so no other writer comes between its read and its writes.
    pub async fn begin_key_change(pool: &sqlx::SqlitePool) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    pub fn id_list(ids: &[&str]) -> Result<String> {
        Ok(serde_json::to_string(ids)?)
    }

    /// The ids in parameter `n` as a table named `alias` with one column, `value`.
    /// An id as the columns that hold keys store it (`keys.rs`).
    pub fn key(id: &str) -> Vec<u8> {
        crate::keys::key(id)
    }

    /// A list of ids for [`key_in`] and [`key_table`].
    pub fn key_list<S: AsRef<str>>(ids: &[S]) -> Result<String> {
        Ok(serde_json::to_string(&crate::keys::hex_keys(ids))?)
    }

    pub fn key_in(column: &str, n: usize) -> String {
        format!("{column} IN (SELECT unhex(value) FROM json_each(${n}))")
    }

    /// The keys of [`key_list`] as a table with the column `value`.
    pub fn key_table(n: usize, alias: &str) -> String {
        format!("(SELECT unhex(value) AS value FROM json_each(${n})) AS {alias}")
    }

    /// An account's statistics summed per hour: counters added, latency histograms
    /// merged bucket by bucket (parameters: account, first hour, end).
    pub fn account_hours() -> String {
        "WITH rows AS (SELECT s.* FROM webhooks w JOIN webhook_stats s ON s.webhook_id = w.id \
             WHERE w.account_id = $1 AND s.hour >= $2 AND s.hour < $3), \
         counts AS (SELECT hour, SUM(delivered) AS delivered, SUM(failed) AS failed, \
             SUM(skipped_unverified) AS skipped_unverified, SUM(condition_errors) AS condition_errors, SUM(held) AS held, \
             SUM(attempts) AS attempts FROM rows GROUP BY hour), \
         latency AS (SELECT r.hour, b.key, SUM(b.value) AS n FROM rows r, json_each(r.latency, '$.buckets') b \
             GROUP BY r.hour, b.key), \
         merged AS (SELECT hour, json_object('buckets', json_group_object(key, n)) AS latency FROM latency \
             GROUP BY hour) \
         SELECT '' AS webhook_id, c.hour, c.delivered, c.failed, c.skipped_unverified, c.condition_errors, c.held, \
             c.attempts, COALESCE(m.latency, '{\"buckets\":{}}') AS latency \
         FROM counts c LEFT JOIN merged m ON m.hour = c.hour ORDER BY c.hour"
            .to_owned()
    }
}

impl SqliteStore {
    async fn announce_work(&self) {
        self.work.notify_one();
    }
}

sql_records!(SqliteStore, dialect);
sql_replay_records!(SqliteStore, dialect);
