//! A write group's (or a claim's) transaction on PostgreSQL. Rows go in as `UNNEST` of
//! one array per column; lists of ids as one array. Rows another node may change at the
//! same time are read `FOR UPDATE`, in id order; webhooks and deliveries `FOR NO KEY
//! UPDATE`, which does not block the key-share locks that inserting rows referring to
//! them takes (deliveries of a webhook, attempts of a delivery): `FOR UPDATE` there
//! deadlocked two nodes, one recording health while the other accepted events.
//!
//! Statements that find rows by a list of ids are not kept prepared
//! (`persistent(false)`): PostgreSQL plans them for the list they run with. A prepared
//! one falls back to a generic plan, and one made while the tables were small (a new
//! database) scans them whole for ever after: write groups took 1.4 ms to find 30
//! deliveries by id at 10 000 rows, and delivery ran at 2 000/s instead of 4 800/s.
//! Inserts stay prepared: their plans cannot go wrong that way.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use postbode_core::profile::Schema;
use postbode_core::webhook::Webhook;
use sqlx::postgres::{PgPool, Postgres};
use sqlx::{Row, Transaction};
use std::collections::HashMap;

use super::WORK_CHANNEL;
use crate::Result;
use crate::backend::*;
use crate::model::*;
use crate::replay::{ReplayCursor, ReplayProgress};
use crate::rows::{self, ms};

pub struct PgTxSource {
    pool: PgPool,
}

impl PgTxSource {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl TxSource for PgTxSource {
    async fn begin(&self, durability: Durability) -> Result<Box<dyn GroupTx>> {
        let mut tx = PgTx::begin(&self.pool).await?;
        if durability == Durability::Relaxed {
            // Only leases move: a commit lost with the server makes them claimable again.
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx.tx)
                .await?;
        }
        Ok(Box::new(tx))
    }
}

pub struct PgTx {
    tx: Transaction<'static, Postgres>,
}

impl PgTx {
    pub async fn begin(pool: &PgPool) -> Result<Self> {
        Ok(Self {
            tx: pool.begin().await?,
        })
    }
}

fn owned(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value)?)
}

