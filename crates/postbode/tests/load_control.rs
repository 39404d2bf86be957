//! The engine's load control end to end: the adaptive limit, the circuit breaker and
//! `Retry-After`, seen through the webhook's `health` in the API. Timing that matters
//! runs on the test clock.

mod common;

use common::{Receiver, Reply, Service, eventually};
use serde_json::{Value, json};
use std::time::Duration;

/// The webhook as the API shows it, once `ready` holds for it.
async fn webhook_when(service: &Service, key: &str, id: &str, ready: impl Fn(&Value) -> bool) -> Value {
    eventually("the webhook's health to reach the expected state", || async {
        let (status, webhook) = service.call("GET", &format!("/v1/webhooks/{id}"), key, None).await;
        assert_eq!(status, 200, "{webhook}");
        ready(&webhook).then_some(webhook)
    })
    .await
}

async fn send_events(service: &Service, key: &str, count: usize) {
    let events: Vec<Value> = (0..count).map(|n| json!({ "type": "x", "data": n })).collect();
    let (status, answer) = service
        .call("POST", "/v1/events/batch", key, Some(json!({ "events": events })))
        .await;
    assert_eq!(status, 202, "{answer}");
}

fn limit(webhook: &Value) -> u64 {
    webhook["health"]["engine"]["limit"].as_u64().unwrap_or(0)
}

fn circuit(webhook: &Value) -> &str {
    webhook["health"]["engine"]["circuit"]["state"].as_str().unwrap_or("")
}

