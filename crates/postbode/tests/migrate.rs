//! `postbode migrate --from sqlite://... --to postgres://...`: a SQLite store moves to
//! PostgreSQL whole (the API key, the webhook with its sealed secret, signing keys,
//! profiles, and the deliveries still pending), the service carries on there where it
//! stopped, and a second move into the now non-empty target is refused.

mod common;

use common::binary::start_binary_with;
use common::{ADMIN, Receiver, free_port, postgres_only, verify_standard_webhooks};
use serde_json::json;
use std::process::Command;

fn migrate(from: &str, to: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_postbode"))
        .args(["migrate", "--from", from, "--to", to])
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_store_moves_to_postgresql_and_carries_on_there() {
    let Some(target) = postgres_only().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;

    // On SQLite, with delivery paused: the events' deliveries stay pending.
    let paused = [("POSTBODE_DELIVERY__PAUSED", "true")];
    let sqlite = start_binary_with(dir.path(), free_port(), &paused).await;
    let (_, account) = sqlite
        .call("POST", "/v1/accounts", ADMIN, Some(json!({"name": "Acme"})))
        .await;
    let key = account["api_key"].as_str().unwrap().to_owned();
    let (status, webhook) = sqlite
        .call(
            "POST",
            "/v1/webhooks",
            &key,
            Some(json!({"url": receiver.url, "events": ["order.paid"]})),
        )
        .await;
    assert_eq!(status, 201, "{webhook}");
    let (webhook_id, secret) = (webhook["id"].as_str().unwrap(), webhook["secret"].as_str().unwrap());
    let (_, database) = sqlite
        .call(
            "POST",
            "/v1/databases",
            &key,
            Some(json!({"name": "Customers", "fields": [{"name": "email", "type": "email"}]})),
        )
        .await;
    let database_id = database["id"].as_str().unwrap();
    let (status, profile) = sqlite
        .call(
            "POST",
            &format!("/v1/databases/{database_id}/profiles"),
            &key,
            Some(json!({"fields": {"email": "ann@example.com"}})),
        )
        .await;
    assert_eq!(status, 201, "{profile}");
    let mut events = Vec::new();
    for n in 0..3 {
        let (status, event) = sqlite
            .call(
                "POST",
                "/v1/events",
                &key,
                Some(json!({"type": "order.paid", "data": {"n": n}})),
            )
            .await;
        assert_eq!(status, 202);
        events.push(event["id"].as_str().unwrap().to_owned());
    }
    drop(sqlite); // kill -9: the move starts from what was committed

    let from = format!("sqlite://{}", dir.path().join("postbode.db").display());
    let moved = migrate(&from, &target.scoped);
    let stdout = String::from_utf8_lossy(&moved.stdout);
    assert!(
        moved.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&moved.stderr)
    );
    assert!(stdout.contains("Copied"), "{stdout}");

    // On PostgreSQL, with the same data directory (its master key) and delivery on.
    let postgres = start_binary_with(
        dir.path(),
        free_port(),
        &[("POSTBODE_DATABASE_URL", target.scoped.as_str())],
    )
    .await;
    let (status, seen) = postgres
        .call("GET", &format!("/v1/webhooks/{webhook_id}"), &key, None)
        .await;
    assert_eq!(status, 200, "the API key works on the copy: {seen}");
    let (status, found) = postgres
        .call(
            "GET",
            &format!("/v1/profiles/{}", profile["id"].as_str().unwrap()),
            &key,
            None,
        )
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["fields"]["email"], "ann@example.com");
    // The pending deliveries go out, signed with the secret sealed on SQLite.
    let calls = receiver.wait_for(3).await;
    let mut delivered: Vec<String> = calls
        .iter()
        .map(|c| {
            let body = c.json();
            if let Some(verified) = verify_standard_webhooks(secret, c) {
                assert_eq!(verified, body);
            }
            assert!(!c.header("webhook-signature").is_empty());
            body["id"].as_str().unwrap().to_owned()
        })
        .collect();
    delivered.sort();
    events.sort();
    assert_eq!(delivered, events);

    // The target now holds a store: a second move is refused and changes nothing.
    let again = migrate(&from, &target.scoped);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("the target is not empty"), "{stderr}");
    let (_, listed) = postgres.call("GET", "/v1/webhooks", &key, None).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
}
