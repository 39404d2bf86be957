//! The catalogue's built-in types describe what receivers really get: every kind of
//! body the service sends (profile and subprofile changes, opens, clicks and every
//! report) validates against its type's schema from `GET /v1/event-types/{type}`, and
//! its fields come in the order that schema (and docs/payloads.md) lists them, the
//! fields the type's example shows.

mod common;

use common::{Receiver, Service};
use postbode_core::event_type::DataSchema;
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn every_body_the_service_sends_matches_its_built_in_type() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Shop").await;
    service
        .webhook(&key, json!({"url": receiver.url, "events": ["all"]}))
        .await;
    let db = service
        .database(&key, json!({"name": "customers", "fields": [{"name": "email", "type": "email"}, {"name": "age", "type": "integer"}]}))
        .await;
    let col = service
        .collection(
            &key,
            &db,
            json!({"name": "orders", "fields": [{"name": "total", "type": "float"}]}),
        )
        .await;

    // Profile and subprofile changes.
    let profile = service
        .profile(&key, &db, json!({"email": "piet@example.com", "age": 31}))
        .await;
    let patched = json!({"fields": {"age": 32}});
    assert_eq!(
        service
            .call("PATCH", &format!("/v1/profiles/{profile}"), &key, Some(patched))
            .await
            .0,
        200
    );
    let subprofile = service.subprofile(&key, &profile, &col, json!({"total": 9.5})).await;
    assert_eq!(
        service
            .call("DELETE", &format!("/v1/subprofiles/{subprofile}"), &key, None)
            .await
            .0,
        204
    );

    // A message: its open, a click, and each report.
    let message = service
        .create(
            &key,
            "/v1/messages",
            json!({"mailing": {"id": "m-1", "tags": ["spring"]}, "email": "piet@example.com", "profile_id": profile}),
        )
        .await;
    let id = message["id"].as_str().unwrap().to_owned();
    let local = |url: &str| {
        let parsed = url::Url::parse(url).unwrap();
        format!("{}{}", service.url, &parsed[url::Position::BeforePath..])
    };
    no_redirects()
        .get(local(message["open_url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    let (_, link) = service
        .call(
            "POST",
            &format!("/v1/messages/{id}/links"),
            &key,
            Some(json!({"url": "https://example.com/a"})),
        )
        .await;
    no_redirects()
        .get(local(link["click_url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    let reports = [
        (
            "deliveries",
            json!({"code": 250, "extended": "2.0.0", "description": "OK"}),
        ),
        (
            "bounces",
            json!({"envelope": "bounces@shop.example", "mime": "Subject: x\r\n\r\n550\r\n"}),
        ),
        (
            "failures",
            json!({"state": "rcpt", "code": 550, "extended": "5.1.1", "description": "User unknown"}),
        ),
        ("abuses", json!({"emailfrom": "piet@example.com", "mime": "abuse\r\n"})),
        ("unsubscribes", json!({})),
    ];
    for (route, body) in reports {
        let (status, answer) = service
            .call("POST", &format!("/v1/messages/{id}/{route}"), &key, Some(body))
            .await;
        assert_eq!(status, 202, "{route}: {answer}");
    }
    // Deleting the profile last.
    assert_eq!(
        service
            .call("DELETE", &format!("/v1/profiles/{profile}"), &key, None)
            .await
            .0,
        204
    );

    let expected: BTreeSet<&str> = [
        "create",
        "update",
        "delete",
        "open",
        "click",
        "delivery",
        "bounce",
        "failure",
        "abuse",
        "unsubscribe",
    ]
    .into();
    let calls = common::eventually("a call of every built-in type", || async {
        let calls = receiver.calls();
        let seen: BTreeSet<String> = calls
            .iter()
            .map(|c| c.json()["type"].as_str().unwrap().to_owned())
            .collect();
        expected.iter().all(|t| seen.contains(*t)).then_some(calls)
    })
    .await;

    let mut checked = BTreeSet::new();
    for call in &calls {
        let text = String::from_utf8(call.body.to_vec()).unwrap();
        let body: Value = serde_json::from_str(&text).unwrap();
        let event_type = body["type"].as_str().unwrap().to_owned();
        let (status, listed) = service
            .call("GET", &format!("/v1/event-types/{event_type}"), &key, None)
            .await;
        assert_eq!((status, listed["builtin"].clone()), (200, json!(true)), "{event_type}");
        let schema = DataSchema::compile(&listed["schema"]).unwrap();
        let violations = schema.check("body", &body);
        assert!(violations.is_empty(), "{event_type}: {violations:?} in {text}");
        // The fields come in the schema's order (the body keeps it: serde_json's
        // preserve_order), those of a profile change without its subprofile ones.
        let order: Vec<&str> = listed["schema"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let fields: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
        let in_order: Vec<&str> = order.iter().copied().filter(|f| fields.contains(f)).collect();
        assert_eq!(
            fields, in_order,
            "{event_type}: the body's fields are not in the documented order"
        );
        // The listed example has the fields of a real body (of a profile, for changes).
        if body.get("subprofile").is_none() {
            let example: Vec<&str> = listed["example"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(example, fields, "{event_type}: the example's fields");
            assert!(schema.check("example", &listed["example"]).is_empty(), "{event_type}");
        }
        checked.insert(event_type);
    }
    assert!(expected.iter().all(|t| checked.contains(*t)), "{checked:?}");
}
