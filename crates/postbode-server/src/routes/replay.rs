//! Replays as jobs: `POST /v1/webhooks/{id}/replay` makes one (the store's
//! `rules::replay` decides what it matches and does), `GET /v1/jobs/{id}` shows its
//! progress. The binary's replay runner works through it in batches.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use postbode_core::error::{FieldError, ValidationError};
use postbode_core::{event, ids};
use postbode_store::{DeliveryStatus, JobStatus, ReplayJob, ReplayRequest, ReplaySelection, ReplayStart};
use serde::{Deserialize, Serialize};

use crate::auth::{AccountKey, WebhooksRead, WebhooksWrite};
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiError, ApiResult};
use crate::routes::webhooks::find;
use crate::state::AppState;

/// What a replay looks at: a delivery status, or `missing`, the events of the range
/// that have no delivery to the webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReplayStatus {
    Pending,
    Delivered,
    Failed,
    Skipped,
    Missing,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"since": "2026-11-23T00:00:00Z", "status": ["failed", "missing"]}))]
pub struct ReplayBody {
    /// Deliveries and events created from then on.
    pub since: DateTime<Utc>,
    /// Up to and including then; default: now.
    pub until: Option<DateTime<Utc>>,
    /// Which deliveries are sent again, and whether events without one get one
    /// (`missing`); default: every delivery and the missing events.
    pub status: Option<Vec<ReplayStatus>>,
    /// Only events of these types; default: every type.
    pub event_types: Option<Vec<String>>,
}

/// A job made: its id, and how many deliveries and events it matched.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReplayStarted {
    pub job_id: String,
    pub matched: u64,
}

/// A background job and how far it got.
#[derive(Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub id: String,
    /// `replay`.
    pub kind: String,
    pub webhook_id: String,
    pub status: JobStatus,
    /// Deliveries and events worked through.
    pub done: u64,
    /// What matched when the job was made.
    pub total: u64,
    /// Deliveries made due again (one in flight is left to its attempt).
    pub resent: u64,
    /// Deliveries made for events the webhook never had.
    pub created: u64,
    /// Why a failed job stopped.
    pub error: Option<String>,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ReplayJob> for JobView {
    fn from(job: ReplayJob) -> Self {
        Self {
            id: job.id,
            kind: "replay".into(),
            webhook_id: job.webhook_id,
            status: job.status,
            done: job.done,
            total: job.total,
            resent: job.resent,
            created: job.created,
            error: job.error,
            since: job.selection.since,
            until: job.selection.until,
            created_at: job.created_at,
            updated_at: job.updated_at,
        }
    }
}

/// Checks a replay request against the clock: `until` defaults to now.
pub(crate) fn selection(body: ReplayBody, now: DateTime<Utc>) -> ApiResult<ReplaySelection> {
    let until = body.until.unwrap_or(now).min(now);
    let mut errors = Vec::new();
    if body.since > until {
        errors.push(FieldError::new("since", "must not be after until (or now)"));
    }
    let types = body.event_types.unwrap_or_default();
    for (i, t) in types.iter().enumerate() {
        if let Err(e) = event::check_type_name(&format!("event_types[{i}]"), t) {
            errors.push(e);
        }
    }
    if body.status.as_ref().is_some_and(Vec::is_empty) {
        errors.push(FieldError::new(
            "status",
            "names at least one status, or is left out for every one",
        ));
    }
    ValidationError::check(errors)?;
    let (statuses, missing) = match &body.status {
        None => (Vec::new(), true),
        Some(list) => (
            list.iter()
                .filter_map(|s| match s {
                    ReplayStatus::Pending => Some(DeliveryStatus::Pending),
                    ReplayStatus::Delivered => Some(DeliveryStatus::Delivered),
                    ReplayStatus::Failed => Some(DeliveryStatus::Failed),
                    ReplayStatus::Skipped => Some(DeliveryStatus::Skipped),
                    ReplayStatus::Missing => None,
                })
                .collect(),
            list.contains(&ReplayStatus::Missing),
        ),
    };
    // Only `missing`: no delivery is sent again (no status would mean every status).
    let resend = body.status.is_none() || !statuses.is_empty();
    Ok(ReplaySelection {
        since: body.since,
        until,
        resend,
        statuses,
        event_types: types,
        missing,
    })
}

/// Makes the job and wakes the runner; what a refusal says names the field to change.
pub(crate) async fn start(
    state: &AppState,
    account_id: &str,
    webhook_id: &str,
    selection: ReplaySelection,
) -> ApiResult<ReplayJob> {
    let webhook = find(state, account_id, webhook_id).await?;
    let request = ReplayRequest {
        account_id: account_id.to_owned(),
        webhook_id: webhook.id,
        selection,
        now: state.clock.now(),
        max: state.replay.max_per_job,
    };
    match state.store.start_replay(request).await? {
        ReplayStart::Started(job) => {
            state.replay_wake.notify_one();
            Ok(*job)
        }
        ReplayStart::NoWebhook => Err(ApiError::NotFound("webhook")),
        ReplayStart::TooMany { matched, max } => Err(ApiError::field(
            "since",
            format!(
                "the replay matches more than {max} deliveries and events ({matched} counted), the most one job may \
                 send (replay.max_per_job): narrow since and until, status or event_types"
            ),
        )),
        ReplayStart::Busy(job) => Err(ApiError::Conflict(format!(
            "replay job {job} of this webhook is still running; wait for it to end (GET /v1/jobs/{job})"
        ))),
    }
}

/// Resends the webhook's deliveries of a time range and makes deliveries for the events
/// of the range it never had, as a job (see `GET /v1/jobs/{id}`).
#[utoipa::path(post, path = "/v1/webhooks/{id}/replay", operation_id = "replayWebhook", tag = "events", security(("account_key" = ["webhooks:write"])), params(("id" = String, Path)), request_body = ReplayBody, responses((status = 202, body = ReplayStarted), crate::openapi::Errors))]
pub async fn replay(
    key: AccountKey<WebhooksWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ReplayBody>,
) -> ApiResult<(StatusCode, Json<ReplayStarted>)> {
    let selection = selection(body, state.clock.now())?;
    let job = start(&state, &key.account_id, &id, selection).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ReplayStarted {
            job_id: job.id,
            matched: job.total,
        }),
    ))
}

/// A job of the account, or 404.
pub(crate) async fn find_job(state: &AppState, account_id: &str, id: &str) -> ApiResult<ReplayJob> {
    if !ids::has_kind(id, ids::JOB) {
        return Err(ApiError::NotFound("job"));
    }
    state
        .store
        .replay_job(account_id, id)
        .await?
        .ok_or(ApiError::NotFound("job"))
}

#[utoipa::path(get, path = "/v1/jobs/{id}", operation_id = "getReplayJob", tag = "events", security(("account_key" = ["webhooks:read"])), params(("id" = String, Path)), responses((status = 200, body = JobView), crate::openapi::Errors))]
pub async fn get_job(
    key: AccountKey<WebhooksRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<JobView>> {
    Ok(Json(find_job(&state, &key.account_id, &id).await?.into()))
}
