//! One attempt: a call with one delivery, or with a batch of them (`{"events": [...]}`,
//! one id and one signature for the whole), rendered, signed at send time and sent; and
//! what it means for each delivery (an `AttemptResult` each) and for the receiver's
//! load.
//!
//! A batch's deliveries get one verdict and, when it failed, one retry time, so they
//! fall due together again and go out as the same batch (same deliveries, same id).

use chrono::{DateTime, Utc};
use postbode_core::clock::SharedClock;
use postbode_core::trace::{self, TraceParent};
use postbode_core::webhook::Webhook;
use postbode_store::{AttemptOutcome, AttemptResult, ClaimedDelivery};
use std::time::Duration;
use tracing::Instrument;

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
    /// One per delivery of the call, in the call's order.
    pub results: Vec<AttemptResult>,
    pub load: Load,
    /// The receiver asked for a pause (429/503 `Retry-After`).
    pub retry_after: Option<Duration>,
    /// The receiver answered 410 Gone.
    pub gone: bool,
}

/// What an attempt needs besides the deliveries.
pub struct Context<'a> {
    pub http: &'a HttpClient,
    pub keyring: &'a KeyRing,
    pub settings: &'a DeliverySettings,
    pub clock: &'a SharedClock,
}

/// Sends `unit` (one delivery, or a batch) in one call, in a span of the event's trace
/// (a batch's span links to each event's) when traces are exported.
pub async fn attempt(cx: Context<'_>, target: &Target, unit: &[ClaimedDelivery]) -> Attempted {
    let single = match unit {
        [one] if target.webhook.settings.batch.is_none() => Some(one),
        _ => None,
    };
    let span = tracing::trace_span!(
        "delivery attempt",
        otel.kind = "client",
        webhook = %target.webhook.id,
        delivery = single.map(|d| d.delivery_id.as_str()),
        event = single.map(|d| d.event_id.as_str()),
        attempt = single.map(|d| d.attempts + 1),
        deliveries = unit.len(),
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
    );
    if !span.is_disabled() {
        match single.and_then(|d| d.trace_parent.as_ref()) {
            Some(event) => trace::set_parent(&span, event),
            None => unit
                .iter()
                .filter_map(|d| d.trace_parent.as_ref())
                .for_each(|event| trace::link(&span, event)),
        }
    }
    // The receiver's spans continue the attempt's; without exported spans, the event's.
    let traceparent = target
        .webhook
        .settings
        .send_traceparent
        .then(|| trace::context_of(&span).or_else(|| single.and_then(|d| d.trace_parent)))
        .flatten();
    let attempted = send(cx, target, unit, traceparent).instrument(span.clone()).await;
    if let Some(record) = attempted.results.first().filter(|_| !span.is_disabled()) {
        if let Some(status) = record.attempt.status_code {
            span.record("http.response.status_code", status);
        }
        if let Some(kind) = &record.attempt.error_kind {
            span.record("error.type", kind.as_str());
        }
    }
    attempted
}

async fn send(
    cx: Context<'_>,
    target: &Target,
    unit: &[ClaimedDelivery],
    traceparent: Option<TraceParent>,
) -> Attempted {
    let webhook = &target.webhook;
    let started_at = cx.clock.now();
    let outcome = match (&target.secrets, unit) {
        (Err(e), _) => not_sent(ErrorKind::Other, e.clone()),
        (Ok(_), []) => not_sent(ErrorKind::Other, "nothing to send".into()),
        (Ok(secrets), [first, ..]) => {
            let mut batch = webhook.settings.batch.and_then(|_| Batch::of(unit));
            let batch_body = batch.as_mut().map(|b| std::mem::take(&mut b.body));
            let context = CallContext {
                delivery_id: batch.as_ref().map_or(&first.delivery_id, |b| &b.id),
                account_id: &first.account_id,
                event_type: match batch {
                    Some(_) => "batch",
                    None => &first.event_type,
                },
                batched: batch.as_ref().map(|b| b.deliveries.as_str()),
                now: started_at,
                traceparent,
            };
            let keys = cx.keyring.active(started_at).await;
            let signing = call::Signing {
                secrets: &secrets.signing(started_at),
                keys: &keys,
                settings: &cx.keyring.settings,
            };
            let body = match batch_body {
                // Only json is batched (the settings refuse other formats).
                Some(body) => Ok(body),
                None => postbode_core::render::render(webhook.settings.format, &first.body)
                    .map_err(call::CallBuildError::from),
            };
            match body.and_then(|body| call::build_request(webhook, &signing, body, &context)) {
                Ok(request) => cx.http.send(request).await,
                Err(e) => not_sent(ErrorKind::Other, e.to_string()),
            }
        }
    };
    judge(cx.settings, unit, outcome, started_at, cx.clock.now())
}

