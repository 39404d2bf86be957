//! One webhook call: the request built from a claimed delivery, and what its answer
//! means for the delivery.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use postbode_core::render;
use postbode_core::signing_keys::SignatureSettings;
use postbode_core::trace::TraceParent;
use postbode_core::webhook::{SignatureScheme, Webhook};
use postbode_signature::sealed::MasterKey;
use postbode_signature::standard_webhooks::{self, Secret};
use postbode_signature::{Request as SignedRequest, http_signature, rfc9421};
use postbode_store::{Attempt, AttemptOutcome};
use std::time::Duration;

use crate::http::{CallOutcome, OutboundRequest};
use crate::keys::ActiveKeys;

/// What a receiver needs to know about a call besides its body.
pub struct CallContext<'a> {
    /// The delivery's id, or a batch's own id.
    pub delivery_id: &'a str,
    pub account_id: &'a str,
    pub event_type: &'a str,
    /// A batch's deliveries, comma-separated (`X-Postbode-Deliveries`).
    pub batched: Option<&'a str>,
    pub now: DateTime<Utc>,
    /// Sent as `traceparent` (for webhooks with `send_traceparent`).
    pub traceparent: Option<TraceParent>,
}

#[derive(Debug, thiserror::Error)]
pub enum CallBuildError {
    #[error("the webhook URL is not valid: {0}")]
    Url(#[from] url::ParseError),
    #[error(transparent)]
    Render(#[from] render::RenderError),
    #[error("a header value is not valid: {0}")]
    Header(String),
    #[error("the webhook's secret cannot be opened: {0}")]
    Secret(String),
    #[error("no active {0} signing key")]
    NoKey(&'static str),
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A webhook's secrets, opened with the master key: the current one, and the previous
/// one with the end of its overlap after a rotation.
pub struct WebhookSecrets {
    current: Secret,
    previous: Option<(Secret, DateTime<Utc>)>,
}

impl WebhookSecrets {
    pub fn open(webhook: &Webhook, master: &MasterKey) -> Result<Self, CallBuildError> {
        let open = |sealed: &str| {
            let plain = master
                .open(sealed, &webhook.id)
                .map_err(|e| CallBuildError::Secret(e.to_string()))?;
            let text = String::from_utf8(plain).map_err(|e| CallBuildError::Secret(e.to_string()))?;
            Secret::parse(&text).map_err(|e| CallBuildError::Secret(e.to_string()))
        };
        Ok(Self {
            current: open(&webhook.secret)?,
            previous: match &webhook.previous_secret {
                Some((sealed, until)) => Some((open(sealed)?, *until)),
                None => None,
            },
        })
    }

    /// The secrets that sign a call made at `now`.
    pub fn signing(&self, now: DateTime<Utc>) -> Vec<Secret> {
        let mut secrets = vec![self.current.clone()];
        if let Some((previous, until)) = &self.previous
            && now < *until
        {
            secrets.push(previous.clone());
        }
        secrets
    }
}

/// What a call is signed with.
pub struct Signing<'a> {
    /// The webhook's HMAC secrets (several during a rotation).
    pub secrets: &'a [Secret],
    pub keys: &'a ActiveKeys,
    pub settings: &'a SignatureSettings,
}

/// Heads and signs the call with an already rendered body (see [`render::render`]).
/// Signing happens here, at send time, so `Date`, nonces and timestamps are fresh on
/// every attempt.
pub fn build_request(
    webhook: &Webhook,
    signing: &Signing<'_>,
    body: Vec<u8>,
    call: &CallContext<'_>,
) -> Result<OutboundRequest, CallBuildError> {
    let url = url::Url::parse(&webhook.settings.url)?;
    let mut headers = HeaderMap::with_capacity(8 + webhook.settings.headers.len());
    // The webhook's own headers first, so none of ours can be shadowed by them.
    for (name, value) in &webhook.settings.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| CallBuildError::Header(e.to_string()))?;
        headers.insert(name, header(value)?);
    }
    let timestamp = call.now.timestamp();
    let content_type = webhook.settings.format.content_type();
    // Host and Content-Length are set here, as signed, so the wire carries exactly them.
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let length = body.len().to_string();
    headers.insert(http::header::HOST, header(&host)?);
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(http::header::CONTENT_LENGTH, header(&length)?);
    headers.insert(http::header::DATE, header(&httpdate::fmt_http_date(call.now.into()))?);
    headers.insert("x-postbode-delivery", header(call.delivery_id)?);
    headers.insert("x-postbode-event", header(call.event_type)?);
    if let Some(deliveries) = call.batched {
        headers.insert("x-postbode-deliveries", header(deliveries)?);
    }
    if let Some(trace) = call.traceparent {
        headers.insert("traceparent", header(&trace.to_string())?);
    }
    let schemes = &webhook.settings.signatures;
    if schemes.contains(&SignatureScheme::StandardWebhooks) {
        headers.insert("webhook-id", header(call.delivery_id)?);
        headers.insert("webhook-timestamp", header(&timestamp.to_string())?);
        let signature = standard_webhooks::sign_all(signing.secrets, call.delivery_id, timestamp, &body);
        headers.insert("webhook-signature", header(&signature)?);
    }
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let account = http_signature::account_value(&signing.settings.account_prefix, call.account_id);
    let signed_headers = [
        ("Host", host.as_str()),
        ("Content-Type", content_type),
        ("Content-Length", length.as_str()),
    ];
    let request = SignedRequest {
        method: "POST",
        target: &target,
        headers: &signed_headers,
        body: &body,
    };
    let mut added: Vec<(String, String)> = Vec::new();
    if schemes.contains(&SignatureScheme::HttpSignature) {
        let (key_id, key) = signing.keys.rsa.as_ref().ok_or(CallBuildError::NoKey("RSA"))?;
        let signer = http_signature::Signer {
            key,
            key_id,
            account_header: &signing.settings.account_header,
            account_value: &account,
        };
        let signed = signer
            .sign(&request, timestamp)
            .map_err(|e| CallBuildError::Sign(e.to_string()))?;
        added.extend(signed.pairs());
    }
    if schemes.contains(&SignatureScheme::Rfc9421) {
        let (key_id, key) = signing.keys.ed25519.as_ref().ok_or(CallBuildError::NoKey("Ed25519"))?;
        let signer = rfc9421::Signer {
            key,
            key_id,
            account_header: &signing.settings.account_header,
            account_value: &account,
        };
        let signed = signer
            .sign(&request, url.scheme(), timestamp)
            .map_err(|e| CallBuildError::Sign(e.to_string()))?;
        added.extend(signed.pairs());
    }
    for (name, value) in added {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| CallBuildError::Header(e.to_string()))?;
        headers.insert(name, header(&value)?);
    }
    let mut request = OutboundRequest::new(Method::POST, url);
    request.headers = headers;
    request.body = Bytes::from(body);
    Ok(request)
}

