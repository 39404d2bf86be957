//! The interface a database backend implements: plain records ([`Records`]), and the
//! narrow set of reads and writes the rules make inside a write group ([`GroupTx`]).
//! Nothing here decides anything: which webhooks get an event, what a profile change
//! fires, when a webhook is disabled, all live in `rules`, written once above this.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use postbode_core::domain::Domain;
use postbode_core::latency::LatencyHistogram;
use postbode_core::page::{Page, PageRequest};
use postbode_core::profile::Schema;
use postbode_core::webhook::Webhook;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Notify;

use crate::Result;
use crate::model::*;
use crate::replay::*;
use crate::writer::WriterHandle;

/// Plain reads and writes of stored records, outside the write path's groups. Every
/// method that touches an account's data takes the account id and never touches another
/// account's rows: tenant isolation is a property of this interface, not of its callers.
#[async_trait]
pub trait Records: Send + Sync + 'static {
    // Accounts and their API keys.
    async fn create_account(&self, account: &Account, first_key: &ApiKey) -> Result<()>;
    async fn list_accounts(&self, page: &PageRequest) -> Result<Page<Account>>;
    async fn get_account(&self, id: &str) -> Result<Option<Account>>;
    async fn create_api_key(&self, key: &ApiKey) -> Result<()>;
    async fn delete_api_key(&self, account_id: &str, key_id: &str) -> Result<bool>;
    async fn find_api_key(&self, key_id: &str) -> Result<Option<ApiKey>>;
    /// The account's API keys as the operator lists them: never their hashes.
    async fn list_api_keys(&self, account_id: &str) -> Result<Vec<ApiKeyInfo>>;
    /// Records that the key was used at `at`.
    async fn touch_api_key(&self, key_id: &str, at: DateTime<Utc>) -> Result<()>;

    // The event-type catalogue: an account's custom types.
    /// Adds the type; `false` when the account already has one of that name.
    async fn create_event_type(&self, event_type: &EventTypeRecord) -> Result<bool>;
    /// The account's types, by name.
    async fn list_event_types(&self, account_id: &str) -> Result<Vec<EventTypeRecord>>;
    async fn get_event_type(&self, account_id: &str, name: &str) -> Result<Option<EventTypeRecord>>;
    /// Replaces the type's description, schema, example and archived flag; `false` when
    /// there is no such type.
    async fn update_event_type(&self, event_type: &EventTypeRecord) -> Result<bool>;
    /// Deletes the type, or archives it when events of it exist (they keep a meaning);
    /// `None` when there is no such type.
    async fn remove_event_type(&self, account_id: &str, name: &str, at: DateTime<Utc>) -> Result<Option<Removal>>;

    // Dashboard sessions, found by the SHA-256 of their id.
    async fn create_session(&self, session: &DashboardSession) -> Result<()>;
    /// The session with this id hash, unless it has expired at `now`, with its account
    /// (a page load's one look-up).
    async fn find_session(
        &self,
        id_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<(DashboardSession, Option<Account>)>>;
    /// Ends the session; false when there is none.
    async fn delete_session(&self, id_hash: &[u8]) -> Result<bool>;
    /// Deletes the sessions expired at `now`; returns how many.
    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64>;

    // Webhooks.
    async fn create_webhook(&self, webhook: &Webhook) -> Result<()>;
    async fn get_webhook(&self, account_id: &str, id: &str) -> Result<Option<Webhook>>;
    /// The account's webhooks, only those limited to the filter's database or collection
    /// when it names one.
    async fn list_webhooks(
        &self,
        account_id: &str,
        filter: &WebhookFilter,
        page: &PageRequest,
    ) -> Result<Page<Webhook>>;
    /// Replaces the stored webhook with the same id and account; false when there is none.
    /// An enabled webhook's waiting deliveries may go now: the engines are told.
    async fn update_webhook(&self, webhook: &Webhook) -> Result<bool>;
    async fn delete_webhook(&self, account_id: &str, id: &str) -> Result<bool>;
    /// Holds the webhook's calls back until the given time, for the reason given (the
    /// engine's circuit breaker); `None` lets them go again. Claims on every node skip a
    /// paused webhook.
    async fn pause_webhook(&self, id: &str, pause: Option<(DateTime<Utc>, String)>) -> Result<()>;

    // Events and deliveries.
    async fn get_event(&self, account_id: &str, id: &str) -> Result<Option<(EventRecord, Vec<Delivery>)>>;
    async fn get_delivery(&self, account_id: &str, id: &str) -> Result<Option<Delivery>>;
    /// A webhook's deliveries, newest first, filtered by status, event type, creation time and
    /// an id or idempotency key, paged towards older or newer ones.
    async fn list_deliveries(&self, account_id: &str, query: &DeliveryQuery) -> Result<Page<Delivery>>;
    /// How many deliveries the query selects (its paging aside), and whether that is
    /// all of them: the count reads at most `cap` deliveries, the webhook's newest in the
    /// time range (a search: at most `cap` matches), so a filter over millions costs what
    /// one over `cap` does. `false`: the count is of the newest `cap` only.
    async fn count_deliveries(&self, account_id: &str, query: &DeliveryQuery, cap: u64) -> Result<(u64, bool)>;
    /// The type of each of these events (those that exist), by id.
    async fn event_types(&self, account_id: &str, event_ids: &[&str]) -> Result<HashMap<String, String>>;
    /// The newest attempt of each of these deliveries (those with one).
    async fn latest_delivery_attempts(
        &self,
        account_id: &str,
        delivery_ids: &[&str],
    ) -> Result<HashMap<String, Attempt>>;

    // Postbode's signing keys.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;
    /// Adds new keys and reschedules existing ones (by id), in one transaction, if the
    /// stored keys are still exactly `seen` (the ids the change was decided from); else
    /// changes nothing and answers false: another node rotated meanwhile, and the caller
    /// decides again from what is stored now. So two nodes rotating at once cannot both
    /// add a key.
    async fn save_signing_keys(
        &self,
        new: &[SigningKeyRecord],
        rescheduled: &[(String, postbode_core::signing_keys::KeySchedule)],
        seen: &[&str],
    ) -> Result<bool>;

    // Profile data. Changes to profiles and subprofiles go through
    // `Store::change_profiles`, which commits each change with its event and deliveries.
    async fn create_database(&self, database: &Database) -> Result<()>;
    async fn get_database(&self, account_id: &str, id: &str) -> Result<Option<Database>>;
    async fn list_databases(&self, account_id: &str, page: &PageRequest) -> Result<Page<Database>>;
    async fn update_database(&self, database: &Database) -> Result<bool>;
    /// Deletes the database with its collections, profiles and subprofiles (no events).
    async fn delete_database(&self, account_id: &str, id: &str) -> Result<bool>;
    async fn create_collection(&self, collection: &Collection) -> Result<()>;
    async fn get_collection(&self, account_id: &str, id: &str) -> Result<Option<Collection>>;
    async fn list_collections(
        &self,
        account_id: &str,
        database_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Collection>>;
    async fn update_collection(&self, collection: &Collection) -> Result<bool>;
    async fn delete_collection(&self, account_id: &str, id: &str) -> Result<bool>;
    async fn get_profile(&self, account_id: &str, id: &str) -> Result<Option<Profile>>;
    async fn list_profiles(&self, account_id: &str, database_id: &str, query: &ProfileQuery) -> Result<Page<Profile>>;
    /// The account's profiles among `ids`, each with its database, in one read.
    async fn profiles_with_databases(
        &self,
        account_id: &str,
        ids: &[&str],
    ) -> Result<HashMap<String, (Profile, Database)>>;
    async fn get_subprofile(&self, account_id: &str, id: &str) -> Result<Option<Subprofile>>;
    async fn list_subprofiles(
        &self,
        account_id: &str,
        profile_id: &str,
        page: &PageRequest,
    ) -> Result<Page<Subprofile>>;

    // Sent messages.
    async fn create_message(&self, message: &Message) -> Result<()>;
    /// The message with its profile data as it is now, from any account: tracking
    /// requests carry no key (their token's MAC proves them), so callers check the
    /// account where one is known.
    async fn message_context(&self, id: &str) -> Result<Option<MessageContext>>;

    // Validated domains.
    /// Stores a new domain; false when the account has that domain already.
    async fn create_domain(&self, domain: &Domain) -> Result<bool>;
    async fn get_domain(&self, account_id: &str, id: &str) -> Result<Option<Domain>>;
    async fn list_domains(&self, account_id: &str, page: &PageRequest) -> Result<Page<Domain>>;
    /// Saves a check's result: status, when, and what it found.
    async fn update_domain(&self, domain: &Domain) -> Result<bool>;
    async fn delete_domain(&self, account_id: &str, id: &str) -> Result<bool>;
    /// The names of the account's validated domains.
    async fn validated_domains(&self, account_id: &str) -> Result<Vec<String>>;
    /// Saves the webhooks' verification (only), in one transaction; a webhook whose URL
    /// changed meanwhile is left alone, since what was decided was for the old URL.
    async fn save_verifications(&self, webhooks: &[&Webhook]) -> Result<()>;

    // Erasure.
    /// Deletes up to `limit` of the events that concern the profile (by the profile id
    /// stored at ingest) with their deliveries and attempts, made before the event id
    /// `before`, and up to `limit` messages sent to it; one transaction. Repeat until
    /// it erases nothing.
    async fn erase_profile_batch(&self, account_id: &str, profile_id: &str, before: &str, limit: u32)
    -> Result<Erased>;

    // Operations.
    /// The delivery queue at `now`, from one pass over the index of pending deliveries.
    async fn queue_gauges(&self, now: DateTime<Utc>) -> Result<QueueGauges>;

    // The log.
    async fn list_attempts(&self, account_id: &str, query: &AttemptQuery) -> Result<Page<Attempt>>;
    /// The newest [`MAX_DELIVERY_ATTEMPTS`] attempts of a delivery, newest first.
    async fn delivery_attempts(&self, account_id: &str, delivery_id: &str) -> Result<Vec<Attempt>>;
    /// The newest attempt of each of the webhooks, by webhook id (one read for a page).
    async fn latest_attempts(&self, account_id: &str, webhook_ids: &[&str]) -> Result<HashMap<String, Attempt>>;
    async fn webhook_stats(&self, account_id: &str, webhook_id: &str, query: &StatsQuery) -> Result<Vec<StatsBucket>>;
    /// What the account's webhooks (of `webhook_ids`) have not been sent: the deliveries
    /// a disabled one holds, and the events skipped since `since` for an unverified URL.
    async fn undelivered(
        &self,
        account_id: &str,
        webhook_ids: &[&str],
        since: DateTime<Utc>,
    ) -> Result<HashMap<String, Undelivered>>;
    /// Every webhook of the account together, per hour or day.
    async fn account_stats(&self, account_id: &str, query: &StatsQuery) -> Result<Vec<StatsBucket>>;
}

/// Replay jobs as stored, and the rows a job's batches read (`rules::replay` decides
/// what they are). Written once for both backends (`replay_sql.rs`).
#[async_trait]
pub trait ReplayRecords: Send + Sync + 'static {
    /// Stores a new job; `false` when a job of the webhook is running (nothing stored).
    async fn create_replay_job(&self, job: &ReplayJob) -> Result<bool>;
    async fn get_replay_job(&self, account_id: &str, id: &str) -> Result<Option<ReplayJob>>;
    /// The webhook's newest jobs first.
    async fn webhook_replay_jobs(&self, account_id: &str, webhook_id: &str, limit: u32) -> Result<Vec<ReplayJob>>;
    /// Every running job, of every account.
    async fn running_replay_jobs(&self) -> Result<Vec<ReplayJob>>;
    async fn fail_replay_job(&self, id: &str, error: &str, now: DateTime<Utc>) -> Result<()>;
    /// How many of the webhook's deliveries match, counted up to `cap`.
    async fn count_replay_deliveries(
        &self,
        account_id: &str,
        webhook_id: &str,
        selection: &ReplaySelection,
        cap: u64,
    ) -> Result<u64>;
    /// The next `limit` matching deliveries after `after` (creation time, then id).
    async fn replay_deliveries(
        &self,
        account_id: &str,
        webhook_id: &str,
        selection: &ReplaySelection,
        after: Option<&(DateTime<Utc>, String)>,
        limit: u32,
    ) -> Result<Vec<(DateTime<Utc>, String)>>;
    /// How many events of the range, of `types`, have no delivery to the webhook,
    /// counted up to `cap`.
    async fn count_missing_events(
        &self,
        account_id: &str,
        webhook_id: &str,
        selection: &ReplaySelection,
        types: &EventTypes,
        cap: u64,
    ) -> Result<u64>;
    /// The next `limit` of those events after `after` (creation time, then id).
    async fn missing_events(
        &self,
        account_id: &str,
        webhook_id: &str,
        selection: &ReplaySelection,
        types: &EventTypes,
        after: Option<&(DateTime<Utc>, String)>,
        limit: u32,
    ) -> Result<Vec<ReplayEvent>>;
}

