//! The delivery engine end to end: real service, real receivers, a test clock.

mod common;

use common::{Receiver, Reply, Service, eventually, verify_standard_webhooks};
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn a_call_carries_the_exact_body_and_headers() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Acme").await;
    let webhook = service
        .webhook(
            &key,
            json!({ "url": receiver.url, "events": ["order.paid"], "headers": {"X-Team": "billing"} }),
        )
        .await;
    let event_id = service
        .send_event(
            &key,
            json!({ "type": "order.paid", "data": {"order": 42, "lines": ["a", "b"]} }),
        )
        .await;
    let call = receiver.wait_for(1).await.remove(0);
    let delivery = service
        .delivery_when(&key, &event_id, |d| d["status"] == "delivered")
        .await;

    let at = service.clock.now_for_tests();
    assert_eq!(call.path, "/hooks/receive.php");
    assert_eq!(
        call.json(),
        json!({
            "id": event_id,
            "type": "order.paid",
            "timestamp": at.format("%Y-%m-%d %H:%M:%S").to_string(),
            "time": at.timestamp(),
            "data": {"order": 42, "lines": ["a", "b"]},
        })
    );
    let delivery_id = delivery["id"].as_str().unwrap();
    assert_eq!(call.header("content-type"), "application/json");
    assert_eq!(
        call.header("user-agent"),
        format!("Postbode/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(call.header("x-postbode-delivery"), delivery_id);
    assert_eq!(call.header("x-postbode-event"), "order.paid");
    assert_eq!(call.header("webhook-id"), delivery_id);
    assert_eq!(call.header("webhook-timestamp"), at.timestamp().to_string());
    assert_eq!(call.header("date"), httpdate_of(at));
    assert_eq!(call.header("x-team"), "billing");
    assert_eq!(call.header("content-length"), call.body.len().to_string());
    assert!(call.header("webhook-signature").starts_with("v1,"));

    // Our own verifier agrees with the secret shown at creation.
    let secret = postbode_signature::standard_webhooks::Secret::parse(webhook["secret"].as_str().unwrap()).unwrap();
    postbode_signature::standard_webhooks::verify(
        &[secret],
        call.header("webhook-id"),
        call.header("webhook-timestamp"),
        call.header("webhook-signature"),
        &call.body,
        at.timestamp(),
    )
    .unwrap();
}

fn httpdate_of(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

trait Now {
    fn now_for_tests(&self) -> chrono::DateTime<chrono::Utc>;
}

impl Now for postbode_core::ManualClock {
    fn now_for_tests(&self) -> chrono::DateTime<chrono::Utc> {
        postbode_core::Clock::now(self)
    }
}

/// The signature is checked by the `standardwebhooks` package from PyPI, which nobody
/// here wrote. Skipped when it is missing, except in CI.
#[tokio::test]
async fn the_standard_webhooks_signature_verifies_with_the_reference_library() {
    // Real time: the library checks the timestamp against its own clock.
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Acme").await;
    let webhook = service.webhook(&key, json!({ "url": receiver.url })).await;
    service
        .send_event(
            &key,
            json!({ "type": "profile.synced", "data": {"name": "Piet", "city": "Delft ✓"} }),
        )
        .await;
    let call = receiver.wait_for(1).await.remove(0);
    if let Some(verified) = verify_standard_webhooks(webhook["secret"].as_str().unwrap(), &call) {
        assert_eq!(verified, call.json());
    }
}

#[tokio::test]
async fn a_failed_call_is_retried_on_schedule_until_it_succeeds() {
    let service = Service::start().await;
    let receiver = Receiver::answering(|n| if n < 2 { Reply::Status(500) } else { Reply::Status(200) }).await;
    let key = service.account("Acme").await;
    let webhook = service.webhook(&key, json!({ "url": receiver.url })).await;
    let event_id = service.send_event(&key, json!({ "type": "x", "data": {} })).await;

    receiver.wait_for(1).await;
    let d = service.delivery_when(&key, &event_id, |d| d["attempts"] == 1).await;
    assert_eq!(d["status"], "pending");
    assert_eq!(d["last_status_code"], 500);
    // The default schedule: the second attempt 5 s after the first.
    service.advance(Duration::from_secs(5));
    receiver.wait_for(2).await;
    service.delivery_when(&key, &event_id, |d| d["attempts"] == 2).await;
    // The third 5 minutes later; nothing goes out before that is due.
    service.advance(Duration::from_secs(299));
    service.advance(Duration::from_secs(1));
    let calls = receiver.wait_for(3).await;
    let d = service
        .delivery_when(&key, &event_id, |d| d["status"] == "delivered")
        .await;
    assert_eq!(d["attempts"], 3);
    assert_eq!(calls.len(), 3);
    // Every attempt carries the same delivery id, so the receiver can drop duplicates.
    assert!(calls.iter().all(|c| c.header("x-postbode-delivery") == d["id"]));

    let attempts = service.attempts(&key, webhook["id"].as_str().unwrap()).await;
    let codes: Vec<_> = attempts
        .iter()
        .map(|a| (a["number"].clone(), a["status_code"].clone()))
        .collect();
    assert_eq!(
        codes,
        [(json!(3), json!(200)), (json!(2), json!(500)), (json!(1), json!(500))]
    );
}

#[tokio::test]
async fn retry_after_sets_the_next_attempt() {
    let service = Service::start().await;
    let receiver = Receiver::answering(|n| {
        if n == 0 {
            Reply::With {
                status: 429,
                headers: vec![("retry-after", "120".into())],
                body: "slow down".into(),
            }
        } else {
            Reply::Status(200)
        }
    })
    .await;
    let key = service.account("Acme").await;
    service.webhook(&key, json!({ "url": receiver.url })).await;
    let started = postbode_core::Clock::now(service.clock.as_ref());
    let event_id = service.send_event(&key, json!({ "type": "x" })).await;
    let d = service.delivery_when(&key, &event_id, |d| d["attempts"] == 1).await;
    let next: chrono::DateTime<chrono::Utc> = serde_json::from_value(d["next_attempt_at"].clone()).unwrap();
    // Times are kept to the millisecond.
    assert_eq!(
        next.timestamp_millis() - started.timestamp_millis(),
        120_000,
        "not the 5 s of the schedule"
    );
    service.advance(Duration::from_secs(120));
    service
        .delivery_when(&key, &event_id, |d| d["status"] == "delivered")
        .await;
    assert_eq!(receiver.count(), 2);
}

#[tokio::test]
async fn a_delivery_fails_after_the_last_attempt() {
    let service = Service::start_with(|c| {
        c.delivery.retry.schedule = vec![Duration::from_secs(10), Duration::from_secs(60)];
    })
    .await;
    let receiver = Receiver::answering(|_| Reply::Status(500)).await;
    let key = service.account("Acme").await;
    let webhook = service.webhook(&key, json!({ "url": receiver.url })).await;
    let event_id = service.send_event(&key, json!({ "type": "x" })).await;
    service.delivery_when(&key, &event_id, |d| d["attempts"] == 1).await;
    service.advance(Duration::from_secs(10));
    service.delivery_when(&key, &event_id, |d| d["attempts"] == 2).await;
    service.advance(Duration::from_secs(60));
    let d = service
        .delivery_when(&key, &event_id, |d| d["status"] == "failed")
        .await;
    assert_eq!(d["attempts"], 3);
    assert_eq!(d["next_attempt_at"], Value::Null);
    assert_eq!(receiver.count(), 3);

    let (_, stats) = service
        .call(
            "GET",
            &format!("/v1/webhooks/{}/stats", webhook["id"].as_str().unwrap()),
            &key,
            None,
        )
        .await;
    // The attempts may fall in two hourly buckets (the clock moved 70 s): add them up.
    let total = |name: &str| -> u64 {
        stats["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b[name].as_u64().unwrap())
            .sum()
    };
    assert_eq!(
        (total("failed"), total("attempts"), total("delivered")),
        (1, 3, 0),
        "{stats}"
    );

    // Resend gives the failed delivery one more attempt, under the same id.
    receiver.set_answer(|_| Reply::Status(200));
    let (status, _) = service
        .call(
            "POST",
            &format!("/v1/deliveries/{}/resend", d["id"].as_str().unwrap()),
            &key,
            None,
        )
        .await;
    assert_eq!(status, 202);
    let d = service
        .delivery_when(&key, &event_id, |d| d["status"] == "delivered")
        .await;
    assert_eq!(d["attempts"], 4);
    let attempts = service.attempts(&key, webhook["id"].as_str().unwrap()).await;
    assert_eq!(attempts[0]["trigger"], "resend");
}

#[tokio::test]
async fn recover_resends_the_failed_deliveries_of_a_time_range() {
    let service = Service::start_with(|c| c.delivery.retry.schedule = vec![]).await;
    let receiver = Receiver::answering(|_| Reply::Status(503)).await;
    let key = service.account("Acme").await;
    let webhook = service.webhook(&key, json!({ "url": receiver.url })).await;
    let since = postbode_core::Clock::now(service.clock.as_ref());
    let mut events = Vec::new();
    for n in 0..3 {
        events.push(service.send_event(&key, json!({ "type": "x", "data": n })).await);
    }
    for id in &events {
        service.delivery_when(&key, id, |d| d["status"] == "failed").await;
    }
    receiver.set_answer(|_| Reply::Status(200));
    let (status, body) = service
        .call(
            "POST",
            &format!("/v1/webhooks/{}/recover", webhook["id"].as_str().unwrap()),
            &key,
            Some(json!({ "since": since })),
        )
        .await;
    assert_eq!((status, body), (202, json!({"deliveries": 3})));
    for id in &events {
        service.delivery_when(&key, id, |d| d["status"] == "delivered").await;
    }
    assert_eq!(receiver.count(), 6);
}

#[tokio::test]
async fn gone_disables_the_webhook_and_it_holds_every_event_until_enabled() {
    let service = Service::start().await;
    let receiver = Receiver::answering(|n| if n == 0 { Reply::Status(410) } else { Reply::Status(200) }).await;
    let key = service.account("Acme").await;
    let webhook = service.webhook(&key, json!({ "url": receiver.url })).await;
    let id = webhook["id"].as_str().unwrap();
    let event_id = service.send_event(&key, json!({ "type": "x" })).await;
    let hook = eventually("the webhook to be disabled", || async {
        let (_, hook) = service.call("GET", &format!("/v1/webhooks/{id}"), &key, None).await;
        (hook["enabled"] == false).then_some(hook)
    })
    .await;
    assert!(hook["disabled_reason"].as_str().unwrap().contains("410 Gone"), "{hook}");
    let d = service.delivery_when(&key, &event_id, |d| d["attempts"] == 1).await;
    assert_eq!(d["status"], "pending");

    // Events sent while it is disabled are held for it, and the answer says so.
    let mut held = vec![event_id.clone()];
    for n in 0..3 {
        let (status, accepted) = service
            .call("POST", "/v1/events", &key, Some(json!({ "type": "x", "data": n })))
            .await;
        assert_eq!(status, 202, "{accepted}");
        assert_eq!(accepted["deliveries"], 1, "{accepted}");
        assert_eq!(accepted["skipped"], json!({ "disabled_held": 1 }), "{accepted}");
        held.push(accepted["id"].as_str().unwrap().to_owned());
    }
    let (_, hook) = service.call("GET", &format!("/v1/webhooks/{id}"), &key, None).await;
    assert_eq!(hook["health"]["held"], 4, "{hook}");
    let (_, list) = service.call("GET", "/v1/webhooks", &key, None).await;
    assert_eq!(list["data"][0]["health"]["held"], 4, "{list}");
    let (_, stats) = service
        .call("GET", &format!("/v1/webhooks/{id}/stats"), &key, None)
        .await;
    let held_in_stats: u64 = stats["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["held"].as_u64().unwrap())
        .sum();
    assert_eq!(held_in_stats, 3, "{stats}");

    // While disabled, due time passes without attempts.
    service.advance(Duration::from_secs(3600));
    let (status, _) = service
        .call(
            "PATCH",
            &format!("/v1/webhooks/{id}"),
            &key,
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, 200);
    for event_id in &held {
        service
            .delivery_when(&key, event_id, |d| d["status"] == "delivered")
            .await;
    }
    let d = service
        .delivery_when(&key, &event_id, |d| d["status"] == "delivered")
        .await;
    assert_eq!(d["attempts"], 2);
    assert_eq!(receiver.count(), 5, "the first call (410), then each held event once");
    let (_, hook) = service.call("GET", &format!("/v1/webhooks/{id}"), &key, None).await;
    assert_eq!(hook["health"]["held"], 0, "{hook}");
}

#[tokio::test]
async fn a_pending_webhook_is_not_silent_about_what_it_misses() {
    let service = Service::start_with(|c| c.webhooks.require_verification = true).await;
    let receiver = Receiver::answering(|_| Reply::Status(200)).await;
    let key = service.account("Acme").await;
    let webhook = service.webhook(&key, json!({ "url": receiver.url })).await;
    assert_eq!(webhook["verification"]["status"], "pending", "{webhook}");
    let (status, accepted) = service
        .call("POST", "/v1/events", &key, Some(json!({ "type": "x" })))
        .await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["deliveries"], 0, "{accepted}");
    assert_eq!(accepted["skipped"], json!({ "unverified": 1 }), "{accepted}");
    let (status, batch) = service
        .call(
            "POST",
            "/v1/events/batch",
            &key,
            Some(json!({ "events": [{ "type": "x" }, { "type": "x" }] })),
        )
        .await;
    assert_eq!(status, 202, "{batch}");
    assert_eq!(
        (&batch["deliveries"], &batch["skipped"]),
        (&json!(0), &json!({ "unverified": 2 })),
        "{batch}"
    );
    let (_, list) = service.call("GET", "/v1/webhooks", &key, None).await;
    assert_eq!(list["data"][0]["health"]["skipped_unverified_24h"], 3, "{list}");
    assert_eq!(receiver.count(), 0);
}

#[tokio::test]
async fn a_webhook_failing_for_five_days_is_disabled() {
    let service = Service::start().await;
    let receiver = Receiver::answering(|_| Reply::Status(500)).await;
    let key = service.account("Acme").await;
    let webhook = service.webhook(&key, json!({ "url": receiver.url })).await;
    let id = webhook["id"].as_str().unwrap();
    // One failing event a day; on the fifth day a failure (of that day's event, or of a
    // retry of an earlier one that falls due first) crosses the threshold.
    for day in 0..=5 {
        let event_id = service.send_event(&key, json!({ "type": "x", "data": day })).await;
        // Five failures in a row pause the webhook (its circuit breaker) until the test
        // clock moves on: while paused, move it by minutes, nothing next to days.
        let path = format!("/v1/events/{event_id}");
        let hook = eventually(&format!("day {day}'s event to be tried"), || async {
            let (_, event) = service.call("GET", &path, &key, None).await;
            let (_, hook) = service.call("GET", &format!("/v1/webhooks/{id}"), &key, None).await;
            if event["deliveries"][0]["attempts"].as_u64() >= Some(1) || hook["enabled"] == false {
                return Some(hook);
            }
            if !hook["health"]["paused_until"].is_null() {
                service.advance(Duration::from_secs(60));
            }
            None
        })
        .await;
        assert_eq!(hook["enabled"], day < 5, "day {day}: {hook}");
        service.advance(Duration::from_secs(24 * 3600));
    }
    assert!(receiver.count() >= 6);
    let (_, hook) = service.call("GET", &format!("/v1/webhooks/{id}"), &key, None).await;
    assert!(
        hook["disabled_reason"]
            .as_str()
            .unwrap()
            .starts_with("every call has failed since"),
        "{hook}"
    );
}

#[tokio::test]
async fn a_receiver_that_does_not_answer_times_out() {
    let service = Service::start_with(|c| {
        c.delivery.total_timeout = Duration::from_millis(300);
        c.delivery.lease = Duration::from_secs(5);
    })
    .await;
    let receiver = Receiver::answering(|_| Reply::Hang).await;
    let key = service.account("Acme").await;
    let webhook = service.webhook(&key, json!({ "url": receiver.url })).await;
    let event_id = service.send_event(&key, json!({ "type": "x" })).await;
    let d = service.delivery_when(&key, &event_id, |d| d["attempts"] == 1).await;
    assert_eq!(d["status"], "pending");
    let attempts = service.attempts(&key, webhook["id"].as_str().unwrap()).await;
    assert_eq!(attempts[0]["error_kind"], "timeout");
    assert_eq!(attempts[0]["status_code"], Value::Null);
}

/// A receiver that never answers fills only its own lane: the fast webhooks beside it
/// (all at the defaults) get every event while it still holds its first calls.
#[tokio::test]
async fn a_slow_webhook_does_not_delay_a_fast_one() {
    let service = Service::start().await;
    let slow = Receiver::answering(|_| Reply::WaitForGate).await;
    let key = service.account("Acme").await;
    service.webhook(&key, json!({ "url": slow.url })).await;
    let mut fast = Vec::new();
    for _ in 0..3 {
        let receiver = Receiver::start().await;
        service.webhook(&key, json!({ "url": receiver.url })).await;
        fast.push(receiver);
    }
    let events: Vec<Value> = (0..300).map(|n| json!({ "type": "x", "data": n })).collect();
    let (status, _) = service
        .call("POST", "/v1/events/batch", &key, Some(json!({ "events": events })))
        .await;
    assert_eq!(status, 202);
    for receiver in &fast {
        receiver.wait_for(300).await;
    }
    // No more calls than its starting limit went to the slow one meanwhile.
    assert!(
        slow.count() <= 8,
        "{} calls to a receiver that never answered",
        slow.count()
    );
    slow.open_gate();
    slow.wait_for(300).await;
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let service = Service::start_with(|c| c.delivery.allow_private_targets = false).await;
    let receiver = Receiver::start().await;
    let key = service.account("Acme").await;
    // A literal loopback address is refused when the webhook is made.
    let (status, problem) = service
        .call("POST", "/v1/webhooks", &key, Some(json!({ "url": receiver.url })))
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "url");
    // A name that resolves to a loopback address is refused at resolution.
    let by_name = service
        .webhook(
            &key,
            json!({ "url": format!("http://localhost:{}/hook", receiver.port) }),
        )
        .await;
    let event_id = service.send_event(&key, json!({ "type": "x" })).await;
    service.delivery_when(&key, &event_id, |d| d["attempts"] == 1).await;
    let attempts = service.attempts(&key, by_name["id"].as_str().unwrap()).await;
    assert_eq!(attempts[0]["error_kind"], "blocked", "{}", attempts[0]);
    assert_eq!(receiver.count(), 0);
}

#[tokio::test]
async fn the_attempt_log_exports_as_csv_and_json_lines() {
    let service = Service::start().await;
    let receiver = Receiver::answering(|_| Reply::body("=ok, \"fine\"")).await;
    let key = service.account("Acme").await;
    let webhook = service.webhook(&key, json!({ "url": receiver.url })).await;
    let id = webhook["id"].as_str().unwrap();
    for n in 0..3 {
        service.send_event(&key, json!({ "type": "x", "data": n })).await;
    }
    receiver.wait_for(3).await;
    eventually("three attempts logged", || async {
        (service.attempts(&key, id).await.len() == 3).then_some(())
    })
    .await;
    let (_, csv) = service
        .call("GET", &format!("/v1/webhooks/{id}/attempts?format=csv"), &key, None)
        .await;
    let csv = csv.as_str().unwrap().to_owned();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("id,delivery_id,webhook_id"));
    assert!(lines[1].ends_with(",200,,,\"'=ok, \"\"fine\"\"\""), "{}", lines[1]);
    let (_, jsonl) = service
        .call(
            "GET",
            &format!("/v1/webhooks/{id}/attempts?format=jsonl&limit=1"),
            &key,
            None,
        )
        .await;
    let rows: Vec<Value> = jsonl
        .as_str()
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3, "the export pages through everything");
    assert!(rows.iter().all(|r| r["status_code"] == 200));
}

