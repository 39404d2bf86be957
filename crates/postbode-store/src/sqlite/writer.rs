//! The single writer of the hot path, and how it commits in groups.
//!
//! SQLite has one writer at a time and every commit costs an fsync (WAL with
//! `synchronous=FULL`). So ingests, claims, attempt results and releases are not written
//! by their callers: they are sent here as [`WriteOp`]s. The writer takes whatever has
//! queued up (at most [`MAX_GROUP`] ops), applies it in ONE transaction, commits, and
//! only then answers each caller. Under load many requests share one fsync; when idle a
//! lone request commits at once. Rows of a group are inserted with multi-row statements.
//!
//! An op that breaks a rule (an idempotency conflict) is refused before it stages any
//! row, so it never spoils the others in its group.

use chrono::{DateTime, Utc};
use postbode_core::condition::{Condition, ConditionError};
use postbode_core::latency::LatencyHistogram;
use postbode_core::mail::MailEvent;
use postbode_core::webhook::{Webhook, WebhookSettings};
use sqlx::{Connection, QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{Notify, mpsc, oneshot};

use super::profiles;
use super::rows::{self, ms};
use crate::model::*;
use crate::{Result, StoreError};

/// Enough to amortise a commit, small enough that one group's latency stays low.
pub const MAX_GROUP: usize = 2048;
/// Rows per multi-row INSERT; keeps the statement under SQLite's variable limit.
const ROWS_PER_INSERT: usize = 1000;
const HOUR_MS: i64 = 3_600_000;

pub enum WriteOp {
    Ingest {
        account_id: String,
        events: Vec<NewEvent>,
        now: DateTime<Utc>,
        require_verification: bool,
        reply: oneshot::Sender<Result<Vec<Ingested>>>,
    },
    Claim {
        request: ClaimRequest,
        reply: oneshot::Sender<Result<Claim>>,
    },
    Record {
        result: Box<AttemptResult>,
        reply: oneshot::Sender<Result<()>>,
    },
    Release {
        delivery_ids: Vec<String>,
        reply: oneshot::Sender<Result<()>>,
    },
    Change {
        request: ChangeRequest,
        reply: oneshot::Sender<Result<Vec<ChangeOutcome>>>,
    },
    /// A mail event of a message (an open or a click), enriched here: the messages of a
    /// group are read in one query, inside the transaction that stores their events.
    Track {
        message_id: String,
        event: MailEvent,
        now: DateTime<Utc>,
        require_verification: bool,
        reply: oneshot::Sender<Result<Option<Ingested>>>,
    },
}

/// An answer held back until the group has committed.
enum Reply {
    Ingest(oneshot::Sender<Result<Vec<Ingested>>>, Vec<Ingested>),
    Claim(oneshot::Sender<Result<Claim>>, Claim),
    Change(oneshot::Sender<Result<Vec<ChangeOutcome>>>, Vec<ChangeOutcome>),
    Track(oneshot::Sender<Result<Option<Ingested>>>, Option<Ingested>),
    Done(oneshot::Sender<Result<()>>),
}

impl Reply {
    fn send(self, failure: Option<&str>) {
        let fail = |msg: &str| StoreError::Commit(msg.to_owned());
        // A caller that went away no longer needs its answer.
        match self {
            Reply::Ingest(tx, v) => drop(tx.send(failure.map_or(Ok(v), |m| Err(fail(m))))),
            Reply::Claim(tx, v) => drop(tx.send(failure.map_or(Ok(v), |m| Err(fail(m))))),
            Reply::Change(tx, v) => drop(tx.send(failure.map_or(Ok(v), |m| Err(fail(m))))),
            Reply::Track(tx, v) => drop(tx.send(failure.map_or(Ok(v), |m| Err(fail(m))))),
            Reply::Done(tx) => drop(tx.send(failure.map_or(Ok(()), |m| Err(fail(m))))),
        }
    }
}

pub async fn run(mut conn: SqliteConnection, mut ops: mpsc::Receiver<WriteOp>, work: Arc<Notify>) {
    let mut batch = Vec::with_capacity(MAX_GROUP);
    while ops.recv_many(&mut batch, MAX_GROUP).await > 0 {
        let started = std::time::Instant::now();
        let size = batch.len();
        let made_work = commit_group(&mut conn, &mut batch).await;
        tracing::debug!(
            ops = size,
            micros = started.elapsed().as_micros() as u64,
            "write group committed"
        );
        if made_work {
            work.notify_one();
        }
    }
    // Every sender is gone: the store was dropped. Close the connection cleanly so the
    // WAL is checkpointed.
    if let Err(e) = conn.close().await {
        tracing::warn!(error = %e, "closing the writer connection");
    }
}

/// Applies and commits one group; returns whether it made deliveries due.
async fn commit_group(conn: &mut SqliteConnection, ops: &mut Vec<WriteOp>) -> bool {
    let mut group = Group::default();
    let mut replies = Vec::new();
    if let Err(e) = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
        let message = e.to_string();
        for op in ops.drain(..) {
            op.fail(&message);
        }
        return false;
    }
    let tracked: Vec<String> = ops
        .iter()
        .filter_map(|op| match op {
            WriteOp::Track { message_id, .. } => Some(message_id.clone()),
            _ => None,
        })
        .collect();
    let mut messages = match tracked.is_empty() {
        true => Ok(HashMap::new()),
        false => {
            let ids: Vec<&str> = tracked.iter().map(String::as_str).collect();
            profiles::message_contexts(conn, &ids).await
        }
    };
    for op in ops.drain(..) {
        if let Some(why) = &group.broken {
            op.fail(why);
            continue;
        }
        match op {
            WriteOp::Ingest {
                account_id,
                events,
                now,
                require_verification,
                reply,
            } => match group.ingest(conn, &account_id, events, now, require_verification).await {
                Ok(outcome) => replies.push(Reply::Ingest(reply, outcome)),
                Err(e) => drop(reply.send(Err(e))),
            },
            WriteOp::Claim { request, reply } => {
                let claimed = match group.flush(conn).await {
                    Ok(()) => claim(conn, request).await,
                    Err(e) => Err(e),
                };
                match claimed {
                    Ok(claim) => replies.push(Reply::Claim(reply, claim)),
                    Err(e) => drop(reply.send(Err(e))),
                }
            }
            WriteOp::Change { request, reply } => {
                match group.change(conn, request).await {
                    Ok(outcome) => replies.push(Reply::Change(reply, outcome)),
                    Err(e) => drop(reply.send(Err(e))),
                }
                // The opens after this change show the profiles as it left them.
                if !tracked.is_empty() && group.broken.is_none() {
                    let ids: Vec<&str> = tracked.iter().map(String::as_str).collect();
                    messages = profiles::message_contexts(conn, &ids).await;
                }
            }
            WriteOp::Track {
                message_id,
                event,
                now,
                require_verification,
                reply,
            } => {
                // Not removed: one message may be opened several times in one group.
                let context = match &messages {
                    Ok(found) => found.get(&message_id),
                    Err(e) => {
                        drop(reply.send(Err(StoreError::Commit(e.to_string()))));
                        continue;
                    }
                };
                let Some(context) = context else {
                    replies.push(Reply::Track(reply, None));
                    continue;
                };
                let account_id = context.message.account_id.clone();
                match group.webhooks_of(conn, &account_id).await {
                    Ok(()) => {
                        let ingested =
                            group.stage_routed(&account_id, context.event(&event, now), require_verification);
                        replies.push(Reply::Track(reply, Some(ingested)));
                    }
                    Err(e) => drop(reply.send(Err(e))),
                }
            }
            WriteOp::Record { result, reply } => {
                group.record(*result);
                replies.push(Reply::Done(reply));
            }
            WriteOp::Release { delivery_ids, reply } => {
                group.released.extend(delivery_ids);
                replies.push(Reply::Done(reply));
            }
        }
    }
    let made_work = group.makes_work();
    let flushed = match group.broken.take() {
        Some(why) => Err(StoreError::Commit(why)),
        None => group.flush(conn).await,
    };
    let committed = match flushed {
        Ok(()) => sqlx::query("COMMIT")
            .execute(&mut *conn)
            .await
            .map(drop)
            .map_err(StoreError::from),
        Err(e) => Err(e),
    };
    match committed {
        Ok(()) => {
            for reply in replies {
                reply.send(None);
            }
            made_work
        }
        Err(e) => {
            tracing::error!(error = %e, "a write group failed and was rolled back");
            if let Err(rollback) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
                tracing::error!(error = %rollback, "rollback failed");
            }
            let message = e.to_string();
            for reply in replies {
                reply.send(Some(&message));
            }
            false
        }
    }
}

