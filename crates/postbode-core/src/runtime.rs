//! What the delivery engine is doing for a webhook right now: its adaptive limit, calls
//! in flight, the last back-off and whether its calls are paused. The delivery crate
//! implements [`EngineView`]; the API and the dashboard only know this interface.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Why and when the engine last lowered a webhook's limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Backoff {
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// Whether a webhook's calls go out (`closed`), are paused after a run of failures or
/// a `Retry-After` (`open`, until when), or wait for one probe call (`half_open`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Circuit {
    Closed,
    Open { until: DateTime<Utc>, reason: String },
    HalfOpen,
}

/// One webhook as this node's engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookRuntime {
    /// Calls allowed in flight now (the adaptive limit).
    pub limit: u32,
    /// The ceiling the limit grows to (`max_concurrency`).
    pub max_concurrency: u32,
    pub in_flight: u32,
    /// Deliveries held in memory, waiting for a free slot.
    pub queued: u32,
    pub circuit: Circuit,
    pub last_backoff: Option<Backoff>,
}

pub trait EngineView: Send + Sync {
    /// `None` when the engine holds nothing of the webhook (it is idle on this node).
    fn webhook(&self, id: &str) -> Option<WebhookRuntime>;
}