#[async_trait]
impl GroupTx for PgTx {
    async fn account_webhooks(&mut self, account_id: &str) -> Result<Vec<Webhook>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM webhooks WHERE account_id = $1",
            rows::WEBHOOK_COLUMNS
        ))
        .bind(account_id)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(rows::webhook).collect()
    }

    async fn webhooks(&mut self, ids: &[&str]) -> Result<Vec<Webhook>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM webhooks WHERE id = ANY($1)",
            rows::WEBHOOK_COLUMNS
        ))
        .persistent(false)
        .bind(owned(ids))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(rows::webhook).collect()
    }

    async fn message_contexts(&mut self, ids: &[&str]) -> Result<HashMap<String, MessageContext>> {
        let rows = sqlx::query(&format!("{} WHERE m.id = ANY($1)", rows::message_context_select()))
            .persistent(false)
            .bind(owned(ids))
            .fetch_all(&mut *self.tx)
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
        let accounts: Vec<&str> = keys.iter().map(|k| k.account_id.as_str()).collect();
        let names: Vec<&str> = keys.iter().map(|k| k.key.as_str()).collect();
        let stored = sqlx::query(
            "INSERT INTO idempotency_keys (account_id, key, request_hash, event_id, deliveries, expires_at) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::bytea[], $4::text[], $5::bigint[], $6::bigint[]) \
             ON CONFLICT (account_id, key) DO UPDATE SET request_hash = excluded.request_hash, \
             event_id = excluded.event_id, deliveries = excluded.deliveries, expires_at = excluded.expires_at \
             WHERE idempotency_keys.expires_at <= $7 RETURNING account_id, key",
        )
        .bind(&accounts)
        .bind(&names)
        .bind(keys.iter().map(|k| k.request_hash.clone()).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.event_id.as_str()).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| i64::from(k.deliveries)).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| ms(k.expires_at)).collect::<Vec<_>>())
        .bind(ms(now))
        .fetch_all(&mut *self.tx)
        .await?;
        let stored: Vec<(String, String)> = stored
            .iter()
            .map(|row| Ok((row.try_get("account_id")?, row.try_get("key")?)))
            .collect::<Result<_>>()?;
        let (held_accounts, held_names): (Vec<&str>, Vec<&str>) = accounts
            .iter()
            .zip(&names)
            .filter(|(a, k)| !stored.iter().any(|(sa, sk)| sa == *a && sk == *k))
            .map(|(a, k)| (*a, *k))
            .unzip();
        if held_names.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT account_id, key, request_hash, event_id, deliveries, expires_at FROM idempotency_keys \
             WHERE (account_id, key) IN (SELECT * FROM UNNEST($1::text[], $2::text[]))",
        )
        .bind(&held_accounts)
        .bind(&held_names)
        .fetch_all(&mut *self.tx)
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
            "SELECT {} FROM profiles WHERE id = $1 AND account_id = $2 FOR UPDATE",
            rows::PROFILE_COLUMNS
        ))
        .bind(id)
        .bind(account_id)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(rows::profile).transpose()
    }

    async fn subprofile(&mut self, account_id: &str, id: &str) -> Result<Option<Subprofile>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM subprofiles WHERE id = $1 AND account_id = $2 FOR UPDATE",
            rows::SUBPROFILE_COLUMNS
        ))
        .bind(id)
        .bind(account_id)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(rows::subprofile).transpose()
    }

    async fn subprofiles_of(&mut self, account_id: &str, profile_id: &str) -> Result<Vec<Subprofile>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM subprofiles WHERE profile_id = $1 AND account_id = $2 ORDER BY id FOR UPDATE",
            rows::SUBPROFILE_COLUMNS
        ))
        .bind(profile_id)
        .bind(account_id)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(rows::subprofile).collect()
    }

    async fn database_fields(&mut self, account_id: &str, id: &str) -> Result<Option<DatabaseFields>> {
        let row = sqlx::query("SELECT fields, key_fields FROM databases WHERE id = $1 AND account_id = $2")
            .bind(id)
            .bind(account_id)
            .fetch_optional(&mut *self.tx)
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
        let row = sqlx::query("SELECT database_id, fields FROM collections WHERE id = $1 AND account_id = $2")
            .bind(id)
            .bind(account_id)
            .fetch_optional(&mut *self.tx)
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
             WHERE k.database_id = $1 AND k.field = $2 AND k.account_id = $3 AND k.value = ANY($4) \
             ORDER BY p.id FOR UPDATE OF p",
            rows::prefixed("p", rows::PROFILE_COLUMNS, "")
        ))
        .bind(database_id)
        .bind(field)
        .bind(account_id)
        .bind(values)
        .fetch_all(&mut *self.tx)
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
            "SELECT {} FROM profiles WHERE database_id = $1 AND account_id = $2 AND id > $3 ORDER BY id LIMIT $4",
            rows::PROFILE_COLUMNS
        ))
        .bind(database_id)
        .bind(account_id)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(rows::profile).collect()
    }

    async fn set_key_fields(&mut self, account_id: &str, database_id: &str, fields: &[String]) -> Result<()> {
        // A union with what is stored: another node may have added a key field meanwhile.
        sqlx::query(
            "UPDATE databases SET key_fields = (SELECT COALESCE(jsonb_agg(DISTINCT f ORDER BY f), '[]'::jsonb)::text \
             FROM jsonb_array_elements_text(key_fields::jsonb || $1::jsonb) AS f) WHERE id = $2 AND account_id = $3",
        )
        .bind(json(fields)?)
        .bind(database_id)
        .bind(account_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn savepoint(&mut self) -> Result<()> {
        sqlx::query("SAVEPOINT request").execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn rollback_to_savepoint(&mut self) -> Result<()> {
        sqlx::query("ROLLBACK TO SAVEPOINT request")
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn release_savepoint(&mut self) -> Result<()> {
        sqlx::query("RELEASE SAVEPOINT request").execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn insert_events(&mut self, events: &[EventRow]) -> Result<()> {
        sqlx::query(
            "INSERT INTO events (id, account_id, type, body, created_at, profile_id, trace_parent) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bigint[], $6::text[], $7::text[])",
        )
        .bind(events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.account_id.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.body.as_ref()).collect::<Vec<&[u8]>>())
        .bind(events.iter().map(|e| ms(e.created_at)).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.profile_id.as_deref()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.trace_parent.as_deref()).collect::<Vec<_>>())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn insert_deliveries(&mut self, deliveries: &[DeliveryRow]) -> Result<()> {
        let due: Vec<i64> = deliveries.iter().map(|d| ms(d.due_at)).collect();
        sqlx::query(
            "INSERT INTO deliveries (id, event_id, webhook_id, status, next_attempt_at, created_at, lease_until, \
             ordering_key) \
             SELECT id, event_id, webhook_id, 'pending', due, due, lease, ordering_key \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[]) \
               AS d(id, event_id, webhook_id, due, lease, ordering_key)",
        )
        .bind(deliveries.iter().map(|d| d.id.as_str()).collect::<Vec<_>>())
        .bind(deliveries.iter().map(|d| d.event_id.as_str()).collect::<Vec<_>>())
        .bind(deliveries.iter().map(|d| d.webhook_id.as_str()).collect::<Vec<_>>())
        .bind(&due)
        .bind(deliveries.iter().map(|d| d.leased_until.map(ms)).collect::<Vec<_>>())
        .bind(deliveries.iter().map(|d| d.ordering_key.as_deref()).collect::<Vec<_>>())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn save_profiles(&mut self, profiles: &[&Profile]) -> Result<()> {
        let mut fields = Vec::with_capacity(profiles.len());
        let mut interests = Vec::with_capacity(profiles.len());
        for p in profiles {
            fields.push(json(&p.state.values)?);
            interests.push(json(&p.state.interests)?);
        }
        sqlx::query(
            "INSERT INTO profiles (id, account_id, database_id, fields, interests, sequence, created_at, modified_at) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], \
               $7::bigint[], $8::bigint[]) \
             ON CONFLICT (id) DO UPDATE SET fields = excluded.fields, interests = excluded.interests, \
             sequence = excluded.sequence, modified_at = excluded.modified_at",
        )
        .bind(profiles.iter().map(|p| p.id.as_str()).collect::<Vec<_>>())
        .bind(profiles.iter().map(|p| p.account_id.as_str()).collect::<Vec<_>>())
        .bind(profiles.iter().map(|p| p.database_id.as_str()).collect::<Vec<_>>())
        .bind(&fields)
        .bind(&interests)
        .bind(profiles.iter().map(|p| p.sequence as i64).collect::<Vec<_>>())
        .bind(profiles.iter().map(|p| ms(p.created_at)).collect::<Vec<_>>())
        .bind(profiles.iter().map(|p| ms(p.modified_at)).collect::<Vec<_>>())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn delete_profiles(&mut self, account_id: &str, ids: &[&str]) -> Result<()> {
        sqlx::query("DELETE FROM profiles WHERE account_id = $1 AND id = ANY($2)")
            .bind(account_id)
            .bind(owned(ids))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn save_subprofiles(&mut self, subprofiles: &[&Subprofile]) -> Result<()> {
        let mut fields = Vec::with_capacity(subprofiles.len());
        for s in subprofiles {
            fields.push(json(&s.values)?);
        }
        sqlx::query(
            "INSERT INTO subprofiles (id, account_id, profile_id, database_id, collection_id, fields, sequence, \
             created_at, modified_at) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
               $7::bigint[], $8::bigint[], $9::bigint[]) \
             ON CONFLICT (id) DO UPDATE SET fields = excluded.fields, sequence = excluded.sequence, \
             modified_at = excluded.modified_at",
        )
        .bind(subprofiles.iter().map(|s| s.id.as_str()).collect::<Vec<_>>())
        .bind(subprofiles.iter().map(|s| s.account_id.as_str()).collect::<Vec<_>>())
        .bind(subprofiles.iter().map(|s| s.profile_id.as_str()).collect::<Vec<_>>())
        .bind(subprofiles.iter().map(|s| s.database_id.as_str()).collect::<Vec<_>>())
        .bind(subprofiles.iter().map(|s| s.collection_id.as_str()).collect::<Vec<_>>())
        .bind(&fields)
        .bind(subprofiles.iter().map(|s| s.sequence as i64).collect::<Vec<_>>())
        .bind(subprofiles.iter().map(|s| ms(s.created_at)).collect::<Vec<_>>())
        .bind(subprofiles.iter().map(|s| ms(s.modified_at)).collect::<Vec<_>>())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn delete_subprofiles(&mut self, account_id: &str, ids: &[&str]) -> Result<()> {
        sqlx::query("DELETE FROM subprofiles WHERE account_id = $1 AND id = ANY($2)")
            .bind(account_id)
            .bind(owned(ids))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn replace_profile_keys(&mut self, profile_ids: &[&str], keys: &[ProfileKeyRow]) -> Result<()> {
        if !profile_ids.is_empty() {
            sqlx::query("DELETE FROM profile_keys WHERE profile_id = ANY($1)")
                .bind(owned(profile_ids))
                .execute(&mut *self.tx)
                .await?;
        }
        if keys.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO profile_keys (account_id, database_id, field, value, profile_id) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) ON CONFLICT DO NOTHING",
        )
        .bind(keys.iter().map(|k| k.account_id.as_str()).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.database_id.as_str()).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.field.as_str()).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.value.as_str()).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.profile_id.as_str()).collect::<Vec<_>>())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn insert_attempts(&mut self, attempts: &[(&str, &Attempt)]) -> Result<()> {
        sqlx::query(
            "INSERT INTO attempts (id, delivery_id, webhook_id, number, trigger, started_at, duration_ms, status_code, \
             error_kind, error, response_body) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], \
               $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[])",
        )
        .bind(attempts.iter().map(|(_, a)| a.id.as_str()).collect::<Vec<_>>())
        .bind(
            attempts
                .iter()
                .map(|(_, a)| a.delivery_id.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(attempts.iter().map(|(_, a)| a.webhook_id.as_str()).collect::<Vec<_>>())
        .bind(attempts.iter().map(|(_, a)| i64::from(a.number)).collect::<Vec<_>>())
        .bind(attempts.iter().map(|(_, a)| a.trigger.as_str()).collect::<Vec<_>>())
        .bind(attempts.iter().map(|(_, a)| ms(a.started_at)).collect::<Vec<_>>())
        .bind(attempts.iter().map(|(_, a)| a.duration_ms as i64).collect::<Vec<_>>())
        .bind(
            attempts
                .iter()
                .map(|(_, a)| a.status_code.map(i64::from))
                .collect::<Vec<_>>(),
        )
        .bind(
            attempts
                .iter()
                .map(|(_, a)| a.error_kind.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(attempts.iter().map(|(_, a)| a.error.as_deref()).collect::<Vec<_>>())
        .bind(
            attempts
                .iter()
                .map(|(_, a)| a.response_body.as_deref())
                .collect::<Vec<_>>(),
        )
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn update_deliveries(&mut self, updates: &[DeliveryUpdate]) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "UPDATE deliveries d SET status = u.status, attempts = u.attempts, next_attempt_at = u.next, \
             last_status_code = u.code, delivered_at = COALESCE(u.delivered, d.delivered_at), ended_at = u.ended, \
             lease_until = NULL, next_trigger = 'scheduled' \
             FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[]) \
               AS u(id, status, attempts, next, code, delivered, ended) \
             WHERE d.id = u.id RETURNING d.id",
        )
        .persistent(false)
        .bind(updates.iter().map(|u| u.id.as_str()).collect::<Vec<_>>())
        .bind(updates.iter().map(|u| u.status.as_str()).collect::<Vec<_>>())
        .bind(updates.iter().map(|u| i64::from(u.attempts)).collect::<Vec<_>>())
        .bind(updates.iter().map(|u| u.next_attempt_at.map(ms)).collect::<Vec<_>>())
        .bind(
            updates
                .iter()
                .map(|u| u.last_status_code.map(i64::from))
                .collect::<Vec<_>>(),
        )
        .bind(updates.iter().map(|u| u.delivered_at.map(ms)).collect::<Vec<_>>())
        .bind(updates.iter().map(|u| u.ended_at.map(ms)).collect::<Vec<_>>())
        .fetch_all(&mut *self.tx)
        .await?)
    }

    async fn release(&mut self, delivery_ids: &[String]) -> Result<()> {
        sqlx::query("UPDATE deliveries SET lease_until = NULL WHERE id = ANY($1)")
            .persistent(false)
            .bind(delivery_ids)
            .execute(&mut *self.tx)
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
                sqlx::query(
                    "SELECT id, webhook_id, status, ended_at FROM deliveries \
                     WHERE id = $1 \
                       AND EXISTS (SELECT 1 FROM webhooks o WHERE o.id = deliveries.webhook_id AND o.account_id = $2) \
                     FOR NO KEY UPDATE",
                )
                .bind(id)
                .bind(account_id)
                .fetch_all(&mut *self.tx)
                .await?
            }
            RetrySelection::Webhook {
                webhook_id,
                since,
                until,
            } => {
                sqlx::query(
                    "SELECT id, webhook_id, status, ended_at FROM deliveries \
                     WHERE webhook_id = $1 AND EXISTS (SELECT 1 FROM webhooks o WHERE o.id = $1 AND o.account_id = $2) \
                       AND created_at >= $3 AND created_at <= $4 \
                       AND (status = 'failed' OR (status = 'pending' AND attempts > 0 \
                            AND (lease_until IS NULL OR lease_until <= $5))) \
                     ORDER BY id FOR NO KEY UPDATE SKIP LOCKED",
                )
                .bind(webhook_id)
                .bind(account_id)
                .bind(ms(*since))
                .bind(ms(*until))
                .bind(ms(now))
                .fetch_all(&mut *self.tx)
                .await?
            }
            RetrySelection::Replay { webhook_id, ids } => {
                sqlx::query(
                    "SELECT id, webhook_id, status, ended_at FROM deliveries \
                     WHERE id = ANY($1) AND webhook_id = $2 \
                       AND EXISTS (SELECT 1 FROM webhooks o WHERE o.id = $2 AND o.account_id = $3) \
                       AND (lease_until IS NULL OR lease_until <= $4) \
                     ORDER BY id FOR NO KEY UPDATE SKIP LOCKED",
                )
                .persistent(false)
                .bind(ids)
                .bind(webhook_id)
                .bind(account_id)
                .bind(ms(now))
                .fetch_all(&mut *self.tx)
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

    async fn move_replay_cursor(
        &mut self,
        job_id: &str,
        from: &ReplayCursor,
        to: &ReplayCursor,
        rows: u64,
        last: bool,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let (from_at, from_id) = crate::replay_sql::cursor_values(from.after.as_ref());
        let (to_at, to_id) = match &to.after {
            Some((at, id)) => (Some(ms(*at)), Some(id.clone())),
            None => (None, None),
        };
        let moved = sqlx::query(
            "UPDATE replay_jobs SET phase = $1, cursor_at = $2, cursor_id = $3, done = done + $4, \
             status = CASE WHEN $5 THEN 'done' ELSE status END, updated_at = $6 \
             WHERE id = $7 AND status = 'running' AND phase = $8 AND COALESCE(cursor_at, -1) = $9 \
               AND COALESCE(cursor_id, '') = $10",
        )
        .bind(to.phase.as_str())
        .bind(to_at)
        .bind(to_id)
        .bind(i64::try_from(rows).unwrap_or(i64::MAX))
        .bind(last)
        .bind(ms(now))
        .bind(job_id)
        .bind(from.phase.as_str())
        .bind(from_at)
        .bind(from_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(moved.rows_affected() == 1)
    }

    async fn count_replayed(&mut self, job_id: &str, progress: ReplayProgress) -> Result<()> {
        sqlx::query("UPDATE replay_jobs SET resent = resent + $1, created = created + $2 WHERE id = $3")
            .bind(i64::try_from(progress.resent).unwrap_or(i64::MAX))
            .bind(i64::try_from(progress.created).unwrap_or(i64::MAX))
            .bind(job_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn retry_deliveries(&mut self, ids: &[&str], trigger: Trigger, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = $1, next_trigger = $2, lease_until = NULL, \
             ended_at = NULL WHERE id = ANY($3)",
        )
        .persistent(false)
        .bind(ms(now))
        .bind(trigger.as_str())
        .bind(owned(ids))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn webhook_health(&mut self, ids: &[&str], lock: bool) -> Result<Vec<WebhookHealth>> {
        let rows = sqlx::query(&format!(
            "SELECT id, enabled, failing_since, disabled_reason FROM webhooks WHERE id = ANY($1) ORDER BY id {}",
            if lock { "FOR NO KEY UPDATE" } else { "" }
        ))
        .persistent(false)
        .bind(owned(ids))
        .fetch_all(&mut *self.tx)
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
        sqlx::query(
            "UPDATE webhooks w SET enabled = h.enabled, failing_since = h.failing_since, \
             disabled_reason = h.reason \
             FROM UNNEST($1::text[], $2::boolean[], $3::bigint[], $4::text[]) AS h(id, enabled, failing_since, reason) \
             WHERE w.id = h.id",
        )
        .persistent(false)
        .bind(health.iter().map(|h| h.id.as_str()).collect::<Vec<_>>())
        .bind(health.iter().map(|h| h.enabled).collect::<Vec<_>>())
        .bind(health.iter().map(|h| h.failing_since.map(ms)).collect::<Vec<_>>())
        .bind(health.iter().map(|h| h.disabled_reason.as_deref()).collect::<Vec<_>>())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn hour_stats(&mut self, keys: &[(&str, DateTime<Utc>)]) -> Result<Vec<HourStats>> {
        let webhooks: Vec<&str> = keys.iter().map(|(id, _)| *id).collect();
        let hours: Vec<i64> = keys.iter().map(|(_, hour)| ms(*hour)).collect();
        // Made when missing and locked when present, in one statement and in (webhook,
        // hour) order: two groups adding to the same hour then add one after the other.
        let rows = sqlx::query(&format!(
            "INSERT INTO webhook_stats (webhook_id, hour) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[]) AS k(webhook_id, hour) ORDER BY webhook_id, hour \
             ON CONFLICT (webhook_id, hour) DO UPDATE SET hour = excluded.hour RETURNING {}",
            rows::HOUR_STATS_COLUMNS
        ))
        .bind(&webhooks)
        .bind(&hours)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(rows::hour_stats).collect()
    }

    async fn save_hour_stats(&mut self, stats: &[HourStats]) -> Result<()> {
        let mut latencies = Vec::with_capacity(stats.len());
        for s in stats {
            latencies.push(json(&s.latency)?);
        }
        sqlx::query(&format!(
            "INSERT INTO webhook_stats ({}) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], \
               $7::bigint[], $8::bigint[], $9::text[]) \
             ON CONFLICT (webhook_id, hour) DO UPDATE SET delivered = excluded.delivered, failed = excluded.failed, \
             skipped_unverified = excluded.skipped_unverified, condition_errors = excluded.condition_errors, \
             held = excluded.held, attempts = excluded.attempts, latency = excluded.latency",
            rows::HOUR_STATS_COLUMNS
        ))
        .bind(stats.iter().map(|s| s.webhook_id.as_str()).collect::<Vec<_>>())
        .bind(stats.iter().map(|s| ms(s.hour)).collect::<Vec<_>>())
        .bind(stats.iter().map(|s| s.delivered as i64).collect::<Vec<_>>())
        .bind(stats.iter().map(|s| s.failed as i64).collect::<Vec<_>>())
        .bind(stats.iter().map(|s| s.skipped_unverified as i64).collect::<Vec<_>>())
        .bind(stats.iter().map(|s| s.condition_errors as i64).collect::<Vec<_>>())
        .bind(stats.iter().map(|s| s.held as i64).collect::<Vec<_>>())
        .bind(stats.iter().map(|s| s.attempts as i64).collect::<Vec<_>>())
        .bind(&latencies)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn due_deliveries(&mut self, request: &ClaimRequest, limit: u32) -> Result<Vec<DueDelivery>> {
        // The webhooks with pending deliveries, one index seek each (a loose scan of
        // `deliveries_pending`), then each one's due deliveries, at most its room: a
        // disabled webhook's held backlog costs one seek, never a read.
        let rows = sqlx::query(
            "WITH RECURSIVE pending(webhook_id) AS ( \
               (SELECT webhook_id FROM deliveries WHERE status = 'pending' ORDER BY webhook_id LIMIT 1) \
               UNION ALL \
               SELECT (SELECT webhook_id FROM deliveries WHERE status = 'pending' AND webhook_id > p.webhook_id \
                       ORDER BY webhook_id LIMIT 1) \
               FROM pending p WHERE p.webhook_id IS NOT NULL) \
             SELECT d.id, d.webhook_id FROM pending p JOIN webhooks w ON w.id = p.webhook_id \
             CROSS JOIN LATERAL (SELECT x.id, x.webhook_id, x.next_attempt_at FROM deliveries x \
                 WHERE x.webhook_id = w.id AND x.status = 'pending' AND x.next_attempt_at <= $1 \
                   AND (x.lease_until IS NULL OR x.lease_until <= $1) \
                   AND (x.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries o \
                        WHERE o.webhook_id = x.webhook_id AND o.ordering_key = x.ordering_key \
                          AND o.status = 'pending' AND o.id < x.id)) \
                 ORDER BY x.next_attempt_at LIMIT COALESCE(($3::jsonb ->> w.id)::bigint, $4)) d \
             WHERE w.enabled AND (NOT $5 OR w.verified) \
               AND (w.paused_until IS NULL OR w.paused_until <= $1) \
               AND COALESCE(($3::jsonb ->> w.id)::bigint, $4) > 0 \
             ORDER BY d.next_attempt_at LIMIT $2",
        )
        .persistent(false)
        .bind(ms(request.now))
        .bind(i64::from(limit))
        .bind(json(&request.room)?)
        .bind(i64::from(request.room_default))
        .bind(request.require_verification)
        .fetch_all(&mut *self.tx)
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

    async fn lease(&mut self, ids: &[&str], now: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<ClaimedDelivery>> {
        // Only the chosen rows are locked, and those another node is leasing right now
        // are skipped rather than waited for; the lease is checked again on the row.
        let rows = sqlx::query(
            "UPDATE deliveries d SET lease_until = $1 FROM events e \
             WHERE d.id IN (SELECT id FROM deliveries WHERE id = ANY($2) AND status = 'pending' \
                 AND (lease_until IS NULL OR lease_until <= $3) FOR NO KEY UPDATE SKIP LOCKED) \
               AND e.id = d.event_id \
             RETURNING d.id, d.event_id, d.webhook_id, e.account_id, d.attempts, d.next_trigger, d.next_attempt_at, \
               d.ordering_key, e.type, e.body, e.created_at, e.trace_parent",
        )
        .persistent(false)
        .bind(ms(until))
        .bind(owned(ids))
        .bind(ms(now))
        .fetch_all(&mut *self.tx)
        .await?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                Ok((
                    row.try_get::<Option<i64>, _>("next_attempt_at")?,
                    ClaimedDelivery {
                        delivery_id: row.try_get("id")?,
                        body: rows::receiver_body(
                            row,
                            &row.try_get::<String, _>("event_id")?,
                            &row.try_get::<String, _>("type")?,
                        )?,
                        event_id: row.try_get("event_id")?,
                        webhook_id: row.try_get("webhook_id")?,
                        account_id: row.try_get("account_id")?,
                        attempts: row.try_get::<i64, _>("attempts")? as u32,
                        trigger: rows::trigger(row, "next_trigger")?,
                        event_type: row.try_get("type")?,
                        due_at: rows::time(row.try_get::<Option<i64>, _>("next_attempt_at")?.unwrap_or_default()),
                        ordering_key: row.try_get("ordering_key")?,
                        trace_parent: row
                            .try_get::<Option<String>, _>("trace_parent")?
                            .as_deref()
                            .and_then(TraceParent::parse),
                    },
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        claimed.sort_by_key(|(due, _)| *due);
        Ok(claimed.into_iter().map(|(_, delivery)| delivery).collect())
    }

    async fn announce_work(&mut self) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(WORK_CHANNEL)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}