impl WriteOp {
    fn fail(self, message: &str) {
        let error = || StoreError::Commit(message.to_owned());
        match self {
            WriteOp::Ingest { reply, .. } => drop(reply.send(Err(error()))),
            WriteOp::Claim { reply, .. } => drop(reply.send(Err(error()))),
            WriteOp::Change { reply, .. } => drop(reply.send(Err(error()))),
            WriteOp::Track { reply, .. } => drop(reply.send(Err(error()))),
            WriteOp::Record { reply, .. } | WriteOp::Release { delivery_ids: _, reply } => {
                drop(reply.send(Err(error())))
            }
        }
    }
}

enum Skip {
    Unverified,
    ConditionError,
}

struct StagedEvent {
    id: String,
    account_id: String,
    event_type: String,
    body: Vec<u8>,
    created_at: i64,
}

struct StagedDelivery {
    id: String,
    account_id: String,
    event_id: String,
    webhook_id: String,
    due_at: i64,
}

struct StagedKey {
    account_id: String,
    key: String,
    request_hash: Vec<u8>,
    event_id: String,
    deliveries: u32,
    expires_at: i64,
}

/// Rows and changes staged by the ops of one group, written by [`Group::flush`].
#[derive(Default)]
pub(super) struct Group {
    /// The enabled webhooks of each account seen in this group. Webhooks cannot change
    /// under the group: it holds SQLite's write lock.
    webhooks: HashMap<String, Vec<EnabledWebhook>>,
    /// Per webhook and hour: events wanted by an unverified webhook, and events its
    /// condition could not be evaluated for.
    skipped: HashMap<(String, i64), (i64, i64)>,
    events: Vec<StagedEvent>,
    deliveries: Vec<StagedDelivery>,
    keys: Vec<StagedKey>,
    results: Vec<AttemptResult>,
    released: Vec<String>,
    made_due: bool,
    /// Why the transaction is lost (SQLite rolled it back on an error): nothing more of
    /// the group is written, and every op in it fails.
    pub(super) broken: Option<String>,
}

