//! The calls the API makes at once on a user's request: fetching the URL ownership
//! file, and the test tool's call. Both go through the same guarded client as every
//! delivery.

use chrono::{DateTime, Utc};
use http::Method;
use postbode_core::clock::SharedClock;
use postbode_core::probe::{BoxFuture, FileCheck, SentRequest, TestBody, TestReport, VerificationReport, WebhookProbe};
use postbode_core::render;
use postbode_core::webhook::Webhook;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::attempt::not_sent;
use crate::call::{self, CallBuildError, CallContext};
use crate::http::{CallOutcome, ErrorKind, HttpClient, OutboundRequest};
use crate::keys::KeyRing;
use crate::settings::DeliverySettings;

/// The ownership file is small; anything larger is not it.
pub const MAX_FILE_BYTES: usize = 4096;
const FILE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Probe {
    http: HttpClient,
    clock: SharedClock,
    keyring: Arc<KeyRing>,
    /// `delivery.logged_response_bytes`: how much of a test call's answer is reported
    /// (and kept in the attempt log), as for every delivery.
    logged_response_bytes: usize,
}

impl Probe {
    pub fn new(
        clock: SharedClock,
        settings: &DeliverySettings,
        keyring: Arc<KeyRing>,
    ) -> Result<Self, crate::http::HttpError> {
        Ok(Self {
            http: HttpClient::new(settings.http())?,
            clock,
            keyring,
            logged_response_bytes: settings.logged_response_bytes,
        })
    }

    async fn check_file(&self, url: &str, expected: &str) -> FileCheck {
        let outcome = match url::Url::parse(url) {
            Err(e) => Err(format!("not a valid URL: {e}")),
            Ok(parsed) => {
                let mut request = OutboundRequest::new(Method::GET, parsed);
                request.max_response_bytes = Some(MAX_FILE_BYTES);
                request.timeout = Some(FILE_TIMEOUT);
                judge_file(self.http.send(request).await, expected)
            }
        };
        FileCheck {
            url: url.to_owned(),
            found: outcome.is_ok(),
            outcome: outcome.map_or_else(|why| why, |()| "found".to_owned()),
        }
    }
}

fn judge_file(outcome: CallOutcome, expected: &str) -> Result<(), String> {
    let response = outcome.result.map_err(|e| match e.kind {
        ErrorKind::Blocked => format!("blocked: {}", e.message),
        ErrorKind::Timeout => "timeout".to_owned(),
        kind => format!("{}: {}", kind.as_str(), e.message),
    })?;
    match response.status {
        200..=299 if response.truncated => Err(format!("too large (more than {MAX_FILE_BYTES} bytes)")),
        200..=299 if response.body.trim_ascii() == expected.as_bytes() => Ok(()),
        200..=299 => Err("wrong content".to_owned()),
        300..=399 => Err(format!(
            "redirect refused (HTTP {} to {})",
            response.status,
            response
                .headers
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("nowhere")
        )),
        404 | 410 => Err(format!("not found (HTTP {})", response.status)),
        status => Err(format!("HTTP {status}")),
    }
}

impl WebhookProbe for Probe {
    fn verify<'a>(&'a self, webhook: &'a Webhook) -> BoxFuture<'a, VerificationReport> {
        Box::pin(async move {
            let mut checked = Vec::new();
            for url in webhook.verification.file_urls(&webhook.settings.url) {
                let check = self.check_file(&url, &webhook.verification.file_content).await;
                let found = check.found;
                checked.push(check);
                if found {
                    break;
                }
            }
            VerificationReport {
                checked_at: self.clock.now(),
                checked,
            }
        })
    }

    fn test_call<'a>(
        &'a self,
        webhook: &'a Webhook,
        body: TestBody,
        delivery_id: &'a str,
    ) -> BoxFuture<'a, TestReport> {
        Box::pin(async move {
            let started_at = self.clock.now();
            let (event_type, rendered) = match body {
                TestBody::Event {
                    event_type,
                    canonical_json,
                } => {
                    let rendered =
                        render::render(webhook.settings.format, &canonical_json).map_err(CallBuildError::from);
                    (event_type, rendered)
                }
                TestBody::Raw { event_type, body } => (event_type, Ok(body)),
            };
            let keys = self.keyring.active(started_at).await;
            let request = rendered.and_then(|body| {
                let secrets = call::WebhookSecrets::open(webhook, &self.keyring.master)?;
                let context = CallContext {
                    delivery_id,
                    account_id: &webhook.account_id,
                    event_type: &event_type,
                    batched: None,
                    now: started_at,
                    traceparent: None,
                };
                let signing = call::Signing {
                    secrets: &secrets.signing(started_at),
                    keys: &keys,
                    settings: &self.keyring.settings,
                };
                call::build_request(webhook, &signing, body, &context)
            });
            let (sent, outcome) = match request {
                Ok(request) => (Some(sent_request(&self.http, &request)), self.http.send(request).await),
                Err(e) => (None, not_sent(ErrorKind::Other, e.to_string())),
            };
            TestReport {
                request: sent,
                ..report(outcome, started_at, self.logged_response_bytes)
            }
        })
    }
}

fn sent_request(http: &HttpClient, request: &OutboundRequest) -> SentRequest {
    SentRequest {
        method: request.method.to_string(),
        url: request.url.to_string(),
        headers: http
            .wire_headers(request)
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&request.body).into_owned(),
    }
}

fn report(outcome: CallOutcome, started_at: DateTime<Utc>, logged_bytes: usize) -> TestReport {
    let duration_ms = outcome.duration.as_millis() as u64;
    match outcome.result {
        Ok(response) => TestReport {
            started_at,
            request: None,
            status_code: Some(response.status),
            duration_ms,
            response_headers: response
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect::<BTreeMap<_, _>>(),
            response_body: Some(call::response_excerpt(&response.body, logged_bytes)),
            error: None,
            error_kind: None,
        },
        Err(e) => TestReport {
            started_at,
            request: None,
            status_code: None,
            duration_ms,
            response_headers: BTreeMap::new(),
            response_body: None,
            error: Some(e.to_string()),
            error_kind: Some(e.kind.as_str().to_owned()),
        },
    }
}
