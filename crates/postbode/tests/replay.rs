//! Replays through the API: a webhook's failed deliveries sent again, the events a
//! webhook made later never had given to it, both as a job whose progress
//! `GET /v1/jobs/{id}` shows; bounded, checked, and invisible to another account.

mod common;

use common::{Receiver, Reply, Service, eventually};
use postbode_core::Clock;
use serde_json::{Value, json};

async fn finished(service: &Service, key: &str, job: &str) -> Value {
    eventually("the replay job to end", || async {
        let (status, body) = service.call("GET", &format!("/v1/jobs/{job}"), key, None).await;
        assert_eq!(status, 200, "{body}");
        (body["status"] != "running").then_some(body)
    })
    .await
}

#[tokio::test]
async fn failed_deliveries_and_missing_events_are_replayed_as_a_job() {
    // One attempt each (a failure is final at once), and small batches.
    let service = Service::start_with(|c| {
        c.delivery.retry.schedule = Vec::new();
        c.replay.batch = 2;
        c.replay.max_per_job = 5;
    })
    .await;
    let key = service.account("Acme").await;
    let receiver = Receiver::answering(|_| Reply::Status(500)).await;
    let hook = service
        .webhook(&key, json!({"url": receiver.url, "events": ["order.paid"]}))
        .await;
    let hook_id = hook["id"].as_str().unwrap();
    let since = service.clock.now().to_rfc3339();
    let mut events = Vec::new();
    for n in 0..3 {
        events.push(
            service
                .send_event(&key, json!({"type": "order.paid", "data": {"n": n}}))
                .await,
        );
    }
    service.settled_calls(&key, &hook, &receiver).await;
    assert_eq!(service.deliveries(&key, hook_id, "status=failed").await.len(), 3);

    receiver.set_answer(|_| Reply::Status(200));
    let (status, started) = service
        .call(
            "POST",
            &format!("/v1/webhooks/{hook_id}/replay"),
            &key,
            Some(json!({"since": since, "status": ["failed"]})),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["matched"], 3);
    let job = finished(&service, &key, started["job_id"].as_str().unwrap()).await;
    assert_eq!(
        (job["status"].as_str(), job["done"].as_u64(), job["total"].as_u64()),
        (Some("done"), Some(3), Some(3))
    );
    assert_eq!(job["resent"], 3);
    eventually("the three to be delivered", || async {
        (service.deliveries(&key, hook_id, "status=delivered").await.len() == 3).then_some(())
    })
    .await;

    // A webhook made afterwards gets the events it never had, once.
    let late_receiver = Receiver::start().await;
    let late = service
        .webhook(&key, json!({"url": late_receiver.url, "events": ["order.paid"]}))
        .await;
    let late_id = late["id"].as_str().unwrap();
    let (status, started) = service
        .call(
            "POST",
            &format!("/v1/webhooks/{late_id}/replay"),
            &key,
            Some(json!({"since": since, "status": ["missing"]})),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["matched"], 3);
    let job = finished(&service, &key, started["job_id"].as_str().unwrap()).await;
    assert_eq!((job["created"].as_u64(), job["resent"].as_u64()), (Some(3), Some(0)));
    let calls = late_receiver.wait_for(3).await;
    let mut got: Vec<String> = calls
        .iter()
        .map(|c| {
            serde_json::from_slice::<Value>(&c.body).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    got.sort();
    events.sort();
    assert_eq!(got, events);

    // Six deliveries of the late webhook: more than replay.max_per_job (5).
    for _ in 0..3 {
        service.send_event(&key, json!({"type": "order.paid"})).await;
    }
    let (status, refused) = service
        .call(
            "POST",
            &format!("/v1/webhooks/{late_id}/replay"),
            &key,
            Some(json!({"since": since})),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["errors"][0]["field"], "since", "{refused}");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("replay.max_per_job")
    );
}

#[tokio::test]
async fn a_replay_request_is_checked_and_stays_in_its_account() {
    let service = Service::start().await;
    let key = service.account("Acme").await;
    let other = service.account("Other").await;
    let receiver = Receiver::start().await;
    let hook = service.webhook(&key, json!({"url": receiver.url})).await;
    let hook_id = hook["id"].as_str().unwrap();
    let path = format!("/v1/webhooks/{hook_id}/replay");
    let now = service.clock.now();
    let cases = [
        (
            json!({"since": (now + chrono::Duration::hours(1)).to_rfc3339()}),
            "since",
        ),
        (
            json!({"since": now.to_rfc3339(), "event_types": ["ok", "not a type"]}),
            "event_types[1]",
        ),
        (json!({"since": now.to_rfc3339(), "status": []}), "status"),
        (json!({"since": now.to_rfc3339(), "status": ["lost"]}), "status[0]"),
        (json!({"since": now.to_rfc3339(), "surprise": 1}), "surprise"),
    ];
    for (body, field) in cases {
        let (status, problem) = service.call("POST", &path, &key, Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }
    let (status, started) = service
        .call("POST", &path, &key, Some(json!({"since": now.to_rfc3339()})))
        .await;
    assert_eq!(status, 202, "{started}");
    let job = started["job_id"].as_str().unwrap();
    // Another account sees neither the webhook nor the job.
    let (status, _) = service
        .call("POST", &path, &other, Some(json!({"since": now.to_rfc3339()})))
        .await;
    assert_eq!(status, 404);
    let (status, _) = service.call("GET", &format!("/v1/jobs/{job}"), &other, None).await;
    assert_eq!(status, 404);
    let (status, _) = service.call("GET", "/v1/jobs/job_nothing", &key, None).await;
    assert_eq!(status, 404);
    finished(&service, &key, job).await;
}
