//! The JSON shapes the API answers with (API.md), apart from the stored records.

use chrono::{DateTime, Utc};
use postbode_core::profile::{Schema, Values};
use postbode_core::render::Format;
use postbode_core::runtime::WebhookRuntime;
use postbode_core::webhook::{Batch, Ordering, RateLimit, SignatureScheme, Source, VerificationStatus, Webhook};
use postbode_store::{Profile, Subprofile, Undelivered};
use serde::Serialize;
use std::collections::BTreeMap;

/// What `verification.status` shows. With `webhooks.require_verification` off an
/// unchecked webhook is `not_required` rather than `pending`: nothing waits for a check.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShownVerification {
    Pending,
    Verified,
    Failed,
    NotRequired,
}

impl ShownVerification {
    pub fn new(status: VerificationStatus, require_verification: bool) -> Self {
        match status {
            VerificationStatus::Pending if !require_verification => ShownVerification::NotRequired,
            VerificationStatus::Pending => ShownVerification::Pending,
            VerificationStatus::Verified => ShownVerification::Verified,
            VerificationStatus::Failed => ShownVerification::Failed,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct VerificationView {
    pub status: ShownVerification,
    /// The validated domain that verifies the URL, when one does (no file needed).
    pub domain: Option<String>,
    pub file_name: String,
    pub file_content: String,
    pub file_urls: Vec<String>,
    pub checked_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub database_id: Option<String>,
    pub collection_id: Option<String>,
    pub format: Format,
    pub condition: Option<String>,
    pub ignore_sources: Vec<Source>,
    pub fields_changed: Vec<String>,
    pub signatures: Vec<SignatureScheme>,
    pub headers: BTreeMap<String, String>,
    pub max_concurrency: u32,
    pub rate_limit: Option<RateLimit>,
    pub batch: Option<Batch>,
    pub ordering: Option<Ordering>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Only in the answer to creation, `GET .../secret` and rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub verification: VerificationView,
    pub health: HealthView,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How the webhook's calls are going.
#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthView {
    /// When the run of failed calls still going on began; `null` after a success.
    pub failing_since: Option<DateTime<Utc>>,
    /// Calls are held back until then (a run of failures, or the receiver's
    /// `Retry-After`), on every node, for `pause_reason`.
    pub paused_until: Option<DateTime<Utc>>,
    pub pause_reason: Option<String>,
    /// What the engine of the node that answered is doing for the webhook now: its
    /// adaptive limit, calls in flight, the last back-off; `null` while it holds nothing
    /// of the webhook.
    pub engine: Option<WebhookRuntime>,
    /// Deliveries waiting while the webhook is disabled: they go out when it is enabled
    /// again (or end with their event at `retention.events`).
    pub held: u64,
    /// Events of the last 24 hours the webhook wanted but did not get because its URL
    /// was not verified (they are never sent).
    pub skipped_unverified_24h: u64,
}

impl WebhookView {
    /// `secret`: the opened secret, for the answers that show it;
    /// `require_verification`: the setting `webhooks.require_verification`;
    /// `engine`: what the engine is doing for the webhook; `undelivered`: what it has not
    /// been sent.
    pub fn new(
        webhook: Webhook,
        secret: Option<String>,
        require_verification: bool,
        engine: Option<WebhookRuntime>,
        undelivered: Undelivered,
    ) -> Self {
        let file_urls = webhook.verification.file_urls(&webhook.settings.url);
        let s = webhook.settings;
        let v = webhook.verification;
        Self {
            id: webhook.id,
            url: s.url,
            description: s.description,
            events: s.events,
            database_id: s.database_id,
            collection_id: s.collection_id,
            format: s.format,
            condition: s.condition,
            ignore_sources: s.ignore_sources,
            fields_changed: s.fields_changed,
            signatures: s.signatures,
            headers: s.headers,
            max_concurrency: s.max_concurrency,
            rate_limit: s.rate_limit,
            batch: s.batch,
            ordering: s.ordering,
            enabled: s.enabled,
            disabled_reason: webhook.disabled_reason,
            secret,
            verification: VerificationView {
                status: ShownVerification::new(v.status, require_verification),
                domain: v.domain,
                file_name: v.file_name,
                file_content: v.file_content,
                file_urls,
                checked_at: v.checked_at,
                outcome: v.outcome,
            },
            health: HealthView {
                failing_since: webhook.failing_since,
                paused_until: webhook.paused_until,
                pause_reason: webhook.pause_reason,
                engine,
                held: undelivered.held,
                skipped_unverified_24h: undelivered.skipped_unverified,
            },
            created_at: webhook.created_at,
            updated_at: webhook.updated_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProfileView {
    pub id: String,
    pub database_id: String,
    /// Every field the database defines, `null` when empty.
    #[schema(value_type = Object)]
    pub fields: Values,
    pub interests: Vec<String>,
    pub sequence: u64,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

impl ProfileView {
    pub fn new(profile: Profile, schema: &Schema) -> Self {
        Self {
            fields: schema.complete(&profile.state.values),
            id: profile.id,
            database_id: profile.database_id,
            interests: profile.state.interests,
            sequence: profile.sequence,
            created: profile.created_at,
            modified: profile.modified_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SubprofileView {
    pub id: String,
    pub profile_id: String,
    pub database_id: String,
    pub collection_id: String,
    #[schema(value_type = Object)]
    pub fields: Values,
    pub sequence: u64,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

impl SubprofileView {
    pub fn new(subprofile: Subprofile, schema: &Schema) -> Self {
        Self {
            fields: schema.complete(&subprofile.values),
            id: subprofile.id,
            profile_id: subprofile.profile_id,
            database_id: subprofile.database_id,
            collection_id: subprofile.collection_id,
            sequence: subprofile.sequence,
            created: subprofile.created_at,
            modified: subprofile.modified_at,
        }
    }
}
