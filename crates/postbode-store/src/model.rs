//! The records the store reads and writes.

use chrono::{DateTime, Utc};
use postbode_core::event::EventScope;
use postbode_core::latency::LatencyHistogram;
use postbode_core::mail::{Enrichment, MailEvent, Mailing, mail_event_body};
use postbode_core::page::PageRequest;
use postbode_core::profile::{Edit, Schema, State, UnsubscribeBehaviour, Values};
pub use postbode_core::trace::TraceParent;
use postbode_core::webhook::Source;
use postbode_core::webhook::Webhook;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// An API key as stored: only the SHA-256 of its secret.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: String,
    pub account_id: String,
    pub secret_hash: Vec<u8>,
    /// What the holder calls it ("billing backend"); free text.
    pub name: Option<String>,
    pub scopes: postbode_core::scope::Scopes,
    pub created_at: DateTime<Utc>,
    /// Written at most once a minute per key (see the server's key cache).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A dashboard session, kept on the server so that signing out (or deleting the key it
/// was made with, or its account) ends it at once. The browser holds a random id; only
/// its SHA-256 is stored, so a copy of the database signs nobody in.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardSession {
    pub id_hash: Vec<u8>,
    /// `None`: the operator's.
    pub account_id: Option<String>,
    /// The API key it was made with, if any.
    pub key_id: Option<String>,
    pub role: SessionRole,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What a dashboard session may do in its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRole {
    /// Everything the account's pages offer.
    Manage,
    /// Read only.
    View,
}

impl SessionRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionRole::Manage => "manage",
            SessionRole::View => "view",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "manage" => Some(SessionRole::Manage),
            "view" => Some(SessionRole::View),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: String,
    pub event_type: String,
    /// What is kept of the canonical JSON body receivers get (rendered into other
    /// formats per call): a custom event's `data`, a built-in event's whole body (see
    /// `postbode_core::event::receiver_body`).
    pub body: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub idempotency: Option<IdempotencyKey>,
    /// What webhooks' scopes, sources and conditions are matched against.
    pub scope: EventScope,
    /// The trace the request that sent it belongs to, kept with the event (never in its
    /// body) for the spans of its deliveries and the `traceparent` of their calls.
    pub trace_parent: Option<TraceParent>,
}

#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: String,
    /// A hash of the request, to tell a retry of the same request from a reuse.
    pub request_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ingested {
    pub event_id: String,
    /// Deliveries made, held ones included.
    pub deliveries: u32,
    /// What did not go out at once, and why (for an idempotent repeat: nothing, as
    /// nothing new was routed).
    pub skipped: Skipped,
    /// True when an idempotency key found an earlier event: nothing new was stored.
    pub duplicate: bool,
}

/// Of the webhooks that want an event's type and scope, how many did not get a delivery
/// going out at once, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Skipped {
    /// The URL is not verified: such a webhook never gets the event.
    #[serde(skip_serializing_if = "is_zero")]
    pub unverified: u32,
    /// The webhook is disabled: its delivery is held, and goes out when it is enabled
    /// again (or ends with the event at `retention.events`).
    #[serde(skip_serializing_if = "is_zero")]
    pub disabled_held: u32,
    /// The webhook's condition does not hold for the event.
    #[serde(skip_serializing_if = "is_zero")]
    pub condition: u32,
    /// The webhook's condition could not be evaluated for the event.
    #[serde(skip_serializing_if = "is_zero")]
    pub condition_error: u32,
}

impl Skipped {
    pub fn add(&mut self, other: Skipped) {
        self.unverified += other.unverified;
        self.disabled_held += other.disabled_held;
        self.condition += other.condition;
        self.condition_error += other.condition_error;
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub id: String,
    pub event_type: String,
    pub body: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
    Skipped,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => DeliveryStatus::Pending,
            "delivered" => DeliveryStatus::Delivered,
            "failed" => DeliveryStatus::Failed,
            "skipped" => DeliveryStatus::Skipped,
            _ => return None,
        })
    }
}