impl Group {
    fn makes_work(&self) -> bool {
        self.made_due || !self.deliveries.is_empty() || !self.released.is_empty()
    }

    async fn ingest(
        &mut self,
        conn: &mut SqliteConnection,
        account_id: &str,
        events: Vec<NewEvent>,
        now: DateTime<Utc>,
        require_verification: bool,
    ) -> Result<Vec<Ingested>> {
        self.webhooks_of(conn, account_id).await?;
        let webhooks = self.webhooks.get(account_id).map(Vec::as_slice).unwrap_or_default();
        let mut outcomes = Vec::with_capacity(events.len());
        let (mut events_out, mut deliveries_out, mut keys_out) = (Vec::new(), Vec::new(), Vec::<StagedKey>::new());
        let mut skipped = Vec::new();
        for event in events {
            if let Some(key) = &event.idempotency {
                let earlier = match keys_out
                    .iter()
                    .chain(self.keys.iter())
                    .find(|k| k.account_id == account_id && k.key == key.key)
                {
                    Some(k) => Some((k.request_hash.clone(), k.event_id.clone(), k.deliveries)),
                    None => stored_key(conn, account_id, &key.key, now).await?,
                };
                if let Some((hash, event_id, deliveries)) = earlier {
                    if hash != key.request_hash {
                        return Err(StoreError::IdempotencyConflict { key: key.key.clone() });
                    }
                    outcomes.push(Ingested {
                        event_id,
                        deliveries,
                        duplicate: true,
                    });
                    continue;
                }
            }
            let created_at = ms(event.created_at);
            let count = route(
                webhooks,
                &event,
                account_id,
                require_verification,
                &mut deliveries_out,
                &mut skipped,
            );
            if let Some(key) = event.idempotency {
                keys_out.push(StagedKey {
                    account_id: account_id.to_owned(),
                    key: key.key,
                    request_hash: key.request_hash,
                    event_id: event.id.clone(),
                    deliveries: count,
                    expires_at: ms(key.expires_at),
                });
            }
            outcomes.push(Ingested {
                event_id: event.id.clone(),
                deliveries: count,
                duplicate: false,
            });
            events_out.push(StagedEvent {
                id: event.id,
                account_id: account_id.to_owned(),
                event_type: event.event_type,
                body: event.body,
                created_at,
            });
        }
        self.events.append(&mut events_out);
        self.deliveries.append(&mut deliveries_out);
        self.keys.append(&mut keys_out);
        self.count_skips(skipped);
        Ok(outcomes)
    }