/// A database backend: its records, and the plumbing the rules' write path runs on.
#[async_trait]
pub trait Backend: Records + ReplayRecords {
    /// Where write groups are sent (see `writer`).
    fn writer(&self) -> &WriterHandle;
    /// Notified when deliveries may have become due, on this node or (PostgreSQL) any.
    fn work_signal(&self) -> Arc<Notify>;
    /// A transaction of its own for a claim, when the database lets claims run beside the
    /// writer (PostgreSQL, with `SKIP LOCKED`); `None` sends claims through the writer
    /// (SQLite, which has one writer at a time anyway).
    async fn claim_transaction(&self) -> Result<Option<Box<dyn GroupTx>>>;
    /// A transaction of its own for one batch of retention, beside the writer (SQLite
    /// waits its turn for the write lock; PostgreSQL locks only the rows it removes).
    async fn prune_transaction(&self) -> Result<Box<dyn PruneTx>>;
}

/// What retention (`rules::retention`) reads and deletes in one batch's transaction.
/// Several nodes may prune at once (PostgreSQL): what one has locked, the others skip.
#[async_trait]
pub trait PruneTx: Send {
    /// Deletes up to `limit` idempotency keys expired at `now`.
    async fn delete_expired_idempotency_keys(&mut self, now: DateTime<Utc>, limit: u32) -> Result<u64>;
    /// Deletes up to `limit` attempts, oldest first, that started before `before`.
    async fn delete_attempts_before(&mut self, before: DateTime<Utc>, limit: u32) -> Result<u64>;
    /// Up to `limit` events made before `before`, oldest first, after `after` (the last
    /// one a previous batch looked at), locked for this transaction; events another
    /// transaction holds are skipped.
    async fn events_before(
        &mut self,
        before: DateTime<Utc>,
        after: Option<&EventCursor>,
        limit: u32,
    ) -> Result<Vec<EventCursor>>;
    /// The state of every delivery of the events, each locked for this transaction (so
    /// none is sent again before it commits); one that another transaction holds is
    /// answered as pending (and not held), since it may be about to become so.
    async fn delivery_states(&mut self, event_ids: &[&str]) -> Result<Vec<DeliveryState>>;
    /// Deletes the events with their deliveries and those deliveries' attempts; answers
    /// (deliveries, attempts) deleted.
    async fn delete_events(&mut self, ids: &[&str]) -> Result<(u64, u64)>;
    async fn commit(self: Box<Self>) -> Result<()>;
    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// An event as retention walks them: by creation time, then id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCursor {
    pub created_at: DateTime<Utc>,
    pub id: String,
}