/// What started an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Scheduled,
    Resend,
    Recover,
    /// A replay job sent it again (`POST /v1/webhooks/{id}/replay`).
    Replay,
    Test,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Resend => "resend",
            Trigger::Recover => "recover",
            Trigger::Replay => "replay",
            Trigger::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "scheduled" => Trigger::Scheduled,
            "resend" => Trigger::Resend,
            "recover" => Trigger::Recover,
            "replay" => Trigger::Replay,
            "test" => Trigger::Test,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    pub id: String,
    pub event_id: String,
    pub webhook_id: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<u16>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attempt {
    pub id: String,
    pub delivery_id: Option<String>,
    pub webhook_id: String,
    pub event_id: Option<String>,
    pub number: u32,
    pub trigger: Trigger,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub status_code: Option<u16>,
    pub error_kind: Option<String>,
    pub error: Option<String>,
    pub response_body: Option<String>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|code| (200..300).contains(&code))
    }
}

#[derive(Debug, Clone)]
pub struct ClaimRequest {
    pub now: DateTime<Utc>,
    pub lease_until: DateTime<Utc>,
    /// At most this many deliveries in all.
    pub limit: u32,
    /// How many more deliveries of each webhook the engine takes (0 for one it holds
    /// enough of, or whose calls are paused), so a slow receiver's backlog stays in the
    /// database instead of in memory and leases.
    pub room: HashMap<String, u32>,
    /// The room of a webhook `room` does not name.
    pub room_default: u32,
    /// Deliveries of webhooks whose URL is not verified wait.
    pub require_verification: bool,
}

impl ClaimRequest {
    /// How many more deliveries of the webhook this claim may take.
    pub fn room_of(&self, webhook_id: &str) -> u32 {
        self.room.get(webhook_id).copied().unwrap_or(self.room_default)
    }

    /// The most any one webhook may take.
    pub fn largest_room(&self) -> u32 {
        self.room.values().copied().fold(self.room_default, u32::max)
    }
}

#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub delivery_id: String,
    pub event_id: String,
    pub webhook_id: String,
    pub account_id: String,
    /// Attempts made before this one.
    pub attempts: u32,
    pub trigger: Trigger,
    pub event_type: String,
    /// Shared by the deliveries of one event.
    pub body: bytes::Bytes,
    /// When it fell due: the deliveries of a failed batch fall due together again.
    pub due_at: DateTime<Utc>,
    /// Set when its webhook keeps the deliveries of this subject in order: the next one
    /// becomes claimable once this one is delivered or failed for good.
    pub ordering_key: Option<String>,
    /// The event's trace (see [`NewEvent::trace_parent`]).
    pub trace_parent: Option<TraceParent>,
}

#[derive(Debug, Clone, Default)]
pub struct Claim {
    pub deliveries: Vec<ClaimedDelivery>,
    /// The webhooks of the claimed deliveries, as they are now.
    pub webhooks: HashMap<String, Webhook>,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    Delivered,
    RetryAt(DateTime<Utc>),
    Failed,
}

#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub account_id: String,
    pub attempt: Attempt,
    pub outcome: AttemptOutcome,
    /// The receiver said it is gone for good (410): the webhook is disabled with this
    /// reason, and its pending deliveries wait, spending no attempts, until it is
    /// enabled again.
    pub disable_webhook: Option<String>,
    /// A webhook whose calls have all failed since before this instant is disabled.
    pub disable_if_failing_since: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AttemptFilter {
    Succeeded,
    Failed,
}

#[derive(Debug, Clone)]
pub struct AttemptQuery {
    pub webhook_id: String,
    pub status: Option<AttemptFilter>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub page: PageRequest,
}

/// Which deliveries of a webhook to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    pub webhook_id: String,
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<String>,
    /// Created at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Created before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Only the deliveries this names: a delivery id, an event id, the idempotency key
    /// an event was sent with (while the key is kept), or words of the event's body
    /// (every word, `postbode_core::search::terms`). Look-ups in indexes, no scan.
    pub search: Option<String>,
    /// Page towards newer deliveries: the `page.limit` deliveries just newer than this
    /// id (still newest first), and `next_cursor` continues towards newer ones.
    /// `page.after` pages towards older ones.
    pub newer_than: Option<String>,
    /// With a status or event type filter (and no search): look through at most this
    /// many deliveries from the cursor on. A page then holds fewer than `page.limit`
    /// when the rest of those did not match, and `next_cursor` continues after them, so
    /// a rare filter on a huge log costs a bounded read per page, not a scan of all.
    pub scan: Option<u32>,
    pub page: PageRequest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    #[default]
    Hour,
    Day,
}