    fn count_skips(&mut self, skipped: Vec<((String, i64), Skip)>) {
        for (key, why) in skipped {
            let counts = self.skipped.entry(key).or_default();
            match why {
                Skip::Unverified => counts.0 += 1,
                Skip::ConditionError => counts.1 += 1,
            }
        }
    }

    /// The enabled webhooks of an account, read once per group.
    pub(super) async fn webhooks_of(&mut self, conn: &mut SqliteConnection, account_id: &str) -> Result<()> {
        if !self.webhooks.contains_key(account_id) {
            let listed = enabled_webhooks(conn, account_id).await?;
            self.webhooks.insert(account_id.to_owned(), listed);
        }
        Ok(())
    }

    /// Stages an event made inside the writer (a profile change) with its deliveries,
    /// once [`Group::webhooks_of`] has read the account's webhooks.
    pub(super) fn stage_routed(&mut self, account_id: &str, event: NewEvent, require_verification: bool) -> Ingested {
        let webhooks = self.webhooks.get(account_id).map(Vec::as_slice).unwrap_or_default();
        let (mut deliveries, mut skipped) = (Vec::new(), Vec::new());
        let count = route(
            webhooks,
            &event,
            account_id,
            require_verification,
            &mut deliveries,
            &mut skipped,
        );
        self.deliveries.append(&mut deliveries);
        self.count_skips(skipped);
        let ingested = Ingested {
            event_id: event.id.clone(),
            deliveries: count,
            duplicate: false,
        };
        self.events.push(StagedEvent {
            id: event.id,
            account_id: account_id.to_owned(),
            event_type: event.event_type,
            body: event.body,
            created_at: ms(event.created_at),
        });
        ingested
    }

    fn record(&mut self, result: AttemptResult) {
        if matches!(result.outcome, AttemptOutcome::RetryAt(_)) {
            self.made_due = true;
        }
        self.results.push(result);
    }