fn header(value: &str) -> Result<HeaderValue, CallBuildError> {
    HeaderValue::from_str(value).map_err(|e| CallBuildError::Header(e.to_string()))
}

/// What an answer means.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub succeeded: bool,
    /// The receiver asked to wait this long before the next try (429/503 `Retry-After`).
    pub retry_after: Option<Duration>,
    /// 410 Gone: the receiver asks never to be called again.
    pub gone: bool,
}

pub fn judge(outcome: &CallOutcome) -> Verdict {
    match &outcome.result {
        Ok(response) => Verdict {
            succeeded: (200..300).contains(&response.status),
            retry_after: if matches!(response.status, 429 | 503) {
                response.retry_after
            } else {
                None
            },
            gone: response.status == 410,
        },
        Err(_) => Verdict {
            succeeded: false,
            retry_after: None,
            gone: false,
        },
    }
}

/// What the attempt log keeps of a receiver's answer: its first `logged_bytes` bytes
/// (`delivery.logged_response_bytes`), as text.
pub fn response_excerpt(body: &[u8], logged_bytes: usize) -> String {
    String::from_utf8_lossy(&body[..body.len().min(logged_bytes)]).into_owned()
}

/// The attempt log row for a call.
pub fn attempt_record(outcome: &CallOutcome, started_at: DateTime<Utc>, logged_bytes: usize) -> Attempt {
    let (status_code, error_kind, error, response_body) = match &outcome.result {
        Ok(response) => {
            let error = (300..400).contains(&response.status).then(|| {
                let location = response
                    .headers
                    .get(http::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("no Location");
                format!("redirects are not followed ({location})")
            });
            (
                Some(response.status),
                None,
                error,
                Some(response_excerpt(&response.body, logged_bytes)),
            )
        }
        Err(e) => (None, Some(e.kind.as_str().to_owned()), Some(e.message.clone()), None),
    };
    Attempt {
        id: postbode_core::ids::new_id(postbode_core::ids::ATTEMPT),
        delivery_id: None,
        webhook_id: String::new(),
        event_id: None,
        number: 0,
        trigger: postbode_store::Trigger::Scheduled,
        started_at,
        duration_ms: outcome.duration.as_millis() as u64,
        status_code,
        error_kind,
        error,
        response_body,
    }
}

/// What becomes of the delivery after attempt number `attempt` with this verdict.
pub fn next_step(
    verdict: &Verdict,
    attempt: u32,
    retry: &postbode_core::retry::RetryPolicy,
    now: DateTime<Utc>,
) -> AttemptOutcome {
    if verdict.succeeded {
        return AttemptOutcome::Delivered;
    }
    match retry.next_delay(attempt, verdict.retry_after) {
        Some(wait) => AttemptOutcome::RetryAt(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)),
        None => AttemptOutcome::Failed,
    }
}