/// A 503 with `Retry-After` halves the limit and pauses the webhook until then, on
/// every node (the pause is stored); what waits meanwhile spends no attempt.
#[tokio::test]
async fn a_503_with_retry_after_backs_off_and_pauses_until_then() {
    let service = Service::start().await;
    let receiver = Receiver::answering(|n| match n {
        0 => Reply::With {
            status: 503,
            headers: vec![("retry-after", "30".into())],
            body: "maintenance".into(),
        },
        _ => Reply::Status(200),
    })
    .await;
    let key = service.account("Acme").await;
    let webhook = service.webhook(&key, json!({ "url": receiver.url })).await;
    let id = webhook["id"].as_str().unwrap();
    let started = postbode_core::Clock::now(service.clock.as_ref());
    let first = service.send_event(&key, json!({ "type": "x" })).await;
    service.delivery_when(&key, &first, |d| d["attempts"] == 1).await;
    let paused = webhook_when(&service, &key, id, |w| !w["health"]["paused_until"].is_null()).await;
    let health = &paused["health"];
    let until: chrono::DateTime<chrono::Utc> = serde_json::from_value(health["paused_until"].clone()).unwrap();
    // Stored times are kept to the millisecond.
    let asked = until.timestamp_millis() - started.timestamp_millis();
    assert!((30_000..31_000).contains(&asked), "30 s from the call: {health}");
    assert!(health["pause_reason"].as_str().unwrap().contains("503"), "{health}");
    assert_eq!(limit(&paused), 4, "the default 8 halved: {health}");
    assert_eq!(health["engine"]["max_concurrency"], 64);
    assert!(
        health["engine"]["last_backoff"]["reason"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{health}"
    );
    assert_eq!(circuit(&paused), "open", "{health}");

    // Accepted while paused, and held back without spending attempts.
    send_events(&service, &key, 5).await;
    let waiting = service.deliveries(&key, id, "status=pending").await;
    assert_eq!(waiting.len(), 6);
    assert_eq!(waiting.iter().filter(|d| d["attempts"] == 0).count(), 5);
    assert_eq!(receiver.count(), 1, "nothing goes out while paused");

    service.advance(Duration::from_secs(30));
    service.settled_calls(&key, &webhook, &receiver).await;
    assert_eq!(receiver.count(), 7, "the failed one once more, the five once each");
    let resumed = webhook_when(&service, &key, id, |w| w["health"]["paused_until"].is_null()).await;
    assert_eq!(circuit(&resumed), "closed", "{}", resumed["health"]);
    assert_eq!(
        limit(&resumed),
        8,
        "a receiver that is back starts again at the default"
    );
}

/// Calls that time out halve the limit once for all the calls in flight with them; fast
/// answers grow it back.
#[tokio::test]
async fn timeouts_back_off_the_limit_and_fast_answers_grow_it_again() {
    let service = Service::start_with(|c| {
        c.delivery.total_timeout = Duration::from_millis(300);
        c.delivery.lease = Duration::from_secs(5);
    })
    .await;
    let receiver = Receiver::answering(|n| if n < 2 { Reply::Hang } else { Reply::Status(200) }).await;
    let key = service.account("Acme").await;
    let webhook = service.webhook(&key, json!({ "url": receiver.url })).await;
    let id = webhook["id"].as_str().unwrap();
    send_events(&service, &key, 2).await;

    let backed_off = webhook_when(&service, &key, id, |w| !w["health"]["engine"]["last_backoff"].is_null()).await;
    let health = &backed_off["health"];
    assert_eq!(health["engine"]["last_backoff"]["reason"], "timeout", "{health}");
    // Two calls timed out together: one halving, not two.
    let after_timeouts = webhook_when(&service, &key, id, |w| w["health"]["engine"]["in_flight"] == 0).await;
    assert_eq!(limit(&after_timeouts), 4, "{}", after_timeouts["health"]);
    assert_eq!(circuit(&after_timeouts), "closed", "two failures do not pause");

    send_events(&service, &key, 400).await;
    service.advance(Duration::from_secs(5));
    service.settled_calls(&key, &webhook, &receiver).await;
    let grown = webhook_when(&service, &key, id, |w| !w["health"]["engine"].is_null()).await;
    assert!(
        limit(&grown) > 4,
        "400 fast answers grow the limit: {}",
        grown["health"]
    );
}

/// A receiver that fails every call is paused after a run of failures, probed once at
/// growing intervals, and resumed when a probe succeeds; the deliveries that waited
/// spent no attempts.
#[tokio::test]
async fn a_receiver_failing_every_call_is_probed_not_hammered() {
    let service = Service::start().await;
    let receiver = Receiver::answering(|_| Reply::Status(500)).await;
    let key = service.account("Acme").await;
    let webhook = service.webhook(&key, json!({ "url": receiver.url })).await;
    let id = webhook["id"].as_str().unwrap();
    send_events(&service, &key, 40).await;

    let paused = webhook_when(&service, &key, id, |w| {
        circuit(w) == "open" && !w["health"]["paused_until"].is_null() && w["health"]["engine"]["in_flight"] == 0
    })
    .await;
    let first_pause: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(paused["health"]["paused_until"].clone()).unwrap();
    assert!(
        paused["health"]["pause_reason"].as_str().unwrap().contains("in a row"),
        "{}",
        paused["health"]
    );
    let hammered = receiver.count();
    assert!(hammered <= 8, "at most the first calls in flight: {hammered}");
    // Once the calls' results are recorded, the deliveries that waited show no attempt.
    common::eventually("one attempt recorded per call", || async {
        let pending = service.deliveries(&key, id, "status=pending&limit=100").await;
        let tried: usize = pending.iter().map(|d| d["attempts"].as_u64().unwrap() as usize).sum();
        (tried == hammered).then_some(())
    })
    .await;
    let untouched = service.deliveries(&key, id, "status=pending&limit=100").await;
    assert_eq!(untouched.iter().filter(|d| d["attempts"] == 0).count(), 40 - hammered);

    // The pause over, one probe; it fails, and the next pause is twice as long.
    service.advance(Duration::from_secs(1));
    let again = webhook_when(&service, &key, id, |w| {
        w["health"]["paused_until"].as_str().is_some_and(|until| {
            serde_json::from_value::<chrono::DateTime<chrono::Utc>>(json!(until)).unwrap() > first_pause
        }) && w["health"]["engine"]["in_flight"] == 0
    })
    .await;
    assert_eq!(receiver.count(), hammered + 1, "one probe call");
    let second_pause: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(again["health"]["paused_until"].clone()).unwrap();
    let longer = (second_pause - first_pause).num_milliseconds();
    assert!(
        (2_000..3_000).contains(&longer),
        "the probe after 1 s, then a 2 s pause: {longer} ms"
    );

    // The receiver is back: the next probe succeeds and everything goes.
    receiver.set_answer(|_| Reply::Status(200));
    service.advance(Duration::from_secs(2));
    let resumed = webhook_when(&service, &key, id, |w| w["health"]["paused_until"].is_null()).await;
    assert_eq!(circuit(&resumed), "closed");
    // The calls that failed wait for their own retry (5 s after them).
    service.advance(Duration::from_secs(5));
    service.settled_calls(&key, &webhook, &receiver).await;
    let delivered = service.deliveries(&key, id, "status=delivered&limit=100").await;
    assert_eq!(delivered.len(), 40);
    assert_eq!(receiver.count(), hammered + 1 + 40);
}