    /// Writes everything staged so far (inside the open transaction).
    async fn flush(&mut self, conn: &mut SqliteConnection) -> Result<()> {
        for chunk in self.events.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO events (id, account_id, type, body, created_at) ");
            q.push_values(chunk, |mut row, e| {
                row.push_bind(&e.id)
                    .push_bind(&e.account_id)
                    .push_bind(&e.event_type)
                    .push_bind(&e.body)
                    .push_bind(e.created_at);
            });
            q.build().execute(&mut *conn).await?;
        }
        self.events.clear();
        for chunk in self.deliveries.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO deliveries (id, account_id, event_id, webhook_id, status, next_attempt_at, created_at) ",
            );
            q.push_values(chunk, |mut row, d| {
                row.push_bind(&d.id)
                    .push_bind(&d.account_id)
                    .push_bind(&d.event_id)
                    .push_bind(&d.webhook_id)
                    .push_bind("pending")
                    .push_bind(d.due_at)
                    .push_bind(d.due_at);
            });
            q.build().execute(&mut *conn).await?;
        }
        if !self.deliveries.is_empty() {
            self.made_due = true;
        }
        self.deliveries.clear();
        for key in self.keys.drain(..) {
            sqlx::query(
                "INSERT INTO idempotency_keys (account_id, key, request_hash, event_id, deliveries, expires_at) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, key) DO UPDATE SET \
                 request_hash = excluded.request_hash, event_id = excluded.event_id, \
                 deliveries = excluded.deliveries, expires_at = excluded.expires_at",
            )
            .bind(key.account_id)
            .bind(key.key)
            .bind(key.request_hash)
            .bind(key.event_id)
            .bind(key.deliveries)
            .bind(key.expires_at)
            .execute(&mut *conn)
            .await?;
        }
        if !self.results.is_empty() {
            let results = std::mem::take(&mut self.results);
            write_results(conn, &results).await?;
        }
        for ((webhook_id, hour), (unverified, condition_errors)) in self.skipped.drain() {
            sqlx::query(
                "INSERT INTO webhook_stats (webhook_id, hour, skipped_unverified, condition_errors) \
                 VALUES (?, ?, ?, ?) ON CONFLICT (webhook_id, hour) DO UPDATE SET \
                 skipped_unverified = skipped_unverified + excluded.skipped_unverified, \
                 condition_errors = condition_errors + excluded.condition_errors",
            )
            .bind(webhook_id)
            .bind(hour)
            .bind(unverified)
            .bind(condition_errors)
            .execute(&mut *conn)
            .await?;
        }
        if !self.released.is_empty() {
            let ids = serde_json::to_string(&std::mem::take(&mut self.released))?;
            sqlx::query("UPDATE deliveries SET lease_until = NULL WHERE id IN (SELECT value FROM json_each(?))")
                .bind(ids)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

struct EnabledWebhook {
    id: String,
    settings: WebhookSettings,
    verified: bool,
    /// Compiled once per group; `Err` (a condition stored by an older version that no
    /// longer compiles) counts as an evaluation error for every event.
    condition: Option<Result<Condition, ConditionError>>,
}

impl EnabledWebhook {
    /// Whether the webhook's condition holds for an event; `Err` when it cannot be
    /// evaluated, which skips the webhook for this event and is counted.
    fn accepts(&self, event: &NewEvent) -> Result<bool, ConditionError> {
        let Some(condition) = &self.condition else {
            return Ok(true);
        };
        let condition = condition.as_ref().map_err(Clone::clone)?;
        condition.evaluate(&event.scope.condition_context(&event.event_type))
    }
}

/// Stages one delivery per webhook that wants the event (type, scope, sources,
/// verification, condition); returns how many.
fn route(
    webhooks: &[EnabledWebhook],
    event: &NewEvent,
    account_id: &str,
    require_verification: bool,
    deliveries: &mut Vec<StagedDelivery>,
    skipped: &mut Vec<((String, i64), Skip)>,
) -> u32 {
    let created_at = ms(event.created_at);
    let hour = created_at - created_at.rem_euclid(HOUR_MS);
    let mut count = 0;
    for webhook in webhooks {
        if !webhook.settings.wants(&event.event_type) || !webhook.settings.in_scope(&event.scope) {
            continue;
        }
        if require_verification && !webhook.verified {
            skipped.push(((webhook.id.clone(), hour), Skip::Unverified));
            continue;
        }
        match webhook.accepts(event) {
            Ok(false) => {}
            Err(e) => {
                tracing::debug!(webhook = %webhook.id, error = %e, "condition could not be evaluated");
                skipped.push(((webhook.id.clone(), hour), Skip::ConditionError));
            }
            Ok(true) => {
                count += 1;
                deliveries.push(StagedDelivery {
                    id: postbode_core::ids::new_id(postbode_core::ids::DELIVERY),
                    account_id: account_id.to_owned(),
                    event_id: event.id.clone(),
                    webhook_id: webhook.id.clone(),
                    due_at: created_at,
                });
            }
        }
    }
    count
}

async fn enabled_webhooks(conn: &mut SqliteConnection, account_id: &str) -> Result<Vec<EnabledWebhook>> {
    let rows = sqlx::query(
        "SELECT id, settings, verification ->> '$.status' = 'verified' AS verified \
         FROM webhooks WHERE account_id = ? AND enabled = 1",
    )
    .bind(account_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let settings: WebhookSettings = serde_json::from_str(row.try_get("settings")?)?;
            Ok(EnabledWebhook {
                id: row.try_get("id")?,
                condition: settings.condition.as_deref().map(Condition::compile),
                settings,
                verified: row.try_get("verified")?,
            })
        })
        .collect()
}