#[derive(Debug, Clone)]
pub struct StatsQuery {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub bucket: Bucket,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsBucket {
    pub start: DateTime<Utc>,
    pub delivered: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Events the webhook wanted but did not get because its URL is not verified.
    pub skipped_unverified: u64,
    /// Events the webhook's condition could not be evaluated for; they were not sent.
    pub condition_errors: u64,
    /// Events held for the webhook while it was disabled (delivered once it is enabled).
    pub held: u64,
    pub attempts: u64,
    pub latency_p50_ms: Option<u64>,
    pub latency_p99_ms: Option<u64>,
    #[serde(skip)]
    pub latency: LatencyHistogram,
}

/// What a webhook has not been sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Undelivered {
    /// Deliveries waiting for the (disabled) webhook to be enabled again.
    pub held: u64,
    /// Events skipped because the URL was not verified, in the time asked about.
    pub skipped_unverified: u64,
}

/// What one erasure batch removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Erased {
    pub events: u64,
    pub deliveries: u64,
    pub attempts: u64,
    pub messages: u64,
}

impl Erased {
    pub fn add(&mut self, other: Erased) {
        self.events += other.events;
        self.deliveries += other.deliveries;
        self.attempts += other.attempts;
        self.messages += other.messages;
    }

    pub fn is_empty(&self) -> bool {
        *self == Erased::default()
    }
}

/// What retention removes, as of `now`: attempts that started before `attempts_before`;
/// events made before `events_before` whose deliveries have all ended, with their
/// deliveries and attempts; idempotency keys expired at `now`. In transactions of at
/// most `batch` rows of each kind, so none holds its locks for long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneRequest {
    pub now: DateTime<Utc>,
    pub attempts_before: DateTime<Utc>,
    pub events_before: DateTime<Utc>,
    pub batch: u32,
}

/// What retention removed, and in how many transactions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub events: u64,
    pub deliveries: u64,
    /// Of `deliveries`, those held for a disabled webhook until their event's age ran out.
    pub held: u64,
    pub attempts: u64,
    pub idempotency_keys: u64,
    pub batches: u64,
}

impl Pruned {
    pub fn add(&mut self, other: Pruned) {
        self.events += other.events;
        self.deliveries += other.deliveries;
        self.held += other.held;
        self.attempts += other.attempts;
        self.idempotency_keys += other.idempotency_keys;
        self.batches += other.batches;
    }
}

/// The delivery queue as `/metrics` shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueGauges {
    /// Not yet delivered or given up.
    pub pending: u64,
    /// Pending, due now and not leased.
    pub due: u64,
    /// Pending and held by an engine now.
    pub leased: u64,
    /// When the longest-waiting due delivery fell due.
    pub oldest_due_at: Option<DateTime<Utc>>,
}

/// One of Postbode's signing keys.
#[derive(Debug, Clone, PartialEq)]
pub struct SigningKeyRecord {
    pub id: String,
    /// `rsa` or `ed25519` (the DKIM `k=` names).
    pub algorithm: String,
    pub selector: String,
    /// PKCS#8, sealed with the master key (context: the key's id).
    pub sealed_private_key: String,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    pub schedule: postbode_core::signing_keys::KeySchedule,
    pub created_at: DateTime<Utc>,
}

/// A database of profiles: the fields its profiles have, and what an unsubscribe does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Database {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub fields: Schema,
    pub unsubscribe: UnsubscribeBehaviour,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A collection inside a database: its subprofiles are profiles' rows in it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Collection {
    pub id: String,
    pub account_id: String,
    pub database_id: String,
    pub name: String,
    pub fields: Schema,
    pub unsubscribe: UnsubscribeBehaviour,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub id: String,
    pub account_id: String,
    pub database_id: String,
    pub state: State,
    pub sequence: u64,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subprofile {
    pub id: String,
    pub account_id: String,
    pub profile_id: String,
    pub database_id: String,
    pub collection_id: String,
    /// Subprofiles have no interests.
    pub values: Values,
    pub sequence: u64,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

/// A profile or subprofile as a change left it.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Profile(Profile),
    Subprofile(Subprofile),
}

