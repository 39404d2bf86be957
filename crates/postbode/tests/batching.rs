//! Batching end to end: a batching webhook's deliveries go out together in
//! `{"events": [...]}` calls with an id and a signature of their own, split at
//! `max_events`, sent when full or when `max_wait_ms` is over, and a failed batch is
//! retried whole.

mod common;

use common::{Call, Receiver, Reply, Service, verify_standard_webhooks};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

async fn send_events(service: &Service, key: &str, count: i64) {
    let events: Vec<Value> = (0..count).map(|n| json!({ "type": "x", "data": n })).collect();
    let (status, answer) = service
        .call("POST", "/v1/events/batch", key, Some(json!({ "events": events })))
        .await;
    assert_eq!(status, 202, "{answer}");
}

/// The `data` of each event in a batched call.
fn numbers(call: &Call) -> Vec<i64> {
    call.json()["events"]
        .as_array()
        .expect("a batched body")
        .iter()
        .map(|event| event["data"].as_i64().unwrap())
        .collect()
}

fn listed(call: &Call) -> BTreeSet<String> {
    call.header("x-postbode-deliveries")
        .split(',')
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn full_batches_go_at_once_and_a_failed_batch_is_retried_whole() {
    let service = Service::start().await;
    let receiver = Receiver::answering(|n| if n == 0 { Reply::Status(500) } else { Reply::Status(200) }).await;
    let key = service.account("Acme").await;
    let webhook = service
        .webhook(
            &key,
            // A wait this long never runs out in the test: only full batches go.
            json!({ "url": receiver.url, "batch": {"max_events": 5, "max_wait_ms": 60000} }),
        )
        .await;
    let id = webhook["id"].as_str().unwrap();
    send_events(&service, &key, 10).await;

    let calls = receiver.wait_for(2).await;
    let mut all = Vec::new();
    for call in &calls {
        assert_eq!(numbers(call).len(), 5);
        assert_eq!(listed(call).len(), 5);
        assert!(
            call.header("webhook-id").starts_with("bat_"),
            "a batch has an id of its own"
        );
        assert_eq!(call.header("x-postbode-delivery"), call.header("webhook-id"));
        assert_eq!(call.header("x-postbode-event"), "batch");
        assert_eq!(call.header("content-type"), "application/json");
        all.extend(numbers(call));
    }
    all.sort_unstable();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
    if let Some(verified) = verify_standard_webhooks(webhook["secret"].as_str().unwrap(), &calls[1]) {
        assert_eq!(verified, calls[1].json(), "one signature over the whole body");
    }

    // The batch answered 500 waits whole for its retry; each delivery logged its attempt.
    let failed = &calls[0];
    // Both batches' results are recorded (the two calls' results may come in either
    // order): five deliveries wait, each with its one attempt.
    let pending = common::eventually("both batches' results recorded", || async {
        let pending = service.deliveries(&key, id, "status=pending").await;
        (pending.len() == 5 && pending.iter().all(|d| d["attempts"] == 1)).then_some(pending)
    })
    .await;
    let pending_ids: BTreeSet<String> = pending.iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(pending_ids, listed(failed));

    service.advance(Duration::from_secs(5));
    let calls = service.settled_calls(&key, &webhook, &receiver).await;
    assert_eq!(calls.len(), 3);
    let again = &calls[2];
    assert_eq!(
        again.header("webhook-id"),
        failed.header("webhook-id"),
        "the same batch"
    );
    assert_eq!(listed(again), listed(failed));
    let (mut before, mut after) = (numbers(failed), numbers(again));
    before.sort_unstable();
    after.sort_unstable();
    assert_eq!(before, after);
    assert_eq!(service.attempts(&key, id).await.len(), 15);
}

#[tokio::test]
async fn batches_split_at_max_events_and_the_rest_goes_when_the_wait_is_over() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Acme").await;
    let webhook = service
        .webhook(
            &key,
            json!({ "url": receiver.url, "batch": {"max_events": 2, "max_wait_ms": 50} }),
        )
        .await;
    send_events(&service, &key, 5).await;
    let calls = service.settled_calls(&key, &webhook, &receiver).await;
    let mut sizes: Vec<usize> = calls.iter().map(|c| numbers(c).len()).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [1, 2, 2]);
    let mut all: Vec<i64> = calls.iter().flat_map(numbers).collect();
    all.sort_unstable();
    assert_eq!(all, (0..5).collect::<Vec<_>>());

    // An event alone goes alone once the wait is over, in the same shape.
    service.send_event(&key, json!({ "type": "x", "data": 99 })).await;
    let calls = service.settled_calls(&key, &webhook, &receiver).await;
    let last = calls.last().unwrap();
    assert_eq!(numbers(last), [99]);
    assert_eq!(listed(last).len(), 1);
}

/// A lane's room counts calls, not deliveries: one call in flight at most still fills
/// whole batches from a backlog larger than the room of single-delivery calls.
#[tokio::test]
async fn a_backlog_goes_out_in_full_batches_at_one_call_at_a_time() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Acme").await;
    service
        .webhook(
            &key,
            json!({
                "url": receiver.url,
                "max_concurrency": 1,
                "batch": {"max_events": 100, "max_wait_ms": 60000}
            }),
        )
        .await;
    send_events(&service, &key, 300).await;
    let calls = receiver.wait_for(3).await;
    let sizes: Vec<usize> = calls.iter().map(|call| numbers(call).len()).collect();
    assert_eq!(sizes, vec![100, 100, 100]);
}