async fn stored_key(
    conn: &mut SqliteConnection,
    account_id: &str,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Option<(Vec<u8>, String, u32)>> {
    let row = sqlx::query(
        "SELECT request_hash, event_id, deliveries FROM idempotency_keys \
         WHERE account_id = ? AND key = ? AND expires_at > ?",
    )
    .bind(account_id)
    .bind(key)
    .bind(ms(now))
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| {
        Ok((
            row.try_get("request_hash")?,
            row.try_get("event_id")?,
            row.try_get::<i64, _>("deliveries")? as u32,
        ))
    })
    .transpose()
}

/// Leases due deliveries, oldest due first, keeping each webhook within its room.
async fn claim(conn: &mut SqliteConnection, request: ClaimRequest) -> Result<Claim> {
    let now = ms(request.now);
    // Webhooks already holding their room are skipped in SQL; the rest are filtered
    // here, reading a few times the limit so one busy webhook cannot fill the scan.
    let held = serde_json::to_string(&request.held)?;
    let candidates = sqlx::query(
        "SELECT d.id, d.webhook_id, CAST(w.settings ->> '$.max_concurrency' AS INTEGER) AS max_concurrency \
         FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id \
         WHERE d.status = 'pending' AND d.next_attempt_at <= ?1 \
           AND (d.lease_until IS NULL OR d.lease_until <= ?1) AND w.enabled = 1 \
           AND (?5 = 0 OR w.verification ->> '$.status' = 'verified') \
           AND COALESCE(?3 ->> ('$.' || d.webhook_id), 0) < ?4 * CAST(w.settings ->> '$.max_concurrency' AS INTEGER) \
         ORDER BY d.next_attempt_at LIMIT ?2",
    )
    .bind(now)
    .bind(i64::from(request.limit) * 4)
    .bind(held)
    .bind(request.room_factor)
    .bind(request.require_verification)
    .fetch_all(&mut *conn)
    .await?;
    let mut taken_per_webhook: HashMap<String, u32> = HashMap::new();
    let mut chosen = Vec::new();
    for row in &candidates {
        if chosen.len() >= request.limit as usize {
            break;
        }
        let webhook_id: String = row.try_get("webhook_id")?;
        let max_concurrency: i64 = row.try_get("max_concurrency")?;
        let room = request
            .room_factor
            .saturating_mul(max_concurrency.clamp(1, 1024) as u32);
        let held = request.held.get(&webhook_id).copied().unwrap_or(0);
        let taken = taken_per_webhook.entry(webhook_id).or_default();
        if held + *taken < room {
            *taken += 1;
            chosen.push(row.try_get::<String, _>("id")?);
        }
    }
    if chosen.is_empty() {
        return Ok(Claim::default());
    }
    let ids = serde_json::to_string(&chosen)?;
    sqlx::query("UPDATE deliveries SET lease_until = ? WHERE id IN (SELECT value FROM json_each(?))")
        .bind(ms(request.lease_until))
        .bind(&ids)
        .execute(&mut *conn)
        .await?;
    let rows = sqlx::query(
        "SELECT d.id, d.event_id, d.webhook_id, d.account_id, d.attempts, d.next_trigger, e.type, e.body \
         FROM deliveries d JOIN events e ON e.id = d.event_id \
         WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.next_attempt_at",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut deliveries = Vec::with_capacity(rows.len());
    for row in &rows {
        let trigger: String = row.try_get("next_trigger")?;
        deliveries.push(ClaimedDelivery {
            delivery_id: row.try_get("id")?,
            event_id: row.try_get("event_id")?,
            webhook_id: row.try_get("webhook_id")?,
            account_id: row.try_get("account_id")?,
            attempts: row.try_get::<i64, _>("attempts")? as u32,
            trigger: Trigger::parse(&trigger).unwrap_or(Trigger::Scheduled),
            event_type: row.try_get("type")?,
            body: row.try_get("body")?,
        });
    }
    let webhook_ids: Vec<&String> = taken_per_webhook.keys().collect();
    let rows = sqlx::query(&format!(
        "SELECT {} FROM webhooks WHERE id IN (SELECT value FROM json_each(?))",
        rows::WEBHOOK_COLUMNS
    ))
    .bind(serde_json::to_string(&webhook_ids)?)
    .fetch_all(&mut *conn)
    .await?;
    let webhooks = rows
        .iter()
        .map(|row| rows::webhook(row).map(|w| (w.id.clone(), w)))
        .collect::<Result<HashMap<String, Webhook>>>()?;
    Ok(Claim { deliveries, webhooks })
}

#[derive(serde::Serialize)]
struct DeliveryChange<'a> {
    id: &'a str,
    status: &'static str,
    attempts: u32,
    next: Option<i64>,
    code: Option<u16>,
    delivered: Option<i64>,
}

