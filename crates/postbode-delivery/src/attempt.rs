//! One attempt of a delivery: the call rendered, signed at send time and sent, and what
//! it means for the delivery (its `AttemptResult`) and for the receiver's load.

use chrono::{DateTime, Utc};
use postbode_core::clock::SharedClock;
use postbode_core::webhook::Webhook;
use postbode_store::{AttemptResult, ClaimedDelivery};
use std::time::Duration;

use crate::call::{self, CallContext, WebhookSecrets};
use crate::http::{CallError, CallOutcome, ErrorKind, HttpClient};
use crate::keys::KeyRing;
use crate::settings::DeliverySettings;

/// A webhook as the engine calls it: its settings and its opened secrets.
pub struct Target {
    pub webhook: Webhook,
    pub secrets: Result<WebhookSecrets, String>,
}

impl Target {
    pub fn new(webhook: Webhook, keyring: &KeyRing) -> Self {
        let secrets = WebhookSecrets::open(&webhook, &keyring.master).map_err(|e| e.to_string());
        Self { webhook, secrets }
    }
}

/// What an attempt says about the receiver's load, for the adaptive limit.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    /// Answered 2xx after this long.
    Fine(Duration),
    /// A timeout, a connection failure, a 5xx or a 429: the receiver has too much.
    Overloaded(String),
    /// Says nothing about load (a 4xx, an address the guard refused, a body that could
    /// not be built).
    Neutral(String),
}

pub struct Attempted {
    pub result: AttemptResult,
    pub load: Load,
    /// The receiver asked for a pause (429/503 `Retry-After`).
    pub retry_after: Option<Duration>,
    /// The receiver answered 410 Gone.
    pub gone: bool,
}

/// What an attempt needs besides the delivery.
pub struct Context<'a> {
    pub http: &'a HttpClient,
    pub keyring: &'a KeyRing,
    pub settings: &'a DeliverySettings,
    pub clock: &'a SharedClock,
}

pub async fn attempt(cx: Context<'_>, target: &Target, delivery: &ClaimedDelivery) -> Attempted {
    let webhook = &target.webhook;
    let started_at = cx.clock.now();
    let outcome = match &target.secrets {
        Ok(secrets) => {
            let context = CallContext {
                delivery_id: &delivery.delivery_id,
                account_id: &delivery.account_id,
                event_type: &delivery.event_type,
                now: started_at,
            };
            let keys = cx.keyring.active(started_at).await;
            let signing = call::Signing {
                secrets: &secrets.signing(started_at),
                keys: &keys,
                settings: &cx.keyring.settings,
            };
            let request = postbode_core::render::render(webhook.settings.format, &delivery.body)
                .map_err(call::CallBuildError::from)
                .and_then(|body| call::build_request(webhook, &signing, body, &context));
            match request {
                Ok(request) => cx.http.send(request).await,
                Err(e) => not_sent(ErrorKind::Other, e.to_string()),
            }
        }
        Err(e) => not_sent(ErrorKind::Other, e.clone()),
    };
    judge(cx.settings, delivery, outcome, started_at, cx.clock.now())
}

/// The attempt's record and what it means, from the call's outcome.
fn judge(
    settings: &DeliverySettings,
    delivery: &ClaimedDelivery,
    outcome: CallOutcome,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
) -> Attempted {
    let number = delivery.attempts + 1;
    let verdict = call::judge(&outcome);
    let mut record = call::attempt_record(&outcome, started_at, settings.logged_response_bytes);
    record.delivery_id = Some(delivery.delivery_id.clone());
    record.webhook_id = delivery.webhook_id.clone();
    record.event_id = Some(delivery.event_id.clone());
    record.number = number;
    record.trigger = delivery.trigger;
    let disable_after = chrono::Duration::from_std(settings.disable_after).unwrap_or(chrono::Duration::MAX);
    let load = load(&outcome);
    Attempted {
        result: AttemptResult {
            account_id: delivery.account_id.clone(),
            outcome: call::next_step(&verdict, number, &settings.retry, finished_at),
            disable_webhook: verdict.gone.then(|| {
                format!(
                    "the receiver answered 410 Gone at {}",
                    finished_at.format("%Y-%m-%dT%H:%M:%SZ")
                )
            }),
            disable_if_failing_since: finished_at - disable_after,
            attempt: record,
        },
        load,
        retry_after: verdict.retry_after,
        gone: verdict.gone,
    }
}

fn load(outcome: &CallOutcome) -> Load {
    match &outcome.result {
        Ok(response) if (200..300).contains(&response.status) => Load::Fine(outcome.duration),
        Ok(response) if response.status == 429 || response.status >= 500 => {
            Load::Overloaded(format!("HTTP {}", response.status))
        }
        Ok(response) => Load::Neutral(format!("HTTP {}", response.status)),
        Err(CallError { kind, .. }) => match kind {
            ErrorKind::Timeout | ErrorKind::Connect | ErrorKind::Body => Load::Overloaded(kind.as_str().to_owned()),
            ErrorKind::Dns | ErrorKind::Tls | ErrorKind::Blocked | ErrorKind::InvalidUrl | ErrorKind::Other => {
                Load::Neutral(kind.as_str().to_owned())
            }
        },
    }
}

pub(crate) fn not_sent(kind: ErrorKind, message: String) -> CallOutcome {
    CallOutcome {
        started_at: std::time::SystemTime::now(),
        duration: Duration::ZERO,
        result: Err(CallError { kind, message }),
    }
}
