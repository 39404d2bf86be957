//! `fields_changed` against the real service: only with a scope whose fields it names
//! (422 naming the entry otherwise), and an update reaches the receiver only when it
//! changed one of them; creates and deletes always do.

mod common;

use common::{Receiver, Service};
use serde_json::json;

#[tokio::test]
async fn an_update_fires_only_when_a_listed_field_changed() {
    let receiver = Receiver::start().await;
    let service = Service::start().await;
    let key = service.account("Acme").await;
    let db = service
        .database(
            &key,
            json!({"name": "customers", "fields": [{"name": "email", "type": "email"}, {"name": "name", "type": "text"}]}),
        )
        .await;

    let refused = [
        (
            json!({"url": receiver.url, "fields_changed": ["email"]}),
            "fields_changed",
        ),
        (
            json!({"url": receiver.url, "database_id": db, "fields_changed": ["email", "phone"]}),
            "fields_changed[1]",
        ),
        (
            json!({"url": receiver.url, "database_id": db, "fields_changed": ["email", "email"]}),
            "fields_changed[1]",
        ),
    ];
    for (settings, field) in refused {
        let (status, problem) = service.call("POST", "/v1/webhooks", &key, Some(settings)).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let (_, listed) = service.call("GET", "/v1/webhooks", &key, None).await;
    assert_eq!(listed["data"], json!([]), "nothing was stored");

    let webhook = service
        .webhook(
            &key,
            json!({"url": receiver.url, "database_id": db, "fields_changed": ["email"]}),
        )
        .await;
    assert_eq!(webhook["fields_changed"], json!(["email"]));
    let profile = service
        .profile(&key, &db, json!({"email": "piet@example.com", "name": "Piet"}))
        .await;
    let path = format!("/v1/profiles/{profile}");
    let patch = |fields: serde_json::Value| service.call("PATCH", &path, &key, Some(json!({"fields": fields})));
    assert_eq!(patch(json!({"name": "Pieter"})).await.0, 200);
    assert_eq!(patch(json!({"email": "pieter@example.com"})).await.0, 200);
    let (status, _) = service
        .call("DELETE", &format!("/v1/profiles/{profile}"), &key, None)
        .await;
    assert_eq!(status, 204);

    let calls = service.settled_calls(&key, &webhook, &receiver).await;
    let types: Vec<String> = calls
        .iter()
        .map(|c| c.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, ["create", "update", "delete"], "the name's update was not sent");
    assert_eq!(calls[1].json()["previous"], json!({"email": "piet@example.com"}));

    // A PATCH that drops the scope but keeps the list is refused too.
    let (status, problem) = service
        .call(
            "PATCH",
            &format!("/v1/webhooks/{}", webhook["id"].as_str().unwrap()),
            &key,
            Some(json!({"database_id": null})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "fields_changed");
}
