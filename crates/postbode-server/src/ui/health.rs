//! The "Health" card of a webhook's page: what the engine of this node is doing for it
//! (adaptive limit, calls in flight, last back-off, circuit breaker) beside the stored
//! pause, which every node honours, and how its calls are shaped (batching, ordering).
//! The same sources as the API's `health`, put into sentences.

use chrono::{DateTime, Utc};
use postbode_core::runtime::{Circuit, WebhookRuntime};
use postbode_core::webhook::Webhook;
use postbode_store::Undelivered;

use super::page::when;

pub struct Health {
    /// The adaptive limit against its ceiling, or that this node holds nothing of it.
    pub limit: String,
    pub in_flight: String,
    pub backoff: String,
    pub breaker: String,
    /// `ok`, `warn` or `bad`, for the breaker's badge.
    pub breaker_tone: &'static str,
    pub failing_since: Option<String>,
    pub batching: String,
    pub ordering: String,
    /// Deliveries waiting for the disabled webhook, and what they wait for.
    pub held: String,
    /// Events of the last 24 hours not sent because the URL is not verified.
    pub skipped_unverified: String,
    /// `ok` when nothing waits or was skipped, `warn` otherwise.
    pub undelivered_tone: &'static str,
}

impl Health {
    pub fn new(
        webhook: &Webhook,
        engine: Option<&WebhookRuntime>,
        undelivered: Undelivered,
        now: DateTime<Utc>,
    ) -> Self {
        let settings = &webhook.settings;
        let (limit, in_flight, backoff) = match engine {
            Some(r) => (
                format!("{} of at most {} calls at once", r.limit, r.max_concurrency),
                format!("{} in flight, {} waiting in memory", r.in_flight, r.queued),
                r.last_backoff
                    .as_ref()
                    .map_or_else(|| "none".to_owned(), |b| format!("{} at {}", b.reason, when(b.at))),
            ),
            None => (
                format!(
                    "idle on this node (it adapts below at most {} calls at once when calls go out)",
                    settings.max_concurrency
                ),
                "0".to_owned(),
                "none".to_owned(),
            ),
        };
        let (breaker, breaker_tone) = breaker(webhook, engine, now);
        Self {
            limit,
            in_flight,
            backoff,
            breaker,
            breaker_tone,
            failing_since: webhook.failing_since.map(when),
            batching: settings.batch.map_or_else(
                || "off".to_owned(),
                |b| {
                    format!(
                        "on: up to {} events per call, waiting at most {} ms for more",
                        b.max_events, b.max_wait_ms
                    )
                },
            ),
            ordering: match settings.ordering {
                Some(_) => "per profile: a profile's events go out one at a time, in order".to_owned(),
                None => "none: events go out in parallel".to_owned(),
            },
            held: held(undelivered.held, settings.enabled),
            skipped_unverified: skipped_unverified(undelivered.skipped_unverified),
            undelivered_tone: if undelivered == Undelivered::default() {
                "ok"
            } else {
                "warn"
            },
        }
    }
}

/// Held deliveries, said with what releases them (the list says the same in short).
pub fn held(count: u64, enabled: bool) -> String {
    match (count, enabled) {
        (0, _) => "none".to_owned(),
        (n, false) => format!("{} held: sent when the webhook is enabled again", deliveries(n)),
        (n, true) => format!("{} held, going out now that the webhook is enabled", deliveries(n)),
    }
}

pub fn skipped_unverified(count: u64) -> String {
    match count {
        0 => "none".to_owned(),
        1 => "1 event not sent: the URL is not verified (it is not sent later)".to_owned(),
        n => format!("{n} events not sent: the URL is not verified (they are not sent later)"),
    }
}

fn deliveries(n: u64) -> String {
    if n == 1 {
        "1 delivery".to_owned()
    } else {
        format!("{n} deliveries")
    }
}

