//! Erasing a profile leaves no trace of its data in the database file: the profile, its
//! subprofiles, every event that concerned it (profile changes, custom events naming it,
//! opens and reports of messages sent to it) with their deliveries and the attempts'
//! response excerpts, and the messages themselves. Proved on the bytes of the SQLite
//! file after a checkpoint and a VACUUM. Another profile's data stays.

mod common;

use common::{Receiver, Reply, Service};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const ERASED: &str = "erase-me@example.com";
const KEPT: &str = "keep-me@example.com";

#[tokio::test]
async fn an_erased_profile_leaves_no_trace_in_the_database_file() {
    // Until the erasure the receiver echoes the address, so attempts keep it as excerpt.
    let echoing = Arc::new(AtomicBool::new(true));
    let echo = echoing.clone();
    let receiver = Receiver::answering(move |_| match echo.load(Ordering::SeqCst) {
        true => Reply::body(format!("thanks for {ERASED}")),
        false => Reply::Status(204),
    })
    .await;
    // Reads the SQLite file's bytes, whichever backend the suite runs on.
    let mut service = Service::start_with(|c| c.database_url = None).await;
    let key = service.account("Acme").await;
    let db = service
        .database(
            &key,
            json!({"name": "customers", "fields": [{"name": "email", "type": "email"}, {"name": "name", "type": "text"}]}),
        )
        .await;
    let col = service
        .collection(
            &key,
            &db,
            json!({"name": "orders", "fields": [{"name": "note", "type": "text"}]}),
        )
        .await;
    // Another profile's data, stored before the webhook (whose receiver's answers
    // carry the erased address) exists.
    let kept = service.profile(&key, &db, json!({"email": KEPT, "name": "Kees"})).await;
    service
        .send_event(
            &key,
            json!({"type": "order.paid", "profile_id": kept, "data": {"to": KEPT}}),
        )
        .await;
    let webhook = service.webhook(&key, json!({"url": receiver.url})).await;
    let erased = service
        .profile(&key, &db, json!({"email": ERASED, "name": "Erika"}))
        .await;
    service
        .subprofile(&key, &erased, &col, json!({"note": format!("ship to {ERASED}")}))
        .await;
    let (status, _) = service
        .call(
            "PATCH",
            &format!("/v1/profiles/{erased}"),
            &key,
            Some(json!({"fields": {"name": "Erika B."}})),
        )
        .await;
    assert_eq!(status, 200);
    let custom = service
        .send_event(
            &key,
            json!({"type": "order.paid", "profile_id": erased, "data": {"to": ERASED}}),
        )
        .await;
    let message = service
        .create(
            &key,
            "/v1/messages",
            json!({"mailing": {"id": "spring"}, "email": ERASED, "profile_id": erased}),
        )
        .await;
    let open_url = message["open_url"].as_str().unwrap();
    assert!(service.http.get(open_url).send().await.unwrap().status().is_success());
    let message_id = message["id"].as_str().unwrap();
    let (status, _) = service
        .call(
            "POST",
            &format!("/v1/messages/{message_id}/bounces"),
            &key,
            Some(json!({"envelope": ERASED})),
        )
        .await;
    assert_eq!(status, 202);
    // create, subprofile create, update, custom event, open, bounce.
    let before = service.settled_calls(&key, &webhook, &receiver).await;
    assert_eq!(before.len(), 6, "every event was delivered");
    echoing.store(false, Ordering::SeqCst);

    let (status, answer) = service
        .call("DELETE", &format!("/v1/profiles/{erased}?erase=true"), &key, None)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["profile_id"], erased.as_str());
    let counts = &answer["erased"];
    // create, subprofile create, update, custom, open, bounce.
    assert_eq!(counts["events"], 6, "{answer}");
    assert_eq!(counts["deliveries"], 6, "{answer}");
    assert_eq!(counts["attempts"], 6, "{answer}");
    assert_eq!(counts["messages"], 1, "{answer}");
    // Receivers still hear of it: a `delete` for the subprofile and the profile, with
    // the ids and none of the data.
    let after = service.settled_calls(&key, &webhook, &receiver).await;
    let deletes = &after[before.len()..];
    assert_eq!(deletes.len(), 2, "two delete events");
    for call in deletes {
        let body = String::from_utf8_lossy(&call.body);
        assert!(body.contains(&erased), "{body}");
        assert!(!body.contains(ERASED) && !body.contains("Erika"), "{body}");
    }
    let (status, _) = service.call("GET", &format!("/v1/events/{custom}"), &key, None).await;
    assert_eq!(status, 404);
    let (status, _) = service.call("GET", &format!("/v1/profiles/{erased}"), &key, None).await;
    assert_eq!(status, 404);
    let (status, _) = service
        .call("DELETE", &format!("/v1/profiles/{erased}?erase=true"), &key, None)
        .await;
    assert_eq!(status, 404, "erasing it twice");

    service.stop().await;
    let path = service.dir.path().join("postbode.db");
    let url = format!("sqlite://{}", path.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("VACUUM").execute(&pool).await.unwrap();
    // VACUUM wrote the new pages to the WAL; the checkpoint puts them in the file and
    // truncates it (busy = 0: nothing else holds the database).
    let (busy,): (i64,) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(busy, 0);
    pool.close().await;
    let mut bytes = std::fs::read(&path).unwrap();
    if let Ok(wal) = std::fs::read(path.with_extension("db-wal")) {
        bytes.extend(wal);
    }
    let found = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());

    assert!(found(KEPT), "the search finds what is there");
    assert!(!found(ERASED), "the erased address is still in the file");
    assert!(!found("Erika"), "the erased name is still in the file");
}

#[tokio::test]
async fn the_profile_command_erases_and_fails_for_an_unknown_profile() {
    let service = Service::start().await;
    let key = service.account("Acme").await;
    let db = service
        .database(
            &key,
            json!({"name": "customers", "fields": [{"name": "email", "type": "email"}]}),
        )
        .await;
    let profile = service.profile(&key, &db, json!({"email": ERASED})).await;
    service
        .send_event(&key, json!({"type": "x", "profile_id": profile}))
        .await;
    let erase = |id: String| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_postbode"));
        command
            .args(["profile", "erase", &id])
            .env("POSTBODE_URL", &service.url)
            .env("POSTBODE_API_KEY", &key);
        async move { command.output().await.unwrap() }
    };
    let output = erase(profile.clone()).await;
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    // The create and the custom event; no webhook, so nothing else.
    assert_eq!(
        stdout,
        format!("Erased profile {profile}: 2 events, 0 deliveries, 0 attempts, 0 messages.\n")
    );
    let output = erase(profile).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("404") && stderr.contains("profile not found"),
        "{stderr}"
    );
}
