//! The write group's reads and writes on SQLite ([`GroupTx`] over the writer's
//! connection, `connection.rs`): multi-row statements, and lists of ids as one JSON
//! array through `json_each`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use postbode_core::profile::Schema;
use postbode_core::webhook::Webhook;
use rusqlite::params;
use std::collections::HashMap;

use super::connection::{Binds, SqliteTx, runs, values};
use crate::Result;
use crate::backend::*;
use crate::keys::key;
use crate::model::*;
use crate::replay::{ReplayCursor, ReplayProgress};
use crate::rows::{self, Columns, ms};

fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value)?)
}

/// Ids as a JSON list of keys, read by `unhex(value)` from `json_each` (`keys.rs`).
fn keys<S: AsRef<str>>(ids: &[S]) -> Result<String> {
    json(&crate::keys::hex_keys(ids))
}

#[async_trait]
impl GroupTx for SqliteTx {
    async fn account_webhooks(&mut self, account_id: &str) -> Result<Vec<Webhook>> {
        self.all(
            &format!("SELECT {} FROM webhooks WHERE account_id = ?", rows::WEBHOOK_COLUMNS),
            params![account_id],
            |row| rows::webhook(row),
        )
    }

    async fn webhooks(&mut self, ids: &[&str]) -> Result<Vec<Webhook>> {
        self.all(
            &format!(
                "SELECT {} FROM webhooks WHERE id IN (SELECT unhex(value) FROM json_each(?))",
                rows::WEBHOOK_COLUMNS
            ),
            params![keys(ids)?],
            |row| rows::webhook(row),
        )
    }

    async fn message_contexts(&mut self, ids: &[&str]) -> Result<HashMap<String, MessageContext>> {
        let contexts = self.all(
            &format!(
                "{} WHERE {}",
                rows::message_context_select(),
                super::records::dialect::id_in("m.id", 1)
            ),
            params![json(ids)?],
            |row| rows::message_context(row),
        )?;
        Ok(contexts.into_iter().map(|c| (c.message.id.clone(), c)).collect())
    }

