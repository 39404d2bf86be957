//! Ordering per subject end to end: an ordered webhook delivers one profile's (or one
//! `ordering_key`'s) events strictly in order; a failing delivery holds back the later
//! ones of its subject only.

mod common;

use common::{Receiver, Reply, Service};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The `data.n` of the events of `subject` the receiver got, in order of arrival.
fn arrivals(receiver: &Receiver, subject: &str) -> Vec<i64> {
    receiver
        .calls()
        .iter()
        .map(|call| call.json())
        .filter(|event| event["data"]["subject"] == subject)
        .map(|event| event["data"]["n"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_failing_delivery_holds_back_its_subject_and_no_other() {
    let service = Service::start().await;
    // The first call for subject `a` fails; everything else succeeds.
    let failed_once = Arc::new(AtomicBool::new(false));
    let receiver = Receiver::answering_calls(move |_, call| {
        let event = call.json();
        if event["data"]["subject"] == "a" && !failed_once.swap(true, Ordering::SeqCst) {
            Reply::Status(500)
        } else {
            Reply::Status(200)
        }
    })
    .await;
    let key = service.account("Acme").await;
    let webhook = service
        .webhook(&key, json!({ "url": receiver.url, "ordering": "profile" }))
        .await;
    assert_eq!(webhook["ordering"], "profile");
    let mut events = Vec::new();
    for n in 0..5 {
        for subject in ["a", "b"] {
            events.push(json!({ "type": "x", "ordering_key": subject, "data": {"subject": subject, "n": n} }));
        }
    }
    // And one without a subject: it waits for nothing.
    events.push(json!({ "type": "x", "data": {"subject": null, "n": 0} }));
    let (status, answer) = service
        .call("POST", "/v1/events/batch", &key, Some(json!({ "events": events })))
        .await;
    assert_eq!(status, 202, "{answer}");

    let webhook_id = webhook["id"].as_str().unwrap();
    // Everything but a's five is delivered while a's first waits for its retry (5 s).
    common::eventually("all but subject a delivered", || async {
        let held = service.deliveries(&key, webhook_id, "status=pending").await;
        (held.len() == 5 && arrivals(&receiver, "b").len() == 5).then_some(())
    })
    .await;
    assert_eq!(arrivals(&receiver, "b"), [0, 1, 2, 3, 4]);
    assert_eq!(arrivals(&receiver, "a"), [0]);

    service.advance(Duration::from_secs(5));
    service.settled_calls(&key, &webhook, &receiver).await;
    assert_eq!(arrivals(&receiver, "a"), [0, 0, 1, 2, 3, 4]);
    assert_eq!(receiver.count(), 12);
}

#[tokio::test]
async fn a_profiles_changes_arrive_in_the_order_they_were_made() {
    let service = Service::start().await;
    let receiver = Receiver::answering(|n| if n == 0 { Reply::Status(503) } else { Reply::Status(200) }).await;
    let key = service.account("Acme").await;
    let db = service
        .database(
            &key,
            json!({"name": "people", "fields": [{"name": "n", "type": "integer"}]}),
        )
        .await;
    let webhook = service
        .webhook(
            &key,
            json!({ "url": receiver.url, "ordering": "profile", "events": ["create", "update"] }),
        )
        .await;
    let profile = service.profile(&key, &db, json!({"n": 0})).await;
    let path = format!("/v1/profiles/{profile}");
    for n in 1..4 {
        let (status, answer) = service
            .call("PATCH", &path, &key, Some(json!({"fields": {"n": n}})))
            .await;
        assert_eq!(status, 200, "{answer}");
    }
    // The create failed and waits 5 s; the updates wait behind it.
    common::eventually("the create's first attempt", || async {
        (receiver.count() == 1).then_some(())
    })
    .await;
    service.advance(Duration::from_secs(5));
    let calls = service.settled_calls(&key, &webhook, &receiver).await;
    let seen: Vec<(String, i64)> = calls
        .iter()
        .map(|call| call.json())
        .map(|event| {
            (
                event["type"].as_str().unwrap().to_owned(),
                event["fields"]["n"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("create", 0),
        ("create", 0),
        ("update", 1),
        ("update", 2),
        ("update", 3),
    ];
    assert_eq!(
        seen,
        expected.map(|(t, n)| (t.to_owned(), n)),
        "strictly in order, the failed create first"
    );
}