/// What a group's attempts did to one webhook.
#[derive(Default)]
struct WebhookChange {
    first_failure: Option<i64>,
    succeeded_last: bool,
    disable_threshold: i64,
    gone: Option<String>,
}

#[derive(Default)]
struct HourStats {
    delivered: i64,
    failed: i64,
    attempts: i64,
    latency: LatencyHistogram,
}

async fn write_results(conn: &mut SqliteConnection, results: &[AttemptResult]) -> Result<()> {
    for chunk in results.chunks(ROWS_PER_INSERT / 2) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO attempts (id, account_id, delivery_id, webhook_id, event_id, number, trigger, started_at, \
             duration_ms, status_code, error_kind, error, response_body) ",
        );
        q.push_values(chunk, |mut row, r| {
            let a = &r.attempt;
            row.push_bind(&a.id)
                .push_bind(&r.account_id)
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
        q.build().execute(&mut *conn).await?;
    }

    let mut changes = Vec::with_capacity(results.len());
    let mut webhooks: HashMap<&str, WebhookChange> = HashMap::new();
    let mut stats: HashMap<(&str, i64), HourStats> = HashMap::new();
    for r in results {
        let a = &r.attempt;
        // A test call is the user trying things out: it is logged, but it neither
        // counts in the statistics nor moves the webhook towards being disabled.
        if a.trigger == Trigger::Test {
            continue;
        }
        let started = ms(a.started_at);
        let hour = started - started.rem_euclid(HOUR_MS);
        let hour_stats = stats.entry((a.webhook_id.as_str(), hour)).or_default();
        hour_stats.attempts += 1;
        hour_stats.latency.record(a.duration_ms);
        let webhook = webhooks.entry(a.webhook_id.as_str()).or_default();
        if let Some(reason) = &r.disable_webhook {
            webhook.gone = Some(reason.clone());
        }
        webhook.disable_threshold = ms(r.disable_if_failing_since);
        if a.succeeded() {
            webhook.succeeded_last = true;
            webhook.first_failure = None;
        } else {
            webhook.succeeded_last = false;
            webhook.first_failure.get_or_insert(started);
        }
        let Some(delivery_id) = a.delivery_id.as_deref() else {
            continue;
        };
        let (status, next, delivered) = match &r.outcome {
            AttemptOutcome::Delivered => {
                hour_stats.delivered += 1;
                ("delivered", None, Some(started + a.duration_ms as i64))
            }
            AttemptOutcome::RetryAt(at) => ("pending", Some(ms(*at)), None),
            AttemptOutcome::Failed => {
                hour_stats.failed += 1;
                ("failed", None, None)
            }
        };
        changes.push(DeliveryChange {
            id: delivery_id,
            status,
            attempts: a.number,
            next,
            code: a.status_code,
            delivered,
        });
    }
    if !changes.is_empty() {
        sqlx::query(
            "UPDATE deliveries SET status = j.value ->> 'status', attempts = j.value ->> 'attempts', \
             next_attempt_at = j.value ->> 'next', last_status_code = j.value ->> 'code', \
             delivered_at = COALESCE(j.value ->> 'delivered', delivered_at), lease_until = NULL, \
             next_trigger = 'scheduled' \
             FROM json_each(?) AS j WHERE deliveries.id = j.value ->> 'id'",
        )
        .bind(serde_json::to_string(&changes)?)
        .execute(&mut *conn)
        .await?;
    }
    for (webhook_id, change) in webhooks {
        write_webhook_health(conn, webhook_id, change).await?;
    }
    for ((webhook_id, hour), add) in stats {
        add_hour_stats(conn, webhook_id, hour, add).await?;
    }
    Ok(())
}