/// Whether a group's commit must reach the disk before its callers hear of it. Only
/// claims and releases can skip that: a lease lost with the machine only makes a
/// delivery claimable again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Full,
    Relaxed,
}

/// Starts the transactions write groups are applied in.
#[async_trait]
pub trait TxSource: Send + Sync + 'static {
    async fn begin(&self, durability: Durability) -> Result<Box<dyn GroupTx>>;
}

/// What the rules read and write inside one write group's transaction. Each backend
/// implements it with its own SQL; rows are written in few statements however many
/// there are (multi-row inserts, `json_each`, `UNNEST`).
#[async_trait]
pub trait GroupTx: Send {
    // What routing and enrichment read.
    /// Every webhook of the account, enabled or not (a disabled one holds its deliveries).
    async fn account_webhooks(&mut self, account_id: &str) -> Result<Vec<Webhook>>;
    async fn webhooks(&mut self, ids: &[&str]) -> Result<Vec<Webhook>>;
    /// Messages with their profile data as it is in this transaction.
    async fn message_contexts(&mut self, ids: &[&str]) -> Result<HashMap<String, MessageContext>>;

    // Idempotency keys.
    /// Stores each key unless a live one (not expired at `now`) holds its name; answers
    /// the live keys that were there, which are left unchanged. Two nodes storing the
    /// same key at once are serialised by the database: the second sees the first's.
    async fn claim_idempotency_keys(
        &mut self,
        keys: &[IdempotencyRow],
        now: DateTime<Utc>,
    ) -> Result<Vec<IdempotencyRow>>;

