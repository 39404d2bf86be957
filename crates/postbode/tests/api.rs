//! The REST API's promises: tenant isolation, bad input refused with a problem document
//! and nothing stored, idempotency, all-or-nothing batches.

mod common;

use common::{ADMIN, Receiver, Service};
use serde_json::{Value, json};

#[tokio::test]
async fn an_account_never_sees_another_accounts_data() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let alice = service.account("Alice").await;
    let bob = service.account("Bob").await;
    let hook = service.webhook(&alice, json!({ "url": receiver.url })).await;
    let hook_id = hook["id"].as_str().unwrap();
    let event_id = service.send_event(&alice, json!({ "type": "x" })).await;
    let delivery = service
        .delivery_when(&alice, &event_id, |d| d["status"] == "delivered")
        .await;
    let delivery_id = delivery["id"].as_str().unwrap();

    for (method, path, body) in [
        ("GET", format!("/v1/webhooks/{hook_id}"), None),
        (
            "PATCH",
            format!("/v1/webhooks/{hook_id}"),
            Some(json!({"enabled": false})),
        ),
        ("GET", format!("/v1/webhooks/{hook_id}/secret"), None),
        ("GET", format!("/v1/webhooks/{hook_id}/attempts"), None),
        ("GET", format!("/v1/webhooks/{hook_id}/stats"), None),
        ("GET", format!("/v1/webhooks/{hook_id}/verification-file"), None),
        (
            "POST",
            format!("/v1/webhooks/{hook_id}/recover"),
            Some(json!({"since": "2020-01-01T00:00:00Z"})),
        ),
        ("DELETE", format!("/v1/webhooks/{hook_id}"), None),
        ("GET", format!("/v1/events/{event_id}"), None),
        ("GET", format!("/v1/deliveries/{delivery_id}"), None),
        ("POST", format!("/v1/deliveries/{delivery_id}/resend"), None),
    ] {
        let (status, problem) = service.call(method, &path, &bob, body).await;
        assert_eq!(status, 404, "{method} {path}: {problem}");
        assert_eq!(problem["status"], 404);
    }
    let (_, list) = service.call("GET", "/v1/webhooks", &bob, None).await;
    assert_eq!(list["data"], json!([]));
    // Bob's events do not reach Alice's webhook.
    service.send_event(&bob, json!({ "type": "x" })).await;
    let (_, hook) = service
        .call("GET", &format!("/v1/webhooks/{hook_id}"), &alice, None)
        .await;
    assert_eq!(hook["enabled"], true);
    assert_eq!(receiver.count(), 1);

    // Keys act inside their account only; the operator token manages accounts.
    let (status, _) = service.call("GET", "/v1/accounts", &alice, None).await;
    assert_eq!(status, 403);
    let (status, _) = service
        .call("GET", "/v1/webhooks", "pb_key_01m84876wmysyaevdxh8bffc0f_wrong", None)
        .await;
    assert_eq!(status, 401);
    let (status, _) = service.call("GET", "/v1/webhooks", "", None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_deleted_key_stops_working_and_a_new_one_works() {
    let service = Service::start().await;
    let (_, account) = service
        .call("POST", "/v1/accounts", ADMIN, Some(json!({"name": "Acme"})))
        .await;
    let account_id = account["id"].as_str().unwrap();
    let first = account["api_key"].as_str().unwrap();
    let (status, second) = service
        .call("POST", &format!("/v1/accounts/{account_id}/keys"), ADMIN, None)
        .await;
    assert_eq!(status, 201);
    let first_key_id = first.strip_prefix("pb_").unwrap().rsplit_once('_').unwrap().0;
    let (status, _) = service
        .call(
            "DELETE",
            &format!("/v1/accounts/{account_id}/keys/{first_key_id}"),
            ADMIN,
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(service.call("GET", "/v1/webhooks", first, None).await.0, 401);
    assert_eq!(
        service
            .call("GET", "/v1/webhooks", second["api_key"].as_str().unwrap(), None)
            .await
            .0,
        200
    );
}

/// Each bad request gets a 4xx problem document naming what is wrong, and changes nothing.
#[tokio::test]
async fn bad_input_is_refused_and_stores_nothing() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Acme").await;
    let url = receiver.url.clone();
    let too_big = format!(
        "{{\"url\": \"{url}\", \"description\": \"{}\"}}",
        "x".repeat(1024 * 1024)
    );
    let cases: Vec<(Value, u16, &str)> = vec![
        (Value::String("{\"url\": ".into()), 400, ""),
        (Value::String("[1, 2]".into()), 422, "body"),
        (json!({ "url": url, "colour": "red" }), 422, "colour"),
        (
            json!({ "url": url, "max_concurrency": "eight" }),
            422,
            "max_concurrency",
        ),
        (json!({ "url": url, "max_concurrency": 0 }), 422, "max_concurrency"),
        (json!({ "events": ["x"] }), 422, "url"),
        (json!({ "url": "/relative/path" }), 422, "url"),
        (json!({ "url": "ftp://example.com/x" }), 422, "url"),
        (json!({ "url": url, "events": [] }), 422, "events"),
        (json!({ "url": url, "events": ["no spaces"] }), 422, "events[0]"),
        (json!({ "url": url, "format": "yaml" }), 422, "format"),
        (
            json!({ "url": url, "signatures": ["rfc9421", "http-signature"] }),
            422,
            "signatures",
        ),
        (json!({ "url": url, "signatures": ["hmac-md5"] }), 422, "signatures[0]"),
        (
            json!({ "url": url, "headers": {"Content-Type": "text/plain"} }),
            422,
            "headers.Content-Type",
        ),
        (
            json!({ "url": url, "condition": "fields.name = 'piet'" }),
            422,
            "condition",
        ),
        (
            json!({ "url": url, "format": "xml", "batch": {"max_events": 10, "max_wait_ms": 100} }),
            422,
            "batch",
        ),
        (
            json!({ "url": url, "batch": {"max_events": 0, "max_wait_ms": 100} }),
            422,
            "batch.max_events",
        ),
        (
            json!({ "url": url, "batch": {"max_events": 10, "max_wait_ms": 600000} }),
            422,
            "batch.max_wait_ms",
        ),
        (json!({ "url": url, "ordering": "time" }), 422, "ordering"),
        (Value::String(too_big), 413, ""),
    ];
    for (body, status, field) in cases {
        let shown = body.to_string().chars().take(80).collect::<String>();
        let (got, problem) = service.call("POST", "/v1/webhooks", &key, Some(body)).await;
        assert_eq!(got, status, "{shown}: {problem}");
        assert_eq!(problem["status"], status);
        assert!(
            problem["title"].is_string() && problem["detail"].is_string(),
            "{problem}"
        );
        if !field.is_empty() {
            let fields: Vec<&str> = problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["field"].as_str().unwrap())
                .collect();
            assert!(fields.contains(&field), "{shown}: expected {field} in {problem}");
        }
    }
    let (_, list) = service.call("GET", "/v1/webhooks", &key, None).await;
    assert_eq!(list["data"], json!([]), "nothing was stored");

    // Events: the same discipline; none of these reaches a receiver.
    service.webhook(&key, json!({ "url": url })).await;
    let event_cases: Vec<(Value, u16, &str)> = vec![
        (Value::String("not json".into()), 400, ""),
        (json!({ "type": "x", "dat": {} }), 422, "dat"),
        (json!({ "data": {} }), 422, "type"),
        (json!({ "type": 7 }), 422, "type"),
        (json!({ "type": "open" }), 422, "type"),
        (json!({ "type": "x", "profile_id": "p1" }), 422, "profile_id"),
        (json!({ "type": "x", "data": "y".repeat(2 * 1024 * 1024) }), 413, ""),
    ];
    for (body, status, field) in event_cases {
        let shown = body.to_string().chars().take(80).collect::<String>();
        let (got, problem) = service.call("POST", "/v1/events", &key, Some(body)).await;
        assert_eq!(got, status, "{shown}: {problem}");
        if !field.is_empty() {
            assert_eq!(problem["errors"][0]["field"], field, "{shown}: {problem}");
        }
    }
    let (got, problem) = service
        .call(
            "POST",
            "/v1/events/batch",
            &key,
            Some(json!({"events": [{"type": "x"}, {"type": "bad type"}]})),
        )
        .await;
    assert_eq!(got, 422);
    assert_eq!(problem["errors"][0]["field"], "events[1].type");
    let (got, _) = service
        .call(
            "POST",
            "/v1/events/batch",
            &key,
            Some(json!({"events": vec![json!({"type": "x"}); 1001]})),
        )
        .await;
    assert_eq!(got, 422);
    // A wrong content type is refused before the body is read.
    let response = service
        .http
        .post(format!("{}/v1/events", service.url))
        .bearer_auth(&key)
        .header("content-type", "text/plain")
        .body(r#"{"type": "x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(response.headers()["content-type"], "application/problem+json");

    // One good event afterwards is the only call the receiver ever gets.
    let id = service.send_event(&key, json!({ "type": "x" })).await;
    service.delivery_when(&key, &id, |d| d["status"] == "delivered").await;
    assert_eq!(receiver.count(), 1);
    assert_eq!(receiver.calls()[0].json()["id"], id);
}

#[tokio::test]
async fn an_idempotency_key_returns_the_first_event() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Acme").await;
    service.webhook(&key, json!({ "url": receiver.url })).await;
    let event = json!({ "type": "order.paid", "data": {"n": 1}, "idempotency_key": "order-1" });
    let (s1, first) = service.call("POST", "/v1/events", &key, Some(event.clone())).await;
    let (s2, again) = service.call("POST", "/v1/events", &key, Some(event)).await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(first, again);
    assert_eq!(first["deliveries"], 1);
    let (status, problem) = service
        .call(
            "POST",
            "/v1/events",
            &key,
            Some(json!({ "type": "order.paid", "data": {"n": 2}, "idempotency_key": "order-1" })),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    receiver.wait_for(1).await;

    // After 24 hours the key is free again.
    service.advance(std::time::Duration::from_secs(24 * 3600 + 1));
    let (_, later) = service
        .call(
            "POST",
            "/v1/events",
            &key,
            Some(json!({ "type": "order.paid", "data": {"n": 2}, "idempotency_key": "order-1" })),
        )
        .await;
    assert_ne!(later["id"], first["id"]);
    receiver.wait_for(2).await;
    // Keys are per account.
    let other = service.account("Other").await;
    let (status, _) = service
        .call(
            "POST",
            "/v1/events",
            &other,
            Some(json!({ "type": "x", "idempotency_key": "order-1" })),
        )
        .await;
    assert_eq!(status, 202);
}

#[tokio::test]
async fn a_batch_is_accepted_whole_and_delivered_whole() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Acme").await;
    service
        .webhook(&key, json!({ "url": receiver.url, "events": ["a"] }))
        .await;
    service
        .webhook(&key, json!({ "url": receiver.url, "events": ["a", "b"] }))
        .await;
    let events: Vec<Value> = (0..300)
        .map(|n| json!({ "type": if n % 2 == 0 { "a" } else { "b" }, "data": n }))
        .collect();
    let (status, body) = service
        .call("POST", "/v1/events/batch", &key, Some(json!({ "events": events })))
        .await;
    assert_eq!(status, 202, "{body}");
    let ids: Vec<String> = body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 300);
    // 150 "a" events to two webhooks, 150 "b" events to one.
    let calls = receiver.wait_for(450).await;
    let mut seen: Vec<String> = calls
        .iter()
        .map(|c| c.json()["id"].as_str().unwrap().to_owned())
        .collect();
    seen.sort();
    seen.dedup();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(seen, expected);
    let event = service.event(&key, &ids[0]).await;
    assert_eq!(event["deliveries"].as_array().unwrap().len(), 2);
    assert_eq!(event["body"]["data"], 0);
}

