//! Scoped API keys: every operation of the OpenAPI document that an account key may
//! call names the one scope it needs, and the service holds to it — a key without that
//! scope is refused with 403 naming it before anything runs, a key with only that scope
//! gets past the check. Keys keep a name and when they were last used.

mod common;

use common::{ADMIN, Service, eventually};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const SCOPES: [&str; 5] = [
    "events:write",
    "webhooks:read",
    "webhooks:write",
    "data:read",
    "data:write",
];

/// Whether a key holding `held` may do what `needed` guards (`manage` is tested apart).
fn grants(held: &str, needed: &str) -> bool {
    held == needed
        || (held == "webhooks:write" && needed == "webhooks:read")
        || (held == "data:write" && needed == "data:read")
}

/// The account's id, from the key holder's own view.
async fn account_id(service: &Service, key: &str) -> String {
    let (status, account) = service.call("GET", "/v1/account", key, None).await;
    assert_eq!(status, 200);
    account["id"].as_str().unwrap().to_owned()
}

/// A new key of the account with `scopes`; returns its token.
async fn key_with(service: &Service, account: &str, scopes: &[&str]) -> String {
    let created = service
        .create(
            ADMIN,
            &format!("/v1/accounts/{account}/keys"),
            json!({ "name": scopes.join("+"), "scopes": scopes }),
        )
        .await;
    assert_eq!(created["scopes"], json!(scopes));
    created["api_key"].as_str().unwrap().to_owned()
}

/// `(method, path, needed scope)` of every operation an account key may call; the
/// operations with an empty scope list (who am I) apart.
fn account_operations(document: &Value) -> (Vec<(String, String, String)>, Vec<String>) {
    let mut scoped = Vec::new();
    let mut any = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(security) = operation["security"].as_array() else {
                continue;
            };
            for requirement in security {
                let Some(scopes) = requirement.get("account_key").and_then(Value::as_array) else {
                    continue;
                };
                let id = operation["operationId"].as_str().unwrap().to_owned();
                match scopes.as_slice() {
                    [] => any.push(id),
                    [scope] => scoped.push((method.to_uppercase(), path.clone(), scope.as_str().unwrap().to_owned())),
                    more => panic!("{id} names several scopes: {more:?}"),
                }
            }
        }
    }
    (scoped, any)
}

/// The path with each `{parameter}` filled with an id nobody has.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|part| {
            if part.starts_with('{') {
                "x_01m99ck4hpbrxp9nq8rb7zcqs3"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_operation_needs_its_scope_and_the_document_names_it() {
    let service = Service::start().await;
    let manage = service.account("scoped").await;
    let account = account_id(&service, &manage).await;
    let mut keys = BTreeMap::new();
    for scope in SCOPES {
        keys.insert(scope, key_with(&service, &account, &[scope]).await);
    }
    let document = service
        .http
        .get(format!("{}/openapi.json", service.url))
        .send()
        .await
        .unwrap();
    let document: Value = document.json().await.unwrap();
    let (operations, any) = account_operations(&document);
    assert_eq!(any, ["getAccount"], "only 'whose key is this' needs no scope");
    assert!(
        operations.len() >= 50,
        "every account operation is in the table: {}",
        operations.len()
    );

    for (method, path, needed) in &operations {
        assert!(
            SCOPES.contains(&needed.as_str()),
            "{method} {path}: unknown scope {needed}"
        );
        let url = concrete(path);
        let body = ["POST", "PUT", "PATCH"].contains(&method.as_str()).then(|| json!({}));
        for (held, key) in &keys {
            let (status, answer) = service.call(method, &url, key, body.clone()).await;
            if grants(held, needed) {
                assert!(
                    ![401, 403].contains(&status),
                    "{method} {path} with a {held} key: {status} {answer}"
                );
            } else {
                assert_eq!(status, 403, "{method} {path} with a {held} key: {answer}");
                assert_eq!(answer["type"], "/problems/missing-scope", "{method} {path}");
                assert_eq!(answer["scope"], needed.as_str(), "{method} {path}");
                assert!(answer["detail"].as_str().unwrap().contains(needed.as_str()));
            }
        }
        // The account's first key, made without scopes, may do everything.
        let (status, answer) = service.call(method, &url, &manage, body.clone()).await;
        assert!(
            ![401, 403].contains(&status),
            "{method} {path} with a manage key: {answer}"
        );
    }
}

#[tokio::test]
async fn a_senders_key_sends_events_and_nothing_else_and_its_use_is_noted() {
    let service = Service::start().await;
    let manage = service.account("sender").await;
    let account = account_id(&service, &manage).await;
    let sender = key_with(&service, &account, &["events:write"]).await;

    let (status, _) = service
        .call(
            "POST",
            "/v1/events",
            &sender,
            Some(json!({ "type": "order.paid", "data": {} })),
        )
        .await;
    assert_eq!(status, 202);
    let (status, refused) = service.call("GET", "/v1/webhooks", &sender, None).await;
    assert_eq!((status, refused["scope"].as_str()), (403, Some("webhooks:read")));
    let (status, refused) = service
        .call(
            "POST",
            "/v1/webhooks",
            &sender,
            Some(json!({ "url": "http://127.0.0.1:9/hook" })),
        )
        .await;
    assert_eq!((status, refused["scope"].as_str()), (403, Some("webhooks:write")));

    // The listing names each key, its scopes and, once used, when.
    let listed = eventually("the sender key's use is noted", || async {
        let (status, keys) = service
            .call("GET", &format!("/v1/accounts/{account}/keys"), ADMIN, None)
            .await;
        assert_eq!(status, 200);
        let keys = keys.as_array().unwrap().clone();
        let used = keys.iter().find(|k| k["name"] == "events:write")?;
        used["last_used_at"].is_string().then_some(keys)
    })
    .await;
    assert_eq!(listed.len(), 2);
    let first = listed.iter().find(|k| k["name"].is_null()).unwrap();
    assert_eq!(first["scopes"], json!(["manage"]));
    assert!(listed.iter().all(|k| k.get("secret_hash").is_none()));

    // The account's own key, even with manage, is not the operator.
    let (status, _) = service
        .call("GET", &format!("/v1/accounts/{account}/keys"), &manage, None)
        .await;
    assert_eq!(status, 403, "listing keys is the operator's");
}

#[tokio::test]
async fn a_key_request_is_checked_field_by_field() {
    let service = Service::start().await;
    let manage = service.account("checks").await;
    let account = account_id(&service, &manage).await;
    let path = format!("/v1/accounts/{account}/keys");
    let (status, answer) = service
        .call(
            "POST",
            &path,
            ADMIN,
            Some(json!({ "scopes": ["events:write", "everything"] })),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["errors"][0]["field"], "scopes[1]", "{answer}");
    let (status, answer) = service.call("POST", &path, ADMIN, Some(json!({ "scopes": [] }))).await;
    assert_eq!((status, answer["errors"][0]["field"].as_str()), (422, Some("scopes")));
    let (status, answer) = service.call("POST", &path, ADMIN, Some(json!({ "name": "" }))).await;
    assert_eq!((status, answer["errors"][0]["field"].as_str()), (422, Some("name")));
    let (_, keys) = service.call("GET", &path, ADMIN, None).await;
    assert_eq!(keys.as_array().unwrap().len(), 1, "a refused request makes no key");
    // No body at all: a key that may do everything.
    let (status, created) = service.call("POST", &path, ADMIN, None).await;
    assert_eq!((status, created["scopes"].clone()), (201, json!(["manage"])));
}