/// Keeps `failing_since` (when the current run of failures began) and disables a
/// webhook that has failed for too long or that the receiver declared gone.
async fn write_webhook_health(conn: &mut SqliteConnection, webhook_id: &str, change: WebhookChange) -> Result<()> {
    if change.succeeded_last {
        sqlx::query("UPDATE webhooks SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL")
            .bind(webhook_id)
            .execute(&mut *conn)
            .await?;
    } else if let Some(first_failure) = change.first_failure {
        sqlx::query(
            "UPDATE webhooks SET failing_since = COALESCE(failing_since, ?2), \
               enabled = CASE WHEN COALESCE(failing_since, ?2) <= ?3 THEN 0 ELSE enabled END, \
               disabled_reason = CASE WHEN enabled = 1 AND COALESCE(failing_since, ?2) <= ?3 \
                 THEN 'every call has failed since ' || strftime('%Y-%m-%dT%H:%M:%SZ', COALESCE(failing_since, ?2) / 1000, 'unixepoch') \
                 ELSE disabled_reason END \
             WHERE id = ?1",
        )
        .bind(webhook_id)
        .bind(first_failure)
        .bind(change.disable_threshold)
        .execute(&mut *conn)
        .await?;
    }
    if let Some(reason) = change.gone {
        sqlx::query("UPDATE webhooks SET enabled = 0, disabled_reason = ? WHERE id = ? AND enabled = 1")
            .bind(reason)
            .bind(webhook_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn add_hour_stats(conn: &mut SqliteConnection, webhook_id: &str, hour: i64, add: HourStats) -> Result<()> {
    let stored: Option<String> =
        sqlx::query_scalar("SELECT latency FROM webhook_stats WHERE webhook_id = ? AND hour = ?")
            .bind(webhook_id)
            .bind(hour)
            .fetch_optional(&mut *conn)
            .await?;
    let mut latency = match stored {
        Some(text) => serde_json::from_str(&text)?,
        None => LatencyHistogram::default(),
    };
    latency.merge(&add.latency);
    sqlx::query(
        "INSERT INTO webhook_stats (webhook_id, hour, delivered, failed, attempts, latency) VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (webhook_id, hour) DO UPDATE SET delivered = delivered + excluded.delivered, \
         failed = failed + excluded.failed, attempts = attempts + excluded.attempts, latency = excluded.latency",
    )
    .bind(webhook_id)
    .bind(hour)
    .bind(add.delivered)
    .bind(add.failed)
    .bind(add.attempts)
    .bind(serde_json::to_string(&latency)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