/// A batching webhook's call: its own id and its body. Every call of such a webhook is
/// a batch, even of one, so its receiver sees one shape.
struct Batch {
    id: String,
    /// The deliveries' ids, comma-separated.
    deliveries: String,
    body: Vec<u8>,
}

impl Batch {
    fn of(unit: &[ClaimedDelivery]) -> Option<Self> {
        if unit.is_empty() {
            return None;
        }
        let mut ids: Vec<&str> = unit.iter().map(|d| d.delivery_id.as_str()).collect();
        let deliveries = ids.join(",");
        // The same deliveries make the same id, so a retried batch is recognisable.
        ids.sort_unstable();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, ids.join(",").as_bytes());
        let hex: String = digest.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect();
        let mut body = Vec::with_capacity(unit.iter().map(|d| d.body.len() + 1).sum::<usize>() + 12);
        body.extend_from_slice(br#"{"events":["#);
        for (n, delivery) in unit.iter().enumerate() {
            if n > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&delivery.body);
        }
        body.extend_from_slice(b"]}");
        Some(Self {
            id: format!("{}_{hex}", postbode_core::ids::BATCH),
            deliveries,
            body,
        })
    }
}

/// Each delivery's record and what the call means, from its outcome.
fn judge(
    settings: &DeliverySettings,
    unit: &[ClaimedDelivery],
    outcome: CallOutcome,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
) -> Attempted {
    let verdict = call::judge(&outcome);
    let record = call::attempt_record(&outcome, started_at, settings.logged_response_bytes);
    let disable_after = chrono::Duration::from_std(settings.disable_after).unwrap_or(chrono::Duration::MAX);
    // One next step for the whole call: a failed batch falls due again as one.
    let attempts = unit.iter().map(|d| d.attempts).max().unwrap_or(0);
    let next = call::next_step(&verdict, attempts + 1, &settings.retry, finished_at);
    let results = unit
        .iter()
        .map(|delivery| {
            let mut attempt = record.clone();
            attempt.id = postbode_core::ids::new_id(postbode_core::ids::ATTEMPT);
            attempt.delivery_id = Some(delivery.delivery_id.clone());
            attempt.webhook_id = delivery.webhook_id.clone();
            attempt.event_id = Some(delivery.event_id.clone());
            attempt.number = delivery.attempts + 1;
            attempt.trigger = delivery.trigger;
            AttemptResult {
                account_id: delivery.account_id.clone(),
                outcome: match &next {
                    // A delivery with attempts to spare is not failed for a batch mate's count.
                    AttemptOutcome::Failed if delivery.attempts < attempts => {
                        call::next_step(&verdict, delivery.attempts + 1, &settings.retry, finished_at)
                    }
                    other => other.clone(),
                },
                disable_webhook: verdict.gone.then(|| {
                    format!(
                        "the receiver answered 410 Gone at {}",
                        finished_at.format("%Y-%m-%dT%H:%M:%SZ")
                    )
                }),
                disable_if_failing_since: finished_at - disable_after,
                attempt,
            }
        })
        .collect();
    Attempted {
        results,
        load: load(&outcome),
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

#[cfg(test)]
mod tests {
    use super::*;
    use postbode_store::Trigger;

    fn delivery(id: &str, body: &str) -> ClaimedDelivery {
        ClaimedDelivery {
            delivery_id: id.into(),
            event_id: format!("evt_{id}"),
            webhook_id: "wh_1".into(),
            account_id: "acc_1".into(),
            attempts: 0,
            trigger: Trigger::Scheduled,
            event_type: "x".into(),
            body: bytes::Bytes::from(body.to_owned()),
            due_at: DateTime::<Utc>::MIN_UTC,
            ordering_key: None,
            trace_parent: None,
        }
    }

    #[test]
    fn a_batch_is_its_events_in_one_array_under_an_id_of_its_deliveries() {
        let alone = Batch::of(&[delivery("dlv_a", "{}")]).unwrap();
        assert_eq!(alone.body, br#"{"events":[{}]}"#, "one delivery is a batch of one");
        let unit = [delivery("dlv_b", r#"{"n":1}"#), delivery("dlv_a", r#"{"n":2}"#)];
        let batch = Batch::of(&unit).unwrap();
        assert_eq!(batch.body, br#"{"events":[{"n":1},{"n":2}]}"#);
        assert_eq!(batch.deliveries, "dlv_b,dlv_a");
        let parsed: serde_json::Value = serde_json::from_slice(&batch.body).unwrap();
        assert_eq!(parsed["events"][1]["n"], 2);
        let same = Batch::of(&[unit[1].clone(), unit[0].clone()]).unwrap();
        assert_eq!(same.id, batch.id, "the same deliveries make the same id");
        let other = Batch::of(&[unit[0].clone(), delivery("dlv_c", "{}")]).unwrap();
        assert_ne!(other.id, batch.id);
        assert!(batch.id.starts_with("bat_"));
    }
}