    // Profile data, read for a change (PostgreSQL locks the rows read until commit).
    async fn profile(&mut self, account_id: &str, id: &str) -> Result<Option<Profile>>;
    async fn subprofile(&mut self, account_id: &str, id: &str) -> Result<Option<Subprofile>>;
    async fn subprofiles_of(&mut self, account_id: &str, profile_id: &str) -> Result<Vec<Subprofile>>;
    /// A database's fields and the fields its profiles are found by (import keys).
    async fn database_fields(&mut self, account_id: &str, id: &str) -> Result<Option<DatabaseFields>>;
    /// A collection's database and fields.
    async fn collection_fields(&mut self, account_id: &str, id: &str) -> Result<Option<(String, Schema)>>;
    /// Profiles of a database whose key field holds one of `values` (JSON texts), with the
    /// value each was found by, oldest first.
    async fn profiles_by_key(
        &mut self,
        account_id: &str,
        database_id: &str,
        field: &str,
        values: &[String],
    ) -> Result<Vec<(String, Profile)>>;
    /// A page of a database's profiles by id, for building a new key field's index.
    async fn profiles_after(
        &mut self,
        account_id: &str,
        database_id: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<Profile>>;
    async fn set_key_fields(&mut self, account_id: &str, database_id: &str, fields: &[String]) -> Result<()>;

    // One request's writes, undone alone when it fails.
    async fn savepoint(&mut self) -> Result<()>;
    async fn rollback_to_savepoint(&mut self) -> Result<()>;
    async fn release_savepoint(&mut self) -> Result<()>;

    // Rows a group writes.
    async fn insert_events(&mut self, events: &[EventRow]) -> Result<()>;
    async fn insert_deliveries(&mut self, deliveries: &[DeliveryRow]) -> Result<()>;
    async fn save_profiles(&mut self, profiles: &[&Profile]) -> Result<()>;
    async fn delete_profiles(&mut self, account_id: &str, ids: &[&str]) -> Result<()>;
    async fn save_subprofiles(&mut self, subprofiles: &[&Subprofile]) -> Result<()>;
    async fn delete_subprofiles(&mut self, account_id: &str, ids: &[&str]) -> Result<()>;
    /// Replaces the key rows of the given profiles with `keys`.
    async fn replace_profile_keys(&mut self, profile_ids: &[&str], keys: &[ProfileKeyRow]) -> Result<()>;
    async fn insert_attempts(&mut self, attempts: &[(&str, &Attempt)]) -> Result<()>;
    /// Applies the updates; returns the ids of the deliveries updated, those still
    /// stored (an erasure may have removed some while they were out on a call).
    async fn update_deliveries(&mut self, updates: &[DeliveryUpdate]) -> Result<Vec<String>>;
    /// Gives leased deliveries back, claimable at once.
    async fn release(&mut self, delivery_ids: &[String]) -> Result<()>;
    /// The deliveries a resend or a recover picks, as they are before it.
    async fn deliveries_to_retry(
        &mut self,
        account_id: &str,
        selection: &RetrySelection,
        now: DateTime<Utc>,
    ) -> Result<Vec<RetryCandidate>>;
    /// Moves a running job's cursor from `from` to `to`, adding `rows` to its work done
    /// and ending it (`done`) when `last`; `false` (nothing changed) when the cursor is
    /// no longer at `from`: another node did that batch.
    async fn move_replay_cursor(
        &mut self,
        job_id: &str,
        from: &ReplayCursor,
        to: &ReplayCursor,
        rows: u64,
        last: bool,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Adds what a batch did to its job's counts.
    async fn count_replayed(&mut self, job_id: &str, progress: ReplayProgress) -> Result<()>;
    /// Makes the deliveries due at `now` for an attempt started by `trigger`.
    async fn retry_deliveries(&mut self, ids: &[&str], trigger: Trigger, now: DateTime<Utc>) -> Result<()>;
    /// The webhooks' health, in id order; `lock`: locked until commit, so another
    /// node's change waits (SQLite's single writer needs no lock).
    async fn webhook_health(&mut self, ids: &[&str], lock: bool) -> Result<Vec<WebhookHealth>>;
    async fn save_webhook_health(&mut self, health: &[WebhookHealth]) -> Result<()>;
    async fn hour_stats(&mut self, keys: &[(&str, DateTime<Utc>)]) -> Result<Vec<HourStats>>;
    /// Stores the rows whole (they replace what `hour_stats` read).
    async fn save_hour_stats(&mut self, stats: &[HourStats]) -> Result<()>;

    // Claims.
    /// Due, unleased deliveries of enabled (and, when required, verified) webhooks,
    /// oldest due first, skipping webhooks without room; at most `limit`.
    /// Only read: [`GroupTx::lease`] takes the ones chosen.
    async fn due_deliveries(&mut self, request: &ClaimRequest, limit: u32) -> Result<Vec<DueDelivery>>;
    /// Leases those of the deliveries that are still unleased at `now` (another claimer
    /// may have taken some meanwhile) until `until`, and reads them with their events.
    async fn lease(&mut self, ids: &[&str], now: DateTime<Utc>, until: DateTime<Utc>) -> Result<Vec<ClaimedDelivery>>;

    /// Tells the other nodes, when the transaction commits, that deliveries became due
    /// (a single-process backend has no one to tell).
    async fn announce_work(&mut self) -> Result<()> {
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<()>;
    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// An event row, as a group writes it.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: String,
    pub account_id: String,
    pub event_type: String,
    pub body: bytes::Bytes,
    pub created_at: DateTime<Utc>,
    /// The profile the event concerns (its scope's), which erasing the profile finds it by.
    pub profile_id: Option<String>,
    /// The `traceparent` of the event's trace.
    pub trace_parent: Option<String>,
}

/// A new delivery, due at once; `leased_until` when it is handed to this node's engine
/// straight away.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub id: String,
    pub account_id: String,
    pub event_id: String,
    pub webhook_id: String,
    pub due_at: DateTime<Utc>,
    pub leased_until: Option<DateTime<Utc>>,
    /// The subject an ordered webhook keeps this delivery in order with.
    pub ordering_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRow {
    pub account_id: String,
    pub key: String,
    pub request_hash: Vec<u8>,
    pub event_id: String,
    pub deliveries: u32,
    pub expires_at: DateTime<Utc>,
}

/// A profile found by the value of one of its database's key fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileKeyRow {
    pub account_id: String,
    pub database_id: String,
    pub field: String,
    /// The value as JSON text (`"a@example.com"`, `42`).
    pub value: String,
    pub profile_id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseFields {
    pub fields: Schema,
    pub key_fields: Vec<String>,
}

/// A delivery's state after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryUpdate {
    pub id: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<u16>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// When the attempt that ended the delivery (delivered or failed) started: the hour
    /// its statistics count it in, uncounted if the delivery is sent again.
    pub ended_at: Option<DateTime<Utc>>,
}

/// What decides whether a webhook is disabled: when its current run of failures began.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookHealth {
    pub id: String,
    pub enabled: bool,
    pub failing_since: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
}

/// A delivery's state as retention sees it.
#[derive(Debug, Clone)]
pub struct DeliveryState {
    pub event_id: String,
    pub status: DeliveryStatus,
    /// Pending for a disabled webhook: it waits for the webhook to be enabled again.
    pub held: bool,
}

/// One webhook's counters for one hour.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HourStats {
    pub webhook_id: String,
    pub hour: DateTime<Utc>,
    pub delivered: u64,
    pub failed: u64,
    pub skipped_unverified: u64,
    pub condition_errors: u64,
    pub held: u64,
    pub attempts: u64,
    pub latency: LatencyHistogram,
}

/// A delivery a resend or recover picked, as it was.
#[derive(Debug, Clone)]
pub struct RetryCandidate {
    pub id: String,
    pub webhook_id: String,
    pub status: DeliveryStatus,
    pub ended_at: Option<DateTime<Utc>>,
}

/// A due delivery a claim may take.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: String,
    pub webhook_id: String,
}
