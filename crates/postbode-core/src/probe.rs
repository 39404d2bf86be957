//! Calls the API makes on a user's request, at once: downloading the URL ownership file
//! and the test tool's call. The delivery crate implements [`WebhookProbe`]; the server
//! only knows this interface, so the two never depend on each other.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use crate::webhook::Webhook;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What one candidate URL of the ownership file gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileCheck {
    pub url: String,
    /// `found`, or why not: `not found (HTTP 404)`, `wrong content`, `redirect refused`, ...
    pub outcome: String,
    #[serde(skip)]
    pub found: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerificationReport {
    pub checked_at: DateTime<Utc>,
    pub checked: Vec<FileCheck>,
}

impl VerificationReport {
    pub fn verified(&self) -> bool {
        self.checked.iter().any(|c| c.found)
    }

    /// One line for the webhook's `verification.outcome`.
    pub fn summary(&self) -> String {
        match self.checked.iter().find(|c| c.found) {
            Some(found) => format!("found at {}", found.url),
            None => self
                .checked
                .iter()
                .map(|c| format!("{}: {}", c.url, c.outcome))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// What the test tool sends: a body rendered like a real event, or raw post data.
#[derive(Debug, Clone)]
pub enum TestBody {
    /// The canonical JSON body of an event, rendered in the webhook's format.
    Event {
        event_type: String,
        canonical_json: Vec<u8>,
    },
    /// Sent as is, with the webhook's content type.
    Raw { event_type: String, body: Vec<u8> },
}

/// The request a test call sent, exactly as it went on the wire (signatures included),
/// so a user can compare it with what their receiver saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SentRequest {
    pub method: String,
    pub url: String,
    /// In the order they were sent.
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
}

/// The receiver's answer to a test call, or why there was none.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestReport {
    pub started_at: DateTime<Utc>,
    /// `None` when the request could not be built (no key, a secret that does not open).
    pub request: Option<SentRequest>,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub response_headers: BTreeMap<String, String>,
    /// The answer's first `delivery.logged_response_bytes` bytes, as the attempt log keeps them.
    pub response_body: Option<String>,
    pub error: Option<String>,
    #[serde(skip)]
    pub error_kind: Option<String>,
}

pub trait WebhookProbe: Send + Sync + 'static {
    /// Downloads the ownership file from each candidate URL, script directory first,
    /// and stops at the first that matches.
    fn verify<'a>(&'a self, webhook: &'a Webhook) -> BoxFuture<'a, VerificationReport>;

    /// Makes one real, signed call now.
    fn test_call<'a>(&'a self, webhook: &'a Webhook, body: TestBody, delivery_id: &'a str)
    -> BoxFuture<'a, TestReport>;
}