#[tokio::test]
async fn a_form_webhook_gets_php_bracket_style_fields() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Acme").await;
    service
        .webhook(&key, json!({ "url": receiver.url, "format": "form" }))
        .await;
    let event_id = service
        .send_event(
            &key,
            json!({ "type": "x", "data": {"name": "Piet", "vip": true, "tags": ["a", "b"], "none": null} }),
        )
        .await;
    let call = receiver.wait_for(1).await.remove(0);
    assert_eq!(call.header("content-type"), "application/x-www-form-urlencoded");
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&call.body).into_owned().collect();
    let at = service.clock.now_for_tests();
    let expected: Vec<(String, String)> = [
        ("id", event_id.as_str()),
        ("type", "x"),
        ("timestamp", &at.format("%Y-%m-%d %H:%M:%S").to_string()),
        ("time", &at.timestamp().to_string()),
        ("data[name]", "Piet"),
        ("data[vip]", "1"),
        ("data[tags][]", "a"),
        ("data[tags][]", "b"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(pairs, expected);
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_for_the_overlap() {
    use postbode_signature::standard_webhooks::{Secret, verify};
    let service = Service::start_with(|c| c.database_url = None).await; // reads the SQLite file's bytes
    let receiver = Receiver::start().await;
    let key = service.account("Acme").await;
    let webhook = service.webhook(&key, json!({ "url": receiver.url })).await;
    let id = webhook["id"].as_str().unwrap();
    let old = webhook["secret"].as_str().unwrap().to_owned();
    let (status, rotated) = service
        .call("POST", &format!("/v1/webhooks/{id}/secret/rotate"), &key, None)
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    let (_, shown) = service
        .call("GET", &format!("/v1/webhooks/{id}/secret"), &key, None)
        .await;
    assert_eq!(
        (shown["secret"].as_str(), shown["previous_secret"].as_str()),
        (Some(new.as_str()), Some(old.as_str()))
    );

    let check = |call: &common::Call, secret: &str| {
        verify(
            &[Secret::parse(secret).unwrap()],
            call.header("webhook-id"),
            call.header("webhook-timestamp"),
            call.header("webhook-signature"),
            &call.body,
            call.header("webhook-timestamp").parse().unwrap(),
        )
    };
    service.send_event(&key, json!({ "type": "x" })).await;
    let call = receiver.wait_for(1).await.remove(0);
    assert_eq!(call.header("webhook-signature").split(' ').count(), 2);
    check(&call, &old).unwrap();
    check(&call, &new).unwrap();

    service.advance(Duration::from_secs(24 * 3600 + 1));
    service.send_event(&key, json!({ "type": "x" })).await;
    let call = receiver.wait_for(2).await.remove(1);
    assert_eq!(call.header("webhook-signature").split(' ').count(), 1);
    check(&call, &new).unwrap();
    assert!(check(&call, &old).is_err(), "the old secret no longer signs");

    // At rest the secrets are sealed with the master key: the database never holds them.
    let mut stored = Vec::new();
    for name in ["postbode.db", "postbode.db-wal"] {
        stored.extend(std::fs::read(service.dir.path().join(name)).unwrap_or_default());
    }
    assert!(!stored.is_empty());
    for secret in [&old, &new] {
        let needle = secret.as_bytes();
        assert!(
            !stored.windows(needle.len()).any(|w| w == needle),
            "a secret is stored in the clear"
        );
    }
}

/// A backlog larger than a webhook's room drains on the engine's own wake-ups, not on
/// the poll timer (set to an hour here), while the webhook's limit (and with it its
/// room) grows under way.
#[tokio::test]
async fn a_backlog_larger_than_the_room_drains_without_polling() {
    let service = Service::start_with(|c| c.delivery.poll_interval = Duration::from_secs(3600)).await;
    let receiver = Receiver::answering(|_| Reply::WaitForGate).await;
    let key = service.account("Acme").await;
    service.webhook(&key, json!({ "url": receiver.url })).await;
    // The first calls hang, so the lane fills its room (16 x 8) and the rest waits in
    // the database.
    let events: Vec<Value> = (0..1000).map(|n| json!({ "type": "x", "data": n })).collect();
    for chunk in events.chunks(500) {
        let (status, _) = service
            .call("POST", "/v1/events/batch", &key, Some(json!({ "events": chunk })))
            .await;
        assert_eq!(status, 202);
    }
    receiver.wait_for(8).await;
    receiver.open_gate();
    let calls = receiver.wait_for(1000).await;
    let mut ids: Vec<i64> = calls.iter().map(|c| c.json()["data"].as_i64().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids, (0..1000).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_condition_filters_events_and_its_errors_are_counted() {
    let service = Service::start().await;
    let by_type = Receiver::start().await;
    let by_field = Receiver::start().await;
    let key = service.account("Acme").await;
    service
        .webhook(
            &key,
            json!({ "url": by_type.url, "condition": "type == 'order.paid' || type.startsWith('refund.')" }),
        )
        .await;
    // Custom events carry no profile fields, so this cannot be evaluated for them.
    let failing = service
        .webhook(
            &key,
            json!({ "url": by_field.url, "condition": "fields.name == 'piet'" }),
        )
        .await;
    for event_type in ["order.paid", "order.created", "refund.issued"] {
        service.send_event(&key, json!({ "type": event_type })).await;
    }
    let calls = by_type.wait_for(2).await;
    // Without `ordering`, two calls may be in flight at once and arrive either way round.
    let mut types: Vec<String> = calls
        .iter()
        .map(|c| c.json()["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    assert_eq!(types, ["order.paid", "refund.issued"]);
    let (_, stats) = service
        .call(
            "GET",
            &format!("/v1/webhooks/{}/stats", failing["id"].as_str().unwrap()),
            &key,
            None,
        )
        .await;
    assert_eq!(stats["data"][0]["condition_errors"], 3, "{stats}");
    assert_eq!(by_field.count(), 0);

    let (status, problem) = service
        .call(
            "POST",
            "/v1/webhooks",
            &key,
            Some(json!({ "url": by_type.url, "condition": "fields.name == " })),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "condition");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("at character 16"),
        "{problem}"
    );
}
