//! Replay jobs: a webhook's deliveries of a time range sent again, and the events of the
//! range it never had given a delivery ("replay missing"), worked through in batches
//! (see `rules::replay`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::DeliveryStatus;

/// What a replay sends again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplaySelection {
    /// Deliveries and events created in `[since, until]`.
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Whether the webhook's deliveries are sent again (else only missing events).
    pub resend: bool,
    /// The deliveries' statuses; empty: every status.
    pub statuses: Vec<DeliveryStatus>,
    /// The events' types; empty: every type.
    pub event_types: Vec<String>,
    /// Whether events of the range that have no delivery to the webhook get one.
    pub missing: bool,
}

#[derive(Debug, Clone)]
pub struct ReplayRequest {
    pub account_id: String,
    pub webhook_id: String,
    pub selection: ReplaySelection,
    pub now: DateTime<Utc>,
    /// `replay.max_per_job`: a job that would match more is refused.
    pub max: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Running,
    Done,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => JobStatus::Running,
            "done" => JobStatus::Done,
            "failed" => JobStatus::Failed,
            _ => return None,
        })
    }
}

/// Which part of its work a job is in: the deliveries first, then the missing events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayPhase {
    Deliveries,
    Missing,
}

impl ReplayPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplayPhase::Deliveries => "deliveries",
            ReplayPhase::Missing => "missing",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "deliveries" => ReplayPhase::Deliveries,
            "missing" => ReplayPhase::Missing,
            _ => return None,
        })
    }
}

/// Where a job stands: its phase and the last row it did (by creation time, then id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayCursor {
    pub phase: ReplayPhase,
    pub after: Option<(DateTime<Utc>, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReplayJob {
    pub id: String,
    pub account_id: String,
    pub webhook_id: String,
    pub selection: ReplaySelection,
    pub status: JobStatus,
    /// What matched when the job was made: deliveries, and events without one.
    pub total: u64,
    /// Rows worked through so far.
    pub done: u64,
    /// Deliveries made due again (those in flight at the time are left to their attempt).
    pub resent: u64,
    /// Deliveries made for events the webhook never had.
    pub created: u64,
    pub cursor: ReplayCursor,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The answer to a replay request.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplayStart {
    Started(Box<ReplayJob>),
    /// No such webhook in the account.
    NoWebhook,
    /// More would match than a job may hold.
    TooMany {
        matched: u64,
        max: u64,
    },
    /// A job of the webhook is still running (its id): two would send the same twice.
    Busy(String),
}

/// One batch of a job, read outside the write group and applied in it: the cursor it
/// moves from (the write checks that no one moved it meanwhile) and to.
#[derive(Debug, Clone)]
pub struct ReplayBatch {
    pub job_id: String,
    pub account_id: String,
    pub webhook_id: String,
    pub from: ReplayCursor,
    pub to: ReplayCursor,
    pub deliveries: Vec<String>,
    pub events: Vec<ReplayEvent>,
    /// Nothing follows this batch.
    pub last: bool,
    pub now: DateTime<Utc>,
    pub require_verification: bool,
}

/// What a batch did; `None` from the store when another node did it first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayProgress {
    pub resent: u64,
    pub created: u64,
}

/// An event of a replay's range that has no delivery to the webhook: what routing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayEvent {
    pub id: String,
    pub event_type: String,
    pub created_at: DateTime<Utc>,
}

/// The event types a replay of missing events looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventTypes {
    Only(Vec<String>),
    AllBut(Vec<String>),
}
