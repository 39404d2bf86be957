//! The write group's transaction on SQLite: the writer's own connection, `BEGIN
//! IMMEDIATE`, and multi-row statements (lists of ids go in as one JSON array through
//! `json_each`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use postbode_core::profile::Schema;
use postbode_core::webhook::Webhook;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc};

use crate::backend::*;
use crate::model::*;
use crate::rows::{self, ms};
use crate::{Result, StoreError};

/// The most rows one multi-row statement takes (13 columns at most: well under
/// SQLite's 32 766 variables).
const MOST_ROWS: usize = 256;

/// Up to this many rows go in one statement of their exact number.
const EXACT_ROWS: usize = 32;

/// Splits `rows` into runs of at most [`EXACT_ROWS`] rows, or of a power of two rows
/// (at most [`MOST_ROWS`]).
///
/// A multi-row statement's text depends on its number of rows, and a text not in the
/// connection's statement cache is prepared again, which costs about as much as
/// running it. Groups vary in size, so with one statement per group nearly every
/// statement was new. Every statement is also a round trip to SQLite's thread, so a
/// small group's rows still go in one. That makes 32 + 3 texts per statement, all
/// cached (`statement_cache_capacity` in `open`).
fn runs<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
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

/// Begins write groups on the writer's connection.
pub struct WriterConnection {
    conn: Arc<Mutex<SqliteConnection>>,
    /// Told of every commit (the checkpoints follow them).
    committed: mpsc::Sender<()>,
    /// The `synchronous` setting the connection has now.
    synchronous: std::sync::Mutex<Durability>,
}

impl WriterConnection {
    pub fn new(conn: SqliteConnection, committed: mpsc::Sender<()>) -> Self {
        Self {
            conn: Arc::new(Mutex::new(conn)),
            committed,
            synchronous: std::sync::Mutex::new(Durability::Full),
        }
    }

    /// Closes the connection cleanly, so the WAL is checkpointed.
    pub async fn close(&self) {
        let mut conn = self.conn.lock().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *conn).await {
            tracing::warn!(error = %e, "checkpointing the database at close");
        }
    }
}

#[async_trait]
impl TxSource for WriterConnection {
    async fn begin(&self, durability: Durability) -> Result<Box<dyn GroupTx>> {
        let mut conn = self.conn.clone().lock_owned().await;
        let changed = {
            let mut current = self.synchronous.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::replace(&mut *current, durability) != durability
        };
        if changed {
            // WAL with NORMAL skips the flush at commit and never corrupts the file; a
            // commit it loses to a power cut only held leases.
            let pragma = match durability {
                Durability::Full => "PRAGMA synchronous = FULL",
                Durability::Relaxed => "PRAGMA synchronous = NORMAL",
            };
            sqlx::query(pragma).execute(&mut *conn).await?;
        }
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        Ok(Box::new(SqliteTx {
            conn,
            committed: self.committed.clone(),
        }))
    }
}

pub struct SqliteTx {
    conn: OwnedMutexGuard<SqliteConnection>,
    committed: mpsc::Sender<()>,
}

impl SqliteTx {
    fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value)?)
}