    async fn claim_idempotency_keys(
        &mut self,
        keys: &[IdempotencyRow],
        now: DateTime<Utc>,
    ) -> Result<Vec<IdempotencyRow>> {
        let mut stored: Vec<(String, String)> = Vec::with_capacity(keys.len());
        for run in runs(keys) {
            let mut statement = self.statement(&values(
                "INSERT INTO idempotency_keys (account_id, key, request_hash, event_id, deliveries, expires_at)",
                6,
                run.len(),
                "ON CONFLICT (account_id, key) DO UPDATE SET request_hash = excluded.request_hash, \
                 event_id = excluded.event_id, deliveries = excluded.deliveries, expires_at = excluded.expires_at \
                 WHERE idempotency_keys.expires_at <= ? RETURNING account_id, key",
            ))?;
            let mut binds = Binds::of(&mut statement);
            for k in run {
                binds
                    .add(&k.account_id)?
                    .add(&k.key)?
                    .add(&k.request_hash)?
                    .add(key(&k.event_id))?
                    .add(k.deliveries)?
                    .add(ms(k.expires_at))?;
            }
            binds.add(ms(now))?;
            let mut rows = statement.raw_query();
            while let Some(row) = rows.next()? {
                stored.push((row.text("account_id")?, row.text("key")?));
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
        self.all(
            "SELECT account_id, key, request_hash, event_id, deliveries, expires_at FROM idempotency_keys \
             WHERE (account_id, key) IN (SELECT j.value ->> 0, j.value ->> 1 FROM json_each(?) j)",
            params![json(&held)?],
            |row| {
                Ok(IdempotencyRow {
                    account_id: row.text("account_id")?,
                    key: row.text("key")?,
                    request_hash: row.bytes("request_hash")?,
                    event_id: row.text("event_id")?,
                    deliveries: row.int("deliveries")? as u32,
                    expires_at: rows::time(row.int("expires_at")?),
                })
            },
        )
    }

    async fn profile(&mut self, account_id: &str, id: &str) -> Result<Option<Profile>> {
        self.optional(
            &format!(
                "SELECT {} FROM profiles WHERE id = ? AND account_id = ?",
                rows::PROFILE_COLUMNS
            ),
            params![id, account_id],
            |row| rows::profile(row),
        )
    }

    async fn subprofile(&mut self, account_id: &str, id: &str) -> Result<Option<Subprofile>> {
        self.optional(
            &format!(
                "SELECT {} FROM subprofiles WHERE id = ? AND account_id = ?",
                rows::SUBPROFILE_COLUMNS
            ),
            params![id, account_id],
            |row| rows::subprofile(row),
        )
    }

    async fn subprofiles_of(&mut self, account_id: &str, profile_id: &str) -> Result<Vec<Subprofile>> {
        self.all(
            &format!(
                "SELECT {} FROM subprofiles WHERE profile_id = ? AND account_id = ? ORDER BY id",
                rows::SUBPROFILE_COLUMNS
            ),
            params![profile_id, account_id],
            |row| rows::subprofile(row),
        )
    }

    async fn database_fields(&mut self, account_id: &str, id: &str) -> Result<Option<DatabaseFields>> {
        self.optional(
            "SELECT fields, key_fields FROM databases WHERE id = ? AND account_id = ?",
            params![id, account_id],
            |row| {
                Ok(DatabaseFields {
                    fields: serde_json::from_str(&row.text("fields")?)?,
                    key_fields: serde_json::from_str(&row.text("key_fields")?)?,
                })
            },
        )
    }

    async fn collection_fields(&mut self, account_id: &str, id: &str) -> Result<Option<(String, Schema)>> {
        self.optional(
            "SELECT database_id, fields FROM collections WHERE id = ? AND account_id = ?",
            params![id, account_id],
            |row| Ok((row.text("database_id")?, serde_json::from_str(&row.text("fields")?)?)),
        )
    }

    async fn profiles_by_key(
        &mut self,
        account_id: &str,
        database_id: &str,
        field: &str,
        values: &[String],
    ) -> Result<Vec<(String, Profile)>> {
        self.all(
            &format!(
                "SELECT {}, k.value AS key_value FROM profile_keys k JOIN profiles p ON p.id = k.profile_id \
                 WHERE k.database_id = ? AND k.field = ? AND k.account_id = ? \
                   AND k.value IN (SELECT value FROM json_each(?)) ORDER BY p.id",
                rows::prefixed("p", rows::PROFILE_COLUMNS, "")
            ),
            params![database_id, field, account_id, json(values)?],
            |row| Ok((row.text("key_value")?, rows::profile(row)?)),
        )
    }

    async fn profiles_after(
        &mut self,
        account_id: &str,
        database_id: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<Profile>> {
        self.all(
            &format!(
                "SELECT {} FROM profiles WHERE database_id = ? AND account_id = ? AND id > ? ORDER BY id LIMIT ?",
                rows::PROFILE_COLUMNS
            ),
            params![database_id, account_id, after, limit],
            |row| rows::profile(row),
        )
    }

    async fn set_key_fields(&mut self, account_id: &str, database_id: &str, fields: &[String]) -> Result<()> {
        self.run(
            "UPDATE databases SET key_fields = ? WHERE id = ? AND account_id = ?",
            params![json(fields)?, database_id, account_id],
        )?;
        Ok(())
    }

    async fn savepoint(&mut self) -> Result<()> {
        self.batch("SAVEPOINT request")
    }

    async fn rollback_to_savepoint(&mut self) -> Result<()> {
        self.batch("ROLLBACK TO request")
    }

    async fn release_savepoint(&mut self) -> Result<()> {
        self.batch("RELEASE request")
    }

    async fn insert_events(&mut self, events: &[EventRow]) -> Result<()> {
        self.each_run(
            events,
            (
                "INSERT INTO events (id, account_id, type, body, created_at, profile_id, trace_parent)",
                7,
                "",
            ),
            |b, e| {
                b.add(key(&e.id))?
                    .add(&e.account_id)?
                    .add(&e.event_type)?
                    .add(e.body.as_ref())?
                    .add(ms(e.created_at))?
                    .add(&e.profile_id)?
                    .add(&e.trace_parent)?;
                Ok(())
            },
        )?;
        Ok(())
    }

    async fn insert_deliveries(&mut self, deliveries: &[DeliveryRow]) -> Result<()> {
        self.each_run(
            deliveries,
            (
                "INSERT INTO deliveries (id, event_id, webhook_id, status, next_attempt_at, created_at, lease_until, \
                 ordering_key)",
                8,
                "",
            ),
            |b, d| {
                b.add(key(&d.id))?
                    .add(key(&d.event_id))?
                    .add(key(&d.webhook_id))?
                    .add("pending")?
                    .add(ms(d.due_at))?
                    .add(ms(d.due_at))?
                    .add(d.leased_until.map(ms))?
                    .add(&d.ordering_key)?;
                Ok(())
            },
        )?;
        Ok(())
    }

    async fn save_profiles(&mut self, profiles: &[&Profile]) -> Result<()> {
        self.each_run(
            profiles,
            (
                "INSERT INTO profiles (id, account_id, database_id, fields, interests, sequence, created_at, modified_at)",
                8,
                "ON CONFLICT (id) DO UPDATE SET fields = excluded.fields, interests = excluded.interests, \
                 sequence = excluded.sequence, modified_at = excluded.modified_at",
            ),
            |b, p| {
                b.add(&p.id)?
                    .add(&p.account_id)?
                    .add(&p.database_id)?
                    .add(json(&p.state.values)?)?
                    .add(json(&p.state.interests)?)?
                    .add(p.sequence as i64)?
                    .add(ms(p.created_at))?
                    .add(ms(p.modified_at))?;
                Ok(())
            },
        )?;
        Ok(())
    }

    async fn delete_profiles(&mut self, account_id: &str, ids: &[&str]) -> Result<()> {
        self.run(
            "DELETE FROM profiles WHERE account_id = ? AND id IN (SELECT value FROM json_each(?))",
            params![account_id, json(ids)?],
        )?;
        Ok(())
    }

    async fn save_subprofiles(&mut self, subprofiles: &[&Subprofile]) -> Result<()> {
        self.each_run(
            subprofiles,
            (
                "INSERT INTO subprofiles (id, account_id, profile_id, database_id, collection_id, fields, sequence, \
                 created_at, modified_at)",
                9,
                "ON CONFLICT (id) DO UPDATE SET fields = excluded.fields, sequence = excluded.sequence, \
                 modified_at = excluded.modified_at",
            ),
            |b, s| {
                b.add(&s.id)?
                    .add(&s.account_id)?
                    .add(&s.profile_id)?
                    .add(&s.database_id)?
                    .add(&s.collection_id)?
                    .add(json(&s.values)?)?
                    .add(s.sequence as i64)?
                    .add(ms(s.created_at))?
                    .add(ms(s.modified_at))?;
                Ok(())
            },
        )?;
        Ok(())
    }

    async fn delete_subprofiles(&mut self, account_id: &str, ids: &[&str]) -> Result<()> {
        self.run(
            "DELETE FROM subprofiles WHERE account_id = ? AND id IN (SELECT value FROM json_each(?))",
            params![account_id, json(ids)?],
        )?;
        Ok(())
    }

    async fn replace_profile_keys(&mut self, profile_ids: &[&str], keys: &[ProfileKeyRow]) -> Result<()> {
        if !profile_ids.is_empty() {
            self.run(
                "DELETE FROM profile_keys WHERE profile_id IN (SELECT value FROM json_each(?))",
                params![json(profile_ids)?],
            )?;
        }
        self.each_run(
            keys,
            (
                "INSERT INTO profile_keys (account_id, database_id, field, value, profile_id)",
                5,
                "ON CONFLICT DO NOTHING",
            ),
            |b, k| {
                b.add(&k.account_id)?
                    .add(&k.database_id)?
                    .add(&k.field)?
                    .add(&k.value)?
                    .add(&k.profile_id)?;
                Ok(())
            },
        )?;
        Ok(())
    }

    async fn insert_attempts(&mut self, attempts: &[(&str, &Attempt)]) -> Result<()> {
        self.each_run(
            attempts,
            (
                "INSERT INTO attempts (id, delivery_id, webhook_id, number, trigger, started_at, duration_ms, \
                 status_code, error_kind, error, response_body)",
                11,
                "",
            ),
            |b, (_, a)| {
                b.add(key(&a.id))?
                    .add(a.delivery_id.as_deref().map(key))?
                    .add(key(&a.webhook_id))?
                    .add(a.number)?
                    .add(a.trigger.as_str())?
                    .add(ms(a.started_at))?
                    .add(a.duration_ms as i64)?
                    .add(a.status_code)?
                    .add(&a.error_kind)?
                    .add(&a.error)?
                    .add(&a.response_body)?;
                Ok(())
            },
        )?;
        Ok(())
    }

    async fn update_deliveries(&mut self, updates: &[DeliveryUpdate]) -> Result<Vec<String>> {
        // Bound values, not a JSON list: extracting each field from JSON cost twice the
        // update itself.
        let updated = self.each_run(
            updates,
            (
                "WITH u(id, status, attempts, next, code, delivered, ended) AS (",
                7,
                ") UPDATE deliveries SET status = u.status, attempts = u.attempts, next_attempt_at = u.next, \
                 last_status_code = u.code, delivered_at = COALESCE(u.delivered, delivered_at), ended_at = u.ended, \
                 lease_until = NULL, next_trigger = 'scheduled' \
                 FROM u WHERE deliveries.id = u.id",
            ),
            |b, u| {
                b.add(key(&u.id))?
                    .add(u.status.as_str())?
                    .add(u.attempts)?
                    .add(u.next_attempt_at.map(ms))?
                    .add(u.last_status_code)?
                    .add(u.delivered_at.map(ms))?
                    .add(u.ended_at.map(ms))?;
                Ok(())
            },
        )?;
        // The count says whether any delivery is missing (erased while out on a call);
        // only then are the stored ones looked up.
        if updated == updates.len() {
            return Ok(updates.iter().map(|u| u.id.clone()).collect());
        }
        let ids: Vec<&str> = updates.iter().map(|u| u.id.as_str()).collect();
        self.all(
            "SELECT id FROM deliveries WHERE id IN (SELECT unhex(value) FROM json_each(?))",
            params![keys(&ids)?],
            |row| row.text("id"),
        )
    }

    async fn release(&mut self, delivery_ids: &[String]) -> Result<()> {
        self.run(
            "UPDATE deliveries SET lease_until = NULL WHERE id IN (SELECT unhex(value) FROM json_each(?))",
            params![keys(delivery_ids)?],
        )?;
        Ok(())
    }

    async fn deliveries_to_retry(
        &mut self,
        account_id: &str,
        selection: &RetrySelection,
        now: DateTime<Utc>,
    ) -> Result<Vec<RetryCandidate>> {
        let candidate = |row: &rusqlite::Row| {
            Ok(RetryCandidate {
                id: row.text("id")?,
                webhook_id: row.text("webhook_id")?,
                status: rows::delivery_status(row)?,
                ended_at: rows::opt_time(row.opt_int("ended_at")?),
            })
        };
        match selection {
            RetrySelection::Delivery(id) => self.all(
                "SELECT id, webhook_id, status, ended_at FROM deliveries \
                 WHERE id = ? \
                   AND EXISTS (SELECT 1 FROM webhooks o WHERE o.id = deliveries.webhook_id AND o.account_id = ?)",
                params![key(id), account_id],
                candidate,
            ),
            RetrySelection::Webhook {
                webhook_id,
                since,
                until,
            } => self.all(
                "SELECT id, webhook_id, status, ended_at FROM deliveries \
                 WHERE webhook_id = ?1 AND EXISTS (SELECT 1 FROM webhooks o WHERE o.id = ?1 AND o.account_id = ?2) \
                   AND created_at >= ?3 AND created_at <= ?4 \
                   AND (status = 'failed' OR (status = 'pending' AND attempts > 0 \
                        AND (lease_until IS NULL OR lease_until <= ?5)))",
                params![key(webhook_id), account_id, ms(*since), ms(*until), ms(now)],
                candidate,
            ),
            RetrySelection::Replay { webhook_id, ids } => self.all(
                "SELECT id, webhook_id, status, ended_at FROM deliveries \
                 WHERE id IN (SELECT unhex(value) FROM json_each(?1)) AND webhook_id = ?2 \
                   AND EXISTS (SELECT 1 FROM webhooks o WHERE o.id = ?2 AND o.account_id = ?3) \
                   AND (lease_until IS NULL OR lease_until <= ?4)",
                params![json(&crate::keys::hex_keys(ids))?, key(webhook_id), account_id, ms(now)],
                candidate,
            ),
        }
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
            Some((at, id)) => (Some(ms(*at)), Some(id.as_str())),
            None => (None, None),
        };
        let moved = self.run(
            "UPDATE replay_jobs SET phase = ?, cursor_at = ?, cursor_id = ?, done = done + ?, \
             status = CASE WHEN ? THEN 'done' ELSE status END, updated_at = ? \
             WHERE id = ? AND status = 'running' AND phase = ? AND COALESCE(cursor_at, -1) = ? \
               AND COALESCE(cursor_id, '') = ?",
            params![
                to.phase.as_str(),
                to_at,
                to_id,
                i64::try_from(rows).unwrap_or(i64::MAX),
                last,
                ms(now),
                job_id,
                from.phase.as_str(),
                from_at,
                from_id
            ],
        )?;
        Ok(moved == 1)
    }

    async fn count_replayed(&mut self, job_id: &str, progress: ReplayProgress) -> Result<()> {
        self.run(
            "UPDATE replay_jobs SET resent = resent + ?, created = created + ? WHERE id = ?",
            params![
                i64::try_from(progress.resent).unwrap_or(i64::MAX),
                i64::try_from(progress.created).unwrap_or(i64::MAX),
                job_id
            ],
        )?;
        Ok(())
    }

    async fn retry_deliveries(&mut self, ids: &[&str], trigger: Trigger, now: DateTime<Utc>) -> Result<()> {
        self.run(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, next_trigger = ?, lease_until = NULL, \
             ended_at = NULL WHERE id IN (SELECT unhex(value) FROM json_each(?))",
            params![ms(now), trigger.as_str(), keys(ids)?],
        )?;
        Ok(())
    }

    async fn webhook_health(&mut self, ids: &[&str], _lock: bool) -> Result<Vec<WebhookHealth>> {
        self.all(
            "SELECT id, enabled, failing_since, disabled_reason FROM webhooks \
             WHERE id IN (SELECT unhex(value) FROM json_each(?)) ORDER BY id",
            params![keys(ids)?],
            |row| {
                Ok(WebhookHealth {
                    id: row.text("id")?,
                    enabled: row.flag("enabled")?,
                    failing_since: rows::opt_time(row.opt_int("failing_since")?),
                    disabled_reason: row.opt_text("disabled_reason")?,
                })
            },
        )
    }

    async fn save_webhook_health(&mut self, health: &[WebhookHealth]) -> Result<()> {
        let rows: Vec<serde_json::Value> = health
            .iter()
            .map(|h| {
                serde_json::json!({
                    "id": crate::keys::hex(&key(&h.id)),
                    "enabled": h.enabled,
                    "failing_since": h.failing_since.map(ms),
                    "reason": h.disabled_reason,
                })
            })
            .collect();
        self.run(
            "UPDATE webhooks SET enabled = j.value ->> 'enabled', failing_since = j.value ->> 'failing_since', \
             disabled_reason = j.value ->> 'reason' FROM json_each(?) AS j WHERE webhooks.id = unhex(j.value ->> 'id')",
            params![json(&rows)?],
        )?;
        Ok(())
    }

    async fn hour_stats(&mut self, keys: &[(&str, DateTime<Utc>)]) -> Result<Vec<HourStats>> {
        let keys: Vec<(String, i64)> = keys
            .iter()
            .map(|(id, hour)| (crate::keys::hex(&key(id)), ms(*hour)))
            .collect();
        self.all(
            &format!(
                "SELECT {} FROM webhook_stats \
                 WHERE (webhook_id, hour) IN (SELECT unhex(j.value ->> 0), j.value ->> 1 FROM json_each(?) j)",
                rows::HOUR_STATS_COLUMNS
            ),
            params![json(&keys)?],
            |row| rows::hour_stats(row),
        )
    }

    async fn save_hour_stats(&mut self, stats: &[HourStats]) -> Result<()> {
        self.each_run(
            stats,
            (
                &format!("INSERT INTO webhook_stats ({})", rows::HOUR_STATS_COLUMNS),
                9,
                "ON CONFLICT (webhook_id, hour) DO UPDATE SET delivered = excluded.delivered, \
                 failed = excluded.failed, skipped_unverified = excluded.skipped_unverified, \
                 condition_errors = excluded.condition_errors, held = excluded.held, attempts = excluded.attempts, \
                 latency = excluded.latency",
            ),
            |b, s| {
                b.add(key(&s.webhook_id))?
                    .add(ms(s.hour))?
                    .add(s.delivered as i64)?
                    .add(s.failed as i64)?
                    .add(s.skipped_unverified as i64)?
                    .add(s.condition_errors as i64)?
                    .add(s.held as i64)?
                    .add(s.attempts as i64)?
                    .add(json(&s.latency)?)?;
                Ok(())
            },
        )?;
        Ok(())
    }

    async fn due_deliveries(&mut self, request: &ClaimRequest, limit: u32) -> Result<Vec<DueDelivery>> {
        // The webhooks with pending deliveries, one index seek each (a loose scan of
        // `deliveries_pending`), then each one's due deliveries, at most its room: a
        // disabled webhook's held backlog costs one seek, never a read.
        self.all(
            "WITH RECURSIVE pending(webhook_id) AS ( \
               SELECT (SELECT MIN(webhook_id) FROM deliveries WHERE status = 'pending') \
               UNION ALL \
               SELECT (SELECT MIN(webhook_id) FROM deliveries WHERE status = 'pending' AND webhook_id > p.webhook_id) \
               FROM pending p WHERE p.webhook_id IS NOT NULL) \
             SELECT d.id, d.webhook_id FROM pending p JOIN webhooks w ON w.id = p.webhook_id \
             JOIN deliveries d ON d.id IN (SELECT x.id FROM deliveries x \
                 WHERE x.webhook_id = w.id AND x.status = 'pending' AND x.next_attempt_at <= ?1 \
                   AND (x.lease_until IS NULL OR x.lease_until <= ?1) \
                   AND (x.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries o \
                        WHERE o.webhook_id = x.webhook_id AND o.ordering_key = x.ordering_key \
                          AND o.status = 'pending' AND o.id < x.id)) \
                 ORDER BY x.next_attempt_at LIMIT ?6) \
             WHERE w.enabled = 1 \
               AND (?5 = 0 OR w.verification ->> '$.status' = 'verified') \
               AND (w.paused_until IS NULL OR w.paused_until <= ?1) \
               AND COALESCE(?3 ->> ('$.\"' || hex(w.id) || '\"'), ?4) > 0 \
             ORDER BY d.next_attempt_at LIMIT ?2",
            params![
                ms(request.now),
                limit,
                json(
                    &request
                        .room
                        .iter()
                        .map(|(id, room)| (crate::keys::hex(&key(id)), *room))
                        .collect::<HashMap<_, _>>()
                )?,
                request.room_default,
                request.require_verification,
                request.largest_room()
            ],
            |row| {
                Ok(DueDelivery {
                    id: row.text("id")?,
                    webhook_id: row.text("webhook_id")?,
                })
            },
        )
    }

    async fn lease(&mut self, ids: &[&str], _now: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<ClaimedDelivery>> {
        // The writer is SQLite's only writer: nothing leased them since they were read.
        let ids = keys(ids)?;
        self.run(
            "UPDATE deliveries SET lease_until = ? WHERE id IN (SELECT unhex(value) FROM json_each(?))",
            params![ms(until), ids],
        )?;
        self.all(
            "SELECT d.id, d.event_id, d.webhook_id, e.account_id, d.attempts, d.next_trigger, d.next_attempt_at, \
               d.ordering_key, e.type, e.body, e.created_at, e.trace_parent \
             FROM deliveries d JOIN events e ON e.id = d.event_id \
             WHERE d.id IN (SELECT unhex(value) FROM json_each(?)) ORDER BY d.next_attempt_at",
            params![ids],
            |row| {
                let (event_id, event_type) = (row.text("event_id")?, row.text("type")?);
                Ok(ClaimedDelivery {
                    delivery_id: row.text("id")?,
                    webhook_id: row.text("webhook_id")?,
                    account_id: row.text("account_id")?,
                    attempts: row.int("attempts")? as u32,
                    trigger: rows::trigger(row, "next_trigger")?,
                    body: rows::receiver_body(row, &event_id, &event_type)?,
                    event_id,
                    event_type,
                    due_at: rows::time(row.int("next_attempt_at")?),
                    ordering_key: row.opt_text("ordering_key")?,
                    trace_parent: row.opt_text("trace_parent")?.as_deref().and_then(TraceParent::parse),
                })
            },
        )
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.batch("COMMIT")?;
        // Full means a checkpoint is already on its way.
        let _ = self.committed.try_send(());
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        match self.batch("ROLLBACK") {
            Ok(()) => Ok(()),
            // SQLite may have rolled back already (a full disk, an I/O error).
            Err(e) if e.to_string().contains("no transaction is active") => {
                tracing::debug!(error = %e, "the transaction was already rolled back");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}