#[tokio::test]
async fn health_ready_and_unknown_routes() {
    let service = Service::start().await;
    assert_eq!(
        service.call("GET", "/health", "", None).await,
        (200, json!({"status": "ok"}))
    );
    assert_eq!(
        service.call("GET", "/ready", "", None).await,
        (200, json!({"status": "ready"}))
    );
    let (status, problem) = service.call("GET", "/v1/nothing-here", "", None).await;
    assert_eq!(status, 404);
    assert_eq!(problem["type"], "/problems/not-found");
}

/// One process per SQLite file: a second start on the same data directory is refused
/// with a clear reason instead of clearing the first one's leases.
#[tokio::test]
async fn a_second_process_cannot_open_the_same_database() {
    // SQLite's rule, whichever backend the suite runs on.
    let service = Service::start_with(|c| c.database_url = None).await;
    let config = common::test_config(service.dir.path());
    let clock = std::sync::Arc::new(postbode_core::SystemClock);
    let error = postbode::app::start(config, clock)
        .await
        .err()
        .expect("the second start must fail");
    assert!(
        format!("{error:#}").contains("in use by another Postbode process"),
        "{error:#}"
    );
    // The first one is unharmed.
    assert_eq!(service.call("GET", "/ready", "", None).await.0, 200);
}