/// One change to profile data. Values are already checked against the schema.
#[derive(Debug, Clone)]
pub enum Change {
    /// An event committed together with the changes (an unsubscribe report with the
    /// change its behaviour makes).
    Event(Box<NewEvent>),
    CreateProfile {
        id: String,
        database_id: String,
        values: Values,
        interests: Vec<String>,
    },
    EditProfile {
        id: String,
        edit: Edit,
        values: Values,
        interests: Option<Vec<String>>,
    },
    DeleteProfile {
        id: String,
    },
    /// Deletes the profile and its subprofiles like [`Change::DeleteProfile`], but their
    /// `delete` events carry the ids only: no fields, no interests (erasure, which then
    /// removes the stored events that hold the data).
    EraseProfile {
        id: String,
    },
    CreateSubprofile {
        id: String,
        profile_id: String,
        collection_id: String,
        values: Values,
    },
    EditSubprofile {
        id: String,
        edit: Edit,
        values: Values,
    },
    DeleteSubprofile {
        id: String,
    },
    /// Merges into the profile of the database whose `key` field equals `values[key]`,
    /// or creates one (imports).
    Upsert {
        database_id: String,
        key: String,
        values: Values,
        interests: Option<Vec<String>>,
    },
}

#[derive(Debug, Clone)]
pub struct ChangeRequest {
    pub account_id: String,
    pub source: Source,
    pub changes: Vec<Change>,
    pub now: DateTime<Utc>,
    pub require_verification: bool,
}

/// What one [`Change`] did, in the order of the request.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeOutcome {
    Created(Record),
    Updated(Record),
    /// The change set what was already there: nothing fired.
    Unchanged(Record),
    Deleted,
    /// No such profile, subprofile, database or collection in the account.
    NotFound,
    /// An [`Change::Event`] was stored.
    Ingested(Ingested),
}

/// A mail event of a message: an open or click (no account: the tracking token's MAC
/// proves it), or a report made with an account's key (the message must be the account's).
#[derive(Debug, Clone)]
pub struct MailRequest {
    pub account_id: Option<String>,
    pub message_id: String,
    pub event: MailEvent,
    pub now: DateTime<Utc>,
    pub require_verification: bool,
}

