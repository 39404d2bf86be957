//! What the engine's attempts add to the Prometheus metrics (`/metrics`): attempts by
//! result and error kind, their duration, and deliveries by outcome.
//!
//! Per-webhook series are bounded: only the webhooks of `metrics.webhooks` (at most
//! [`MAX_LABELLED_WEBHOOKS`]) get a `webhook` label of their own; every other
//! webhook's attempts are counted under `webhook="other"`.

use postbode_store::{AttemptOutcome, AttemptResult};
use std::collections::HashSet;
use std::sync::RwLock;

pub const MAX_LABELLED_WEBHOOKS: usize = 100;

static LABELLED: RwLock<Option<HashSet<String>>> = RwLock::new(None);

/// The webhooks whose series carry their own id (`metrics.webhooks`).
pub fn label_webhooks(ids: &[String]) {
    let ids = ids.iter().take(MAX_LABELLED_WEBHOOKS).cloned().collect();
    *LABELLED.write().unwrap_or_else(|p| p.into_inner()) = Some(ids);
}

fn webhook_label(id: &str) -> String {
    let labelled = LABELLED.read().unwrap_or_else(|p| p.into_inner());
    match labelled.as_ref().is_some_and(|ids| ids.contains(id)) {
        true => id.to_owned(),
        false => "other".to_owned(),
    }
}

/// Counts one attempt the engine made, and what became of its delivery.
pub fn record_attempt_metrics(result: &AttemptResult) {
    let attempt = &result.attempt;
    let webhook = webhook_label(&attempt.webhook_id);
    let succeeded = attempt.succeeded();
    let error_kind = match (&attempt.error_kind, succeeded) {
        (_, true) => "none".to_owned(),
        (Some(kind), false) => kind.clone(),
        // The receiver answered, with a status that is no success.
        (None, false) => "status".to_owned(),
    };
    metrics::counter!(
        "postbode_attempts_total",
        "result" => if succeeded { "succeeded" } else { "failed" },
        "error_kind" => error_kind,
        "webhook" => webhook.clone()
    )
    .increment(1);
    metrics::histogram!("postbode_attempt_duration_seconds", "webhook" => webhook.clone())
        .record(attempt.duration_ms as f64 / 1000.0);
    let outcome = match result.outcome {
        AttemptOutcome::Delivered => "delivered",
        AttemptOutcome::RetryAt(_) => "retrying",
        AttemptOutcome::Failed => "failed",
    };
    metrics::counter!("postbode_deliveries_total", "outcome" => outcome, "webhook" => webhook).increment(1);
}