#[tokio::test]
async fn a_key_tells_whose_it_is() {
    let service = Service::start().await;
    let (_, created) = service
        .call("POST", "/v1/accounts", ADMIN, Some(json!({"name": "Acme"})))
        .await;
    let key = created["api_key"].as_str().unwrap();
    let (status, account) = service.call("GET", "/v1/account", key, None).await;
    assert_eq!(status, 200, "{account}");
    let fields: Vec<&String> = account.as_object().unwrap().keys().collect();
    assert_eq!(fields, ["id", "name", "created_at"]);
    assert_eq!((&account["id"], &account["name"]), (&created["id"], &json!("Acme")));
    let created_at = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let stored = created_at(&account["created_at"]);
    assert!((created_at(&created["created_at"]) - stored).abs() < chrono::Duration::milliseconds(1));
    // Only a key belongs to an account; the operator token does not.
    for token in ["", ADMIN] {
        let (status, problem) = service.call("GET", "/v1/account", token, None).await;
        assert_eq!(status, 401, "{problem}");
    }
}

#[tokio::test]
async fn the_idempotency_key_header_is_the_bodys_idempotency_key() {
    let service = Service::start().await;
    let key = service.account("Acme").await;
    let post = |body: Value, header: Option<&'static str>, path: &'static str| {
        let mut request = service
            .http
            .post(format!("{}{path}", service.url))
            .bearer_auth(&key)
            .json(&body);
        if let Some(header) = header {
            request = request.header("Idempotency-Key", header);
        }
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, first) = post(json!({"type": "x", "data": 1}), Some("order-1"), "/v1/events").await;
    assert_eq!(status, 202, "{first}");
    let (_, again) = post(json!({"type": "x", "data": 1}), Some("order-1"), "/v1/events").await;
    assert_eq!(again["id"], first["id"]);
    let (_, in_body) = post(
        json!({"type": "x", "data": 1, "idempotency_key": "order-1"}),
        None,
        "/v1/events",
    )
    .await;
    assert_eq!(in_body["id"], first["id"], "header and body name the same key");
    let (status, _) = post(json!({"type": "x", "data": 2}), Some("order-1"), "/v1/events").await;
    assert_eq!(status, 409);

    let (status, problem) = post(
        json!({"type": "x", "idempotency_key": "order-2"}),
        Some("order-3"),
        "/v1/events",
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "idempotency_key");
    let (status, problem) = post(json!({"events": [{"type": "x"}]}), Some("batch-1"), "/v1/events/batch").await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "idempotency_key");
}

#[tokio::test]
async fn verification_shows_not_required_when_it_is_off() {
    let service = Service::start_with(|c| c.webhooks.require_verification = false).await;
    let key = service.account("Acme").await;
    let hook = service.webhook(&key, json!({"url": "https://example.com/hook"})).await;
    assert_eq!(hook["verification"]["status"], "not_required");
    let (_, listed) = service.call("GET", "/v1/webhooks", &key, None).await;
    assert_eq!(listed["data"][0]["verification"]["status"], "not_required");

    let required = Service::start_with(|c| c.webhooks.require_verification = true).await;
    let key = required.account("Acme").await;
    let hook = required.webhook(&key, json!({"url": "https://example.com/hook"})).await;
    assert_eq!(hook["verification"]["status"], "pending");
}