/// This node's circuit first (it knows about a probe under way); otherwise the stored
/// pause, which another node may have set.
fn breaker(webhook: &Webhook, engine: Option<&WebhookRuntime>, now: DateTime<Utc>) -> (String, &'static str) {
    let paused = |until: DateTime<Utc>, reason: Option<&str>| {
        let reason = reason.map(|r| format!(": {r}")).unwrap_or_default();
        (format!("paused until {}{reason}", when(until)), "bad")
    };
    match engine.map(|r| &r.circuit) {
        Some(Circuit::Open { until, reason }) => paused(*until, Some(reason)),
        Some(Circuit::HalfOpen) => (
            "probing: one call tries whether the receiver is back".to_owned(),
            "warn",
        ),
        Some(Circuit::Closed) | None => match webhook.paused_until {
            Some(until) if until > now => paused(until, webhook.pause_reason.as_deref()),
            _ => ("closed: calls go out".to_owned(), "ok"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postbode_core::webhook::{Verification, VerificationStatus, WebhookSettings};

    fn webhook(settings: serde_json::Value) -> Webhook {
        let now = Utc::now();
        Webhook {
            id: "wh_1".into(),
            account_id: "acc_1".into(),
            settings: serde_json::from_value::<WebhookSettings>(settings).unwrap(),
            disabled_reason: None,
            secret: String::new(),
            previous_secret: None,
            verification: Verification {
                status: VerificationStatus::Verified,
                domain: None,
                file_name: "f".into(),
                file_content: "c".into(),
                checked_at: None,
                outcome: None,
            },
            failing_since: None,
            paused_until: None,
            pause_reason: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn runtime(circuit: Circuit) -> WebhookRuntime {
        WebhookRuntime {
            limit: 4,
            max_concurrency: 64,
            in_flight: 2,
            queued: 1,
            circuit,
            last_backoff: None,
        }
    }

    #[test]
    fn a_pause_stored_by_another_node_shows_while_this_one_is_closed_or_idle() {
        let now = Utc::now();
        let mut hook = webhook(serde_json::json!({"url": "https://example.com/h"}));
        hook.paused_until = Some(now + chrono::Duration::seconds(30));
        hook.pause_reason = Some("HTTP 503 with Retry-After".into());
        for engine in [None, Some(runtime(Circuit::Closed))] {
            let health = Health::new(&hook, engine.as_ref(), Undelivered::default(), now);
            assert!(health.breaker.starts_with("paused until"), "{}", health.breaker);
            assert!(health.breaker.ends_with(": HTTP 503 with Retry-After"));
            assert_eq!(health.breaker_tone, "bad");
        }
        // A pause that is over is closed, and this node's probe says more than the store.
        let over = Health::new(&hook, None, Undelivered::default(), now + chrono::Duration::seconds(31));
        assert_eq!(over.breaker, "closed: calls go out");
        let probing = Health::new(&hook, Some(&runtime(Circuit::HalfOpen)), Undelivered::default(), now);
        assert!(probing.breaker.starts_with("probing"), "{}", probing.breaker);
    }

    #[test]
    fn the_limit_and_the_shape_of_calls() {
        let now = Utc::now();
        let hook = webhook(serde_json::json!({
            "url": "https://example.com/h",
            "batch": {"max_events": 50, "max_wait_ms": 200},
            "ordering": "profile",
        }));
        let busy = Health::new(&hook, Some(&runtime(Circuit::Closed)), Undelivered::default(), now);
        assert_eq!(busy.limit, "4 of at most 64 calls at once");
        assert_eq!(busy.in_flight, "2 in flight, 1 waiting in memory");
        assert!(
            busy.batching
                .starts_with("on: up to 50 events per call, waiting at most 200 ms")
        );
        assert!(busy.ordering.starts_with("per profile"));
        let plain = Health::new(
            &webhook(serde_json::json!({"url": "https://example.com/h"})),
            None,
            Undelivered::default(),
            now,
        );
        assert!(plain.limit.starts_with("idle on this node"), "{}", plain.limit);
        assert_eq!(plain.batching, "off");
        assert!(plain.ordering.starts_with("none"));
        assert_eq!((plain.held.as_str(), plain.undelivered_tone), ("none", "ok"));
    }

    #[test]
    fn held_and_skipped_events_say_what_becomes_of_them() {
        let now = Utc::now();
        let mut hook = webhook(serde_json::json!({"url": "https://example.com/h", "enabled": false}));
        hook.disabled_reason = Some("the receiver answered 410 Gone".into());
        let counts = Undelivered {
            held: 3,
            skipped_unverified: 1,
        };
        let health = Health::new(&hook, None, counts, now);
        assert_eq!(health.held, "3 deliveries held: sent when the webhook is enabled again");
        assert!(health.skipped_unverified.starts_with("1 event not sent"));
        assert_eq!(health.undelivered_tone, "warn");
    }
}