#[async_trait]
impl GroupTx for SqliteTx {
    async fn enabled_webhooks(&mut self, account_id: &str) -> Result<Vec<Webhook>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM webhooks WHERE account_id = ? AND enabled = 1",
            rows::WEBHOOK_COLUMNS
        ))
        .bind(account_id)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(rows::webhook).collect()
    }

    async fn webhooks(&mut self, ids: &[&str]) -> Result<Vec<Webhook>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM webhooks WHERE id IN (SELECT value FROM json_each(?))",
            rows::WEBHOOK_COLUMNS
        ))
        .bind(json(ids)?)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(rows::webhook).collect()
    }

    async fn message_contexts(&mut self, ids: &[&str]) -> Result<HashMap<String, MessageContext>> {
        let rows = sqlx::query(&format!(
            "{} WHERE {}",
            rows::message_context_select(),
            super::records::dialect::id_in("m.id", 1)
        ))
        .bind(json(ids)?)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|row| rows::message_context(row).map(|c| (c.message.id.clone(), c)))
            .collect()
    }

    async fn claim_idempotency_keys(
        &mut self,
        keys: &[IdempotencyRow],
        now: DateTime<Utc>,
    ) -> Result<Vec<IdempotencyRow>> {
        let mut stored = Vec::with_capacity(keys.len());
        for chunk in runs(keys) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO idempotency_keys (account_id, key, request_hash, event_id, deliveries, expires_at) ",
            );
            q.push_values(chunk, |mut row, k| {
                row.push_bind(&k.account_id)
                    .push_bind(&k.key)
                    .push_bind(&k.request_hash)
                    .push_bind(&k.event_id)
                    .push_bind(k.deliveries)
                    .push_bind(ms(k.expires_at));
            });
            q.push(
                " ON CONFLICT (account_id, key) DO UPDATE SET request_hash = excluded.request_hash, \
                 event_id = excluded.event_id, deliveries = excluded.deliveries, expires_at = excluded.expires_at \
                 WHERE idempotency_keys.expires_at <= ",
            );
            q.push_bind(ms(now));
            q.push(" RETURNING account_id, key");
            for row in q.build().fetch_all(self.conn()).await? {
                stored.push((
                    row.try_get::<String, _>("account_id")?,
                    row.try_get::<String, _>("key")?,
                ));
            }
        }
        let held: Vec<(&str, &str)> = keys
            .iter()
            .map(|k| (k.account_id.as_str(), k.key.as_str()))
            .filter(|(a, k)| !stored.iter().any(|(sa, sk)| sa == a && sk == k))
            .collect();
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT account_id, key, request_hash, event_id, deliveries, expires_at FROM idempotency_keys \
             WHERE (account_id, key) IN (SELECT j.value ->> 0, j.value ->> 1 FROM json_each(?) j)",
        )
        .bind(json(&held)?)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(IdempotencyRow {
                    account_id: row.try_get("account_id")?,
                    key: row.try_get("key")?,
                    request_hash: row.try_get("request_hash")?,
                    event_id: row.try_get("event_id")?,
                    deliveries: row.try_get::<i64, _>("deliveries")? as u32,
                    expires_at: rows::time(row.try_get("expires_at")?),
                })
            })
            .collect()
    }

    async fn profile(&mut self, account_id: &str, id: &str) -> Result<Option<Profile>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM profiles WHERE id = ? AND account_id = ?",
            rows::PROFILE_COLUMNS
        ))
        .bind(id)
        .bind(account_id)
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(rows::profile).transpose()
    }

    async fn subprofile(&mut self, account_id: &str, id: &str) -> Result<Option<Subprofile>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM subprofiles WHERE id = ? AND account_id = ?",
            rows::SUBPROFILE_COLUMNS
        ))
        .bind(id)
        .bind(account_id)
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(rows::subprofile).transpose()
    }

    async fn subprofiles_of(&mut self, account_id: &str, profile_id: &str) -> Result<Vec<Subprofile>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM subprofiles WHERE profile_id = ? AND account_id = ? ORDER BY id",
            rows::SUBPROFILE_COLUMNS
        ))
        .bind(profile_id)
        .bind(account_id)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(rows::subprofile).collect()
    }

    async fn database_fields(&mut self, account_id: &str, id: &str) -> Result<Option<DatabaseFields>> {
        let row = sqlx::query("SELECT fields, key_fields FROM databases WHERE id = ? AND account_id = ?")
            .bind(id)
            .bind(account_id)
            .fetch_optional(self.conn())
            .await?;
        row.map(|row| {
            Ok(DatabaseFields {
                fields: serde_json::from_str(row.try_get("fields")?)?,
                key_fields: serde_json::from_str(row.try_get("key_fields")?)?,
            })
        })
        .transpose()
    }

    async fn collection_fields(&mut self, account_id: &str, id: &str) -> Result<Option<(String, Schema)>> {
        let row = sqlx::query("SELECT database_id, fields FROM collections WHERE id = ? AND account_id = ?")
            .bind(id)
            .bind(account_id)
            .fetch_optional(self.conn())
            .await?;
        row.map(|row| {
            Ok((
                row.try_get("database_id")?,
                serde_json::from_str(row.try_get("fields")?)?,
            ))
        })
        .transpose()
    }

    async fn profiles_by_key(
        &mut self,
        account_id: &str,
        database_id: &str,
        field: &str,
        values: &[String],
    ) -> Result<Vec<(String, Profile)>> {
        let rows = sqlx::query(&format!(
            "SELECT {}, k.value AS key_value FROM profile_keys k JOIN profiles p ON p.id = k.profile_id \
             WHERE k.database_id = ? AND k.field = ? AND k.account_id = ? \
               AND k.value IN (SELECT value FROM json_each(?)) ORDER BY p.id",
            rows::prefixed("p", rows::PROFILE_COLUMNS, "")
        ))
        .bind(database_id)
        .bind(field)
        .bind(account_id)
        .bind(json(values)?)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("key_value")?, rows::profile(row)?)))
            .collect()
    }

    async fn profiles_after(
        &mut self,
        account_id: &str,
        database_id: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<Profile>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM profiles WHERE database_id = ? AND account_id = ? AND id > ? ORDER BY id LIMIT ?",
            rows::PROFILE_COLUMNS
        ))
        .bind(database_id)
        .bind(account_id)
        .bind(after)
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(rows::profile).collect()
    }

    async fn set_key_fields(&mut self, account_id: &str, database_id: &str, fields: &[String]) -> Result<()> {
        sqlx::query("UPDATE databases SET key_fields = ? WHERE id = ? AND account_id = ?")
            .bind(json(fields)?)
            .bind(database_id)
            .bind(account_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    async fn savepoint(&mut self) -> Result<()> {
        sqlx::query("SAVEPOINT request").execute(self.conn()).await?;
        Ok(())
    }

    async fn rollback_to_savepoint(&mut self) -> Result<()> {
        sqlx::query("ROLLBACK TO request").execute(self.conn()).await?;
        Ok(())
    }

    async fn release_savepoint(&mut self) -> Result<()> {
        sqlx::query("RELEASE request").execute(self.conn()).await?;
        Ok(())
    }

    async fn insert_events(&mut self, events: &[EventRow]) -> Result<()> {
        for chunk in runs(events) {
            let mut q =
                QueryBuilder::<Sqlite>::new("INSERT INTO events (id, account_id, type, body, created_at, profile_id) ");
            q.push_values(chunk, |mut row, e| {
                row.push_bind(&e.id)
                    .push_bind(&e.account_id)
                    .push_bind(&e.event_type)
                    .push_bind(e.body.as_ref())
                    .push_bind(ms(e.created_at))
                    .push_bind(&e.profile_id);
            });
            q.build().execute(self.conn()).await?;
        }
        Ok(())
    }

    async fn insert_deliveries(&mut self, deliveries: &[DeliveryRow]) -> Result<()> {
        for chunk in runs(deliveries) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO deliveries (id, account_id, event_id, webhook_id, status, next_attempt_at, created_at, \
                 lease_until, ordering_key) ",
            );
            q.push_values(chunk, |mut row, d| {
                row.push_bind(&d.id)
                    .push_bind(&d.account_id)
                    .push_bind(&d.event_id)
                    .push_bind(&d.webhook_id)
                    .push_bind("pending")
                    .push_bind(ms(d.due_at))
                    .push_bind(ms(d.due_at))
                    .push_bind(d.leased_until.map(ms))
                    .push_bind(&d.ordering_key);
            });
            q.build().execute(self.conn()).await?;
        }
        Ok(())
    }

    async fn save_profiles(&mut self, profiles: &[&Profile]) -> Result<()> {
        for chunk in runs(profiles) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO profiles (id, account_id, database_id, fields, interests, sequence, created_at, modified_at) ",
            );
            let mut encoded = Vec::with_capacity(chunk.len());
            for p in chunk {
                encoded.push((json(&p.state.values)?, json(&p.state.interests)?));
            }
            q.push_values(chunk.iter().zip(&encoded), |mut row, (p, (fields, interests))| {
                row.push_bind(&p.id)
                    .push_bind(&p.account_id)
                    .push_bind(&p.database_id)
                    .push_bind(fields)
                    .push_bind(interests)
                    .push_bind(p.sequence as i64)
                    .push_bind(ms(p.created_at))
                    .push_bind(ms(p.modified_at));
            });
            q.push(
                " ON CONFLICT (id) DO UPDATE SET fields = excluded.fields, interests = excluded.interests, \
                 sequence = excluded.sequence, modified_at = excluded.modified_at",
            );
            q.build().execute(self.conn()).await?;
        }
        Ok(())
    }

    async fn delete_profiles(&mut self, account_id: &str, ids: &[&str]) -> Result<()> {
        sqlx::query("DELETE FROM profiles WHERE account_id = ? AND id IN (SELECT value FROM json_each(?))")
            .bind(account_id)
            .bind(json(ids)?)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    async fn save_subprofiles(&mut self, subprofiles: &[&Subprofile]) -> Result<()> {
        for chunk in runs(subprofiles) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO subprofiles (id, account_id, profile_id, database_id, collection_id, fields, sequence, \
                 created_at, modified_at) ",
            );
            let mut encoded = Vec::with_capacity(chunk.len());
            for s in chunk {
                encoded.push(json(&s.values)?);
            }
            q.push_values(chunk.iter().zip(&encoded), |mut row, (s, fields)| {
                row.push_bind(&s.id)
                    .push_bind(&s.account_id)
                    .push_bind(&s.profile_id)
                    .push_bind(&s.database_id)
                    .push_bind(&s.collection_id)
                    .push_bind(fields)
                    .push_bind(s.sequence as i64)
                    .push_bind(ms(s.created_at))
                    .push_bind(ms(s.modified_at));
            });
            q.push(
                " ON CONFLICT (id) DO UPDATE SET fields = excluded.fields, sequence = excluded.sequence, \
                 modified_at = excluded.modified_at",
            );
            q.build().execute(self.conn()).await?;
        }
        Ok(())
    }

    async fn delete_subprofiles(&mut self, account_id: &str, ids: &[&str]) -> Result<()> {
        sqlx::query("DELETE FROM subprofiles WHERE account_id = ? AND id IN (SELECT value FROM json_each(?))")
            .bind(account_id)
            .bind(json(ids)?)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    async fn replace_profile_keys(&mut self, profile_ids: &[&str], keys: &[ProfileKeyRow]) -> Result<()> {
        if !profile_ids.is_empty() {
            sqlx::query("DELETE FROM profile_keys WHERE profile_id IN (SELECT value FROM json_each(?))")
                .bind(json(profile_ids)?)
                .execute(self.conn())
                .await?;
        }
        for chunk in runs(keys) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO profile_keys (account_id, database_id, field, value, profile_id) ",
            );
            q.push_values(chunk, |mut row, k| {
                row.push_bind(&k.account_id)
                    .push_bind(&k.database_id)
                    .push_bind(&k.field)
                    .push_bind(&k.value)
                    .push_bind(&k.profile_id);
            });
            q.push(" ON CONFLICT DO NOTHING");
            q.build().execute(self.conn()).await?;
        }
        Ok(())
    }

    async fn insert_attempts(&mut self, attempts: &[(&str, &Attempt)]) -> Result<()> {
        for chunk in runs(attempts) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO attempts (id, account_id, delivery_id, webhook_id, event_id, number, trigger, started_at, \
                 duration_ms, status_code, error_kind, error, response_body) ",
            );
            q.push_values(chunk, |mut row, (account_id, a)| {
                row.push_bind(&a.id)
                    .push_bind(*account_id)
                    .push_bind(&a.delivery_id)
                    .push_bind(&a.webhook_id)
                    .push_bind(&a.event_id)
                    .push_bind(a.number)
                    .push_bind(a.trigger.as_str())
                    .push_bind(ms(a.started_at))
                    .push_bind(a.duration_ms as i64)
                    .push_bind(a.status_code)
                    .push_bind(&a.error_kind)
                    .push_bind(&a.error)
                    .push_bind(&a.response_body);
            });
            q.build().execute(self.conn()).await?;
        }
        Ok(())
    }

    async fn update_deliveries(&mut self, updates: &[DeliveryUpdate]) -> Result<Vec<String>> {
        // Bound values, not a JSON list: extracting each field from JSON cost twice the
        // update itself.
        let mut updated = Vec::with_capacity(updates.len());
        for chunk in runs(updates) {
            let mut q = QueryBuilder::<Sqlite>::new("WITH u(id, status, attempts, next, code, delivered, ended) AS (");
            q.push_values(chunk, |mut row, u| {
                row.push_bind(&u.id)
                    .push_bind(u.status.as_str())
                    .push_bind(u.attempts)
                    .push_bind(u.next_attempt_at.map(ms))
                    .push_bind(u.last_status_code)
                    .push_bind(u.delivered_at.map(ms))
                    .push_bind(u.ended_at.map(ms));
            });
            q.push(
                ") UPDATE deliveries SET status = u.status, attempts = u.attempts, next_attempt_at = u.next, \
                 last_status_code = u.code, delivered_at = COALESCE(u.delivered, delivered_at), ended_at = u.ended, \
                 lease_until = NULL, next_trigger = 'scheduled' \
                 FROM u WHERE deliveries.id = u.id",
            );
            // Not `RETURNING`: each returned row is a message from SQLite's thread, and
            // the count says whether any is missing (erased while out on a call).
            let done = q.build().execute(self.conn()).await?.rows_affected();
            if done == chunk.len() as u64 {
                updated.extend(chunk.iter().map(|u| u.id.clone()));
                continue;
            }
            let ids: Vec<&str> = chunk.iter().map(|u| u.id.as_str()).collect();
            let stored: String = sqlx::query_scalar(
                "SELECT json_group_array(id) FROM deliveries WHERE id IN (SELECT value FROM json_each(?))",
            )
            .bind(json(&ids)?)
            .fetch_one(self.conn())
            .await?;
            updated.extend(serde_json::from_str::<Vec<String>>(&stored)?);
        }
        Ok(updated)
    }

    async fn release(&mut self, delivery_ids: &[String]) -> Result<()> {
        sqlx::query("UPDATE deliveries SET lease_until = NULL WHERE id IN (SELECT value FROM json_each(?))")
            .bind(json(delivery_ids)?)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    async fn deliveries_to_retry(
        &mut self,
        account_id: &str,
        selection: &RetrySelection,
        now: DateTime<Utc>,
    ) -> Result<Vec<RetryCandidate>> {
        let rows = match selection {
            RetrySelection::Delivery(id) => {
                sqlx::query("SELECT id, webhook_id, status, ended_at FROM deliveries WHERE id = ? AND account_id = ?")
                    .bind(id)
                    .bind(account_id)
                    .fetch_all(self.conn())
                    .await?
            }
            RetrySelection::Webhook {
                webhook_id,
                since,
                until,
            } => {
                sqlx::query(
                    "SELECT id, webhook_id, status, ended_at FROM deliveries \
                     WHERE webhook_id = ? AND account_id = ? AND created_at >= ? AND created_at <= ? \
                       AND (status = 'failed' OR (status = 'pending' AND attempts > 0 \
                            AND (lease_until IS NULL OR lease_until <= ?)))",
                )
                .bind(webhook_id)
                .bind(account_id)
                .bind(ms(*since))
                .bind(ms(*until))
                .bind(ms(now))
                .fetch_all(self.conn())
                .await?
            }
        };
        rows.iter()
            .map(|row| {
                Ok(RetryCandidate {
                    id: row.try_get("id")?,
                    webhook_id: row.try_get("webhook_id")?,
                    status: rows::delivery_status(row)?,
                    ended_at: rows::opt_time(row.try_get("ended_at")?),
                })
            })
            .collect()
    }

    async fn retry_deliveries(&mut self, ids: &[&str], trigger: Trigger, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, next_trigger = ?, lease_until = NULL, \
             ended_at = NULL WHERE id IN (SELECT value FROM json_each(?))",
        )
        .bind(ms(now))
        .bind(trigger.as_str())
        .bind(json(ids)?)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    async fn webhook_health(&mut self, ids: &[&str], _lock: bool) -> Result<Vec<WebhookHealth>> {
        let rows = sqlx::query(
            "SELECT id, enabled, failing_since, disabled_reason FROM webhooks \
             WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
        )
        .bind(json(ids)?)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(WebhookHealth {
                    id: row.try_get("id")?,
                    enabled: row.try_get("enabled")?,
                    failing_since: rows::opt_time(row.try_get("failing_since")?),
                    disabled_reason: row.try_get("disabled_reason")?,
                })
            })
            .collect()
    }

    async fn save_webhook_health(&mut self, health: &[WebhookHealth]) -> Result<()> {
        let rows: Vec<serde_json::Value> = health
            .iter()
            .map(|h| {
                serde_json::json!({
                    "id": h.id,
                    "enabled": h.enabled,
                    "failing_since": h.failing_since.map(ms),
                    "reason": h.disabled_reason,
                })
            })
            .collect();
        sqlx::query(
            "UPDATE webhooks SET enabled = j.value ->> 'enabled', failing_since = j.value ->> 'failing_since', \
             disabled_reason = j.value ->> 'reason' FROM json_each(?) AS j WHERE webhooks.id = j.value ->> 'id'",
        )
        .bind(json(&rows)?)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    async fn hour_stats(&mut self, keys: &[(&str, DateTime<Utc>)]) -> Result<Vec<HourStats>> {
        let keys: Vec<(&str, i64)> = keys.iter().map(|(id, hour)| (*id, ms(*hour))).collect();
        let rows = sqlx::query(&format!(
            "SELECT {} FROM webhook_stats \
             WHERE (webhook_id, hour) IN (SELECT j.value ->> 0, j.value ->> 1 FROM json_each(?) j)",
            rows::HOUR_STATS_COLUMNS
        ))
        .bind(json(&keys)?)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(rows::hour_stats).collect()
    }

    async fn save_hour_stats(&mut self, stats: &[HourStats]) -> Result<()> {
        for chunk in runs(stats) {
            let mut latencies = Vec::with_capacity(chunk.len());
            for s in chunk {
                latencies.push(json(&s.latency)?);
            }
            let mut q =
                QueryBuilder::<Sqlite>::new(&format!("INSERT INTO webhook_stats ({}) ", rows::HOUR_STATS_COLUMNS));
            q.push_values(chunk.iter().zip(&latencies), |mut row, (s, latency)| {
                row.push_bind(&s.webhook_id)
                    .push_bind(ms(s.hour))
                    .push_bind(s.delivered as i64)
                    .push_bind(s.failed as i64)
                    .push_bind(s.skipped_unverified as i64)
                    .push_bind(s.condition_errors as i64)
                    .push_bind(s.attempts as i64)
                    .push_bind(latency);
            });
            q.push(
                " ON CONFLICT (webhook_id, hour) DO UPDATE SET delivered = excluded.delivered, \
                 failed = excluded.failed, skipped_unverified = excluded.skipped_unverified, \
                 condition_errors = excluded.condition_errors, attempts = excluded.attempts, latency = excluded.latency",
            );
            q.build().execute(self.conn()).await?;
        }
        Ok(())
    }

    async fn due_deliveries(&mut self, request: &ClaimRequest, limit: u32) -> Result<Vec<DueDelivery>> {
        let rows = sqlx::query(
            "SELECT d.id, d.webhook_id FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.status = 'pending' AND d.next_attempt_at <= ?1 \
               AND (d.lease_until IS NULL OR d.lease_until <= ?1) AND w.enabled = 1 \
               AND (?5 = 0 OR w.verification ->> '$.status' = 'verified') \
               AND (w.paused_until IS NULL OR w.paused_until <= ?1) \
               AND COALESCE(?3 ->> ('$.' || d.webhook_id), ?4) > 0 \
               AND (d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries p \
                    WHERE p.webhook_id = d.webhook_id AND p.ordering_key = d.ordering_key \
                      AND p.status = 'pending' AND p.id < d.id)) \
             ORDER BY d.next_attempt_at LIMIT ?2",
        )
        .bind(ms(request.now))
        .bind(limit)
        .bind(json(&request.room)?)
        .bind(request.room_default)
        .bind(request.require_verification)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DueDelivery {
                    id: row.try_get("id")?,
                    webhook_id: row.try_get("webhook_id")?,
                })
            })
            .collect()
    }

    async fn lease(&mut self, ids: &[&str], _now: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<ClaimedDelivery>> {
        // The writer is SQLite's only writer: nothing leased them since they were read.
        let ids = json(ids)?;
        sqlx::query("UPDATE deliveries SET lease_until = ? WHERE id IN (SELECT value FROM json_each(?))")
            .bind(ms(until))
            .bind(&ids)
            .execute(self.conn())
            .await?;
        let rows = sqlx::query(
            "SELECT d.id, d.event_id, d.webhook_id, d.account_id, d.attempts, d.next_trigger, d.next_attempt_at, \
               d.ordering_key, e.type, e.body \
             FROM deliveries d JOIN events e ON e.id = d.event_id \
             WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.next_attempt_at",
        )
        .bind(&ids)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ClaimedDelivery {
                    delivery_id: row.try_get("id")?,
                    event_id: row.try_get("event_id")?,
                    webhook_id: row.try_get("webhook_id")?,
                    account_id: row.try_get("account_id")?,
                    attempts: row.try_get::<i64, _>("attempts")? as u32,
                    trigger: rows::trigger(row, "next_trigger")?,
                    event_type: row.try_get("type")?,
                    body: row.try_get::<Vec<u8>, _>("body")?.into(),
                    due_at: rows::time(row.try_get("next_attempt_at")?),
                    ordering_key: row.try_get("ordering_key")?,
                })
            })
            .collect()
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        sqlx::query("COMMIT").execute(self.conn()).await?;
        // Full means a checkpoint is already on its way.
        let _ = self.committed.try_send(());
        Ok(())
    }

    async fn rollback(mut self: Box<Self>) -> Result<()> {
        match sqlx::query("ROLLBACK").execute(self.conn()).await {
            Ok(_) => Ok(()),
            // SQLite may have rolled back already (a full disk, an I/O error).
            Err(e) if e.to_string().contains("no transaction is active") => {
                tracing::debug!(error = %e, "the transaction was already rolled back");
                Ok(())
            }
            Err(e) => Err(StoreError::from(e)),
        }
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