/// Deliveries to send again now.
#[derive(Debug, Clone)]
pub enum RetrySelection {
    /// One delivery, whatever its state (resend).
    Delivery(String),
    /// The webhook's deliveries created in `[since, until]` that are failed or waiting
    /// for a retry (recover).
    Webhook {
        webhook_id: String,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    /// The webhook's deliveries among `ids` that are not in flight (a replay's batch).
    Replay { webhook_id: String, ids: Vec<String> },
}

#[derive(Debug, Clone)]
pub struct RetryRequest {
    pub account_id: String,
    pub selection: RetrySelection,
    pub now: DateTime<Utc>,
}

/// A sent message, to which opens, clicks and reports refer.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: String,
    pub account_id: String,
    pub mailing: Mailing,
    pub email: String,
    pub profile_id: Option<String>,
    pub subprofile_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A message with the profile data its events are enriched with, as they are now.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageContext {
    pub message: Message,
    pub profile: Option<(Profile, Database)>,
    pub subprofile: Option<(Subprofile, Collection)>,
}

impl MessageContext {
    /// A mail event of the message, its body enriched with the profile data as it is
    /// now, and the scope webhooks are matched against.
    pub fn event(&self, event: &MailEvent, now: DateTime<Utc>) -> NewEvent {
        let message = &self.message;
        let profile = self.profile.as_ref().map(|(p, _)| p);
        let subprofile = self.subprofile.as_ref().map(|(s, _)| s);
        let mut fields = self
            .profile
            .as_ref()
            .map(|(profile, database)| database.fields.complete(&profile.state.values));
        if let (Some(fields), Some((subprofile, collection))) = (&mut fields, &self.subprofile) {
            for (name, value) in collection.fields.complete(&subprofile.values) {
                // An empty subprofile field does not hide the profile's value of that name.
                if !value.is_null() || !fields.contains_key(&name) {
                    fields.insert(name, value);
                }
            }
        }
        let body = mail_event_body(
            &message.id,
            event,
            now,
            &Enrichment {
                recipient: &message.email,
                profile: profile.map(|p| p.id.as_str()),
                subprofile: subprofile.map(|s| s.id.as_str()),
                database: profile.map(|p| p.database_id.as_str()),
                collection: subprofile.map(|s| s.collection_id.as_str()),
                mailing: &message.mailing.id,
                fields: fields.as_ref(),
                tags: &message.mailing.tags,
            },
        );
        NewEvent {
            id: postbode_core::ids::new_id(postbode_core::ids::EVENT),
            event_type: event.event_type().to_owned(),
            body,
            created_at: now,
            idempotency: None,
            trace_parent: None,
            scope: EventScope {
                database_id: profile.map(|p| p.database_id.clone()),
                collection_id: subprofile.map(|s| s.collection_id.clone()),
                subprofile_change: false,
                source: None,
                profile_id: profile.map(|p| p.id.clone()),
                subprofile_id: subprofile.map(|s| s.id.clone()),
                fields: fields.unwrap_or_default(),
                previous: None,
                ordering_key: None,
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProfileQuery {
    /// Profiles whose field equals the value (as the field's type reads it).
    pub field: Option<(String, serde_json::Value)>,
    pub page: PageRequest,
}

#[derive(Debug, Clone, Default)]
pub struct WebhookFilter {
    pub database_id: Option<String>,
    pub collection_id: Option<String>,
}

/// What removing an event type did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Deleted,
    /// Events of it exist: it stays, archived.
    Archived,
}

/// A custom event type of an account's catalogue (the suite's own types are built in:
/// `postbode_core::event_type::BUILTINS`).
#[derive(Debug, Clone, PartialEq)]
pub struct EventTypeRecord {
    pub account_id: String,
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema (2020-12) for the events' `data`.
    pub schema: Option<serde_json::Value>,
    pub example: Option<serde_json::Value>,
    /// Kept because events of it exist; hidden from pickers, still accepted.
    pub archived: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An API key as the operator lists it: never its hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyInfo {
    pub id: String,
    pub name: Option<String>,
    pub scopes: Vec<postbode_core::scope::Scope>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A delivery's page shows at most this many of its attempts (the newest).
pub const MAX_DELIVERY_ATTEMPTS: i64 = 100;

#[cfg(test)]
mod tests {
    use super::*;
    use postbode_core::mail::Visit;
    use serde_json::json;

    fn schema(names: &[&str]) -> Schema {
        serde_json::from_value(json!(
            names
                .iter()
                .map(|n| json!({"name": n, "type": "text"}))
                .collect::<Vec<_>>()
        ))
        .unwrap()
    }

    #[test]
    fn a_mail_event_shows_the_profile_with_its_subprofile_over_it() {
        let at = DateTime::from_timestamp(1_795_424_707, 0).unwrap();
        let values = |v: serde_json::Value| v.as_object().unwrap().clone();
        let context = MessageContext {
            message: Message {
                id: "msg_1".into(),
                account_id: "acc_1".into(),
                mailing: Mailing {
                    id: "m".into(),
                    name: None,
                    tags: vec!["t".into()],
                },
                email: "a@example.com".into(),
                profile_id: Some("prf_1".into()),
                subprofile_id: Some("sub_1".into()),
                created_at: at,
            },
            profile: Some((
                Profile {
                    id: "prf_1".into(),
                    account_id: "acc_1".into(),
                    database_id: "db_1".into(),
                    state: State {
                        values: values(json!({"name": "Piet", "city": "Delft"})),
                        interests: vec![],
                    },
                    sequence: 1,
                    created_at: at,
                    modified_at: at,
                },
                Database {
                    id: "db_1".into(),
                    account_id: "acc_1".into(),
                    name: "d".into(),
                    fields: schema(&["name", "city"]),
                    unsubscribe: UnsubscribeBehaviour::Nothing,
                    created_at: at,
                    updated_at: at,
                },
            )),
            subprofile: Some((
                Subprofile {
                    id: "sub_1".into(),
                    account_id: "acc_1".into(),
                    profile_id: "prf_1".into(),
                    database_id: "db_1".into(),
                    collection_id: "col_1".into(),
                    values: values(json!({"city": "Leiden"})),
                    sequence: 1,
                    created_at: at,
                    modified_at: at,
                },
                Collection {
                    id: "col_1".into(),
                    account_id: "acc_1".into(),
                    database_id: "db_1".into(),
                    name: "c".into(),
                    fields: schema(&["name", "city", "plan"]),
                    unsubscribe: UnsubscribeBehaviour::Nothing,
                    created_at: at,
                    updated_at: at,
                },
            )),
        };
        let event = context.event(&MailEvent::Open(Visit::default()), at);
        let body: serde_json::Value = serde_json::from_slice(&event.body).unwrap();
        // The subprofile's value wins; its empty `name` does not hide the profile's.
        assert_eq!(body["fields"], json!({"name": "Piet", "city": "Leiden", "plan": null}));
        assert_eq!(event.scope.collection_id.as_deref(), Some("col_1"));
        assert_eq!(event.scope.database_id.as_deref(), Some("db_1"));
        assert_eq!(event.scope.fields, body["fields"].as_object().unwrap().clone());
    }
}
