//! What became of a webhook's events: its deliveries listed, filtered and paged, and
//! the test tool's answer kept as every attempt's is.

mod common;

use common::{Receiver, Reply, Service};
use serde_json::{Value, json};
use std::time::Duration;

fn ids(deliveries: &[Value]) -> Vec<String> {
    deliveries
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_webhooks_deliveries_are_listed_newest_first_filtered_and_paged() {
    // One attempt each: a failure is final at once.
    let service = Service::start_with(|c| c.delivery.retry.schedule = Vec::new()).await;
    let receiver = Receiver::start().await;
    let failing = Receiver::answering(|_| Reply::Status(500)).await;
    let key = service.account("Acme").await;
    let hook = service.webhook(&key, json!({"url": receiver.url})).await;
    let hook_id = hook["id"].as_str().unwrap();
    let broken = service
        .webhook(&key, json!({"url": failing.url, "events": ["paid"]}))
        .await;
    let broken_id = broken["id"].as_str().unwrap();

    let start = postbode_core::Clock::now(service.clock.as_ref());
    for _ in 0..3 {
        service.send_event(&key, json!({"type": "created"})).await;
    }
    service.advance(Duration::from_secs(3600));
    for _ in 0..2 {
        service.send_event(&key, json!({"type": "paid"})).await;
    }
    service.settled_calls(&key, &hook, &receiver).await;
    service.settled_calls(&key, &broken, &failing).await;

    let all = service.deliveries(&key, hook_id, "").await;
    assert_eq!(all.len(), 5);
    let mut newest_first = ids(&all);
    newest_first.sort();
    newest_first.reverse();
    assert_eq!(ids(&all), newest_first);
    assert!(
        all.iter()
            .all(|d| d["webhook_id"] == hook_id && d["status"] == "delivered")
    );

    assert_eq!(service.deliveries(&key, hook_id, "event_type=paid").await.len(), 2);
    assert_eq!(service.deliveries(&key, hook_id, "event_type=created").await.len(), 3);
    assert_eq!(
        service.deliveries(&key, hook_id, "status=pending").await,
        Vec::<Value>::new()
    );
    assert_eq!(service.deliveries(&key, broken_id, "status=failed").await.len(), 2);
    assert_eq!(service.deliveries(&key, broken_id, "status=delivered").await.len(), 0);
    let half_hour = (start + chrono::Duration::minutes(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let since = service.deliveries(&key, hook_id, &format!("since={half_hour}")).await;
    assert_eq!(ids(&since), ids(&all[..2]));
    let until = service.deliveries(&key, hook_id, &format!("until={half_hour}")).await;
    assert_eq!(ids(&until), ids(&all[2..]));

    // Paged like every list.
    let mut seen = Vec::new();
    let mut query = "limit=2".to_owned();
    loop {
        let (status, page) = service
            .call("GET", &format!("/v1/webhooks/{hook_id}/deliveries?{query}"), &key, None)
            .await;
        assert_eq!(status, 200, "{page}");
        seen.extend(ids(page["data"].as_array().unwrap()));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids(&all));

    // Another account's webhook does not exist; bad parameters are named.
    let stranger = service.account("Stranger").await;
    let (status, _) = service
        .call("GET", &format!("/v1/webhooks/{hook_id}/deliveries"), &stranger, None)
        .await;
    assert_eq!(status, 404);
    for (query, field) in [
        ("status=lost", "status"),
        ("cursor=x", "cursor"),
        ("since=now", "since"),
    ] {
        let (status, problem) = service
            .call("GET", &format!("/v1/webhooks/{hook_id}/deliveries?{query}"), &key, None)
            .await;
        assert_eq!(status, 422, "{query}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{query}");
    }
}

#[tokio::test]
async fn the_test_tool_keeps_as_much_of_the_answer_as_every_attempt() {
    let service = Service::start_with(|c| c.delivery.logged_response_bytes = 10).await;
    let receiver = Receiver::answering(|_| Reply::body("x".repeat(5000))).await;
    let key = service.account("Acme").await;
    let hook = service.webhook(&key, json!({"url": receiver.url})).await;
    let id = hook["id"].as_str().unwrap();
    let (status, report) = service
        .call("POST", &format!("/v1/webhooks/{id}/test"), &key, Some(json!({})))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["response_body"], "x".repeat(10));
    let attempts = service.attempts(&key, id).await;
    assert_eq!(attempts[0]["trigger"], "test");
    assert_eq!(attempts[0]["response_body"], "x".repeat(10));
}

/// The service's retention task, running on its interval: a month on, the delivered
/// event and its log are gone, and an event still waiting for its retry is kept.
#[tokio::test]
async fn retention_deletes_old_delivered_events_and_keeps_pending_ones() {
    let service = Service::start_with(|c| {
        c.retention.interval = Duration::from_millis(50);
        c.delivery.retry.schedule = vec![Duration::from_secs(90 * 24 * 3600)];
    })
    .await;
    let receiver = Receiver::start().await;
    let failing = Receiver::answering(|_| Reply::Status(500)).await;
    let key = service.account("Acme").await;
    let hook = service
        .webhook(&key, json!({"url": receiver.url, "events": ["ok"]}))
        .await;
    service
        .webhook(&key, json!({"url": failing.url, "events": ["retrying"]}))
        .await;
    let delivered = service.send_event(&key, json!({"type": "ok"})).await;
    let retrying = service.send_event(&key, json!({"type": "retrying"})).await;
    service
        .delivery_when(&key, &delivered, |d| d["status"] == "delivered")
        .await;
    service.delivery_when(&key, &retrying, |d| d["attempts"] == 1).await;
    let hook_id = hook["id"].as_str().unwrap();
    assert_eq!(service.attempts(&key, hook_id).await.len(), 1);

    service.advance(Duration::from_secs(31 * 24 * 3600));
    common::eventually("the delivered event to be deleted", || async {
        let (status, _) = service
            .call("GET", &format!("/v1/events/{delivered}"), &key, None)
            .await;
        (status == 404).then_some(())
    })
    .await;
    assert!(service.attempts(&key, hook_id).await.is_empty());
    let kept = service.event(&key, &retrying).await;
    assert_eq!(kept["deliveries"][0]["status"], "pending");
}
