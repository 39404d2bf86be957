//! Profile data through the API: every change fires its event with the fields
//! PAYLOADS.md gives it, committed with the change; scopes, sources and conditions
//! decide which webhooks hear of it; bad input changes nothing.

mod common;

use common::{Receiver, Service, eventually};
use serde_json::{Value, json};

/// A database of customers with typed fields and a collection of orders; returns
/// (database id, collection id).
async fn customers(service: &Service, key: &str) -> (String, String) {
    let db = service
        .database(
            key,
            json!({
                "name": "customers",
                "fields": [
                    {"name": "email", "type": "email"},
                    {"name": "name", "type": "text"},
                    {"name": "age", "type": "integer"},
                    {"name": "city", "type": "text", "default": "Delft"},
                ],
            }),
        )
        .await;
    let orders = json!({"name": "orders", "fields": [{"name": "total", "type": "float"}]});
    let col = service.collection(key, &db, orders).await;
    (db, col)
}

fn bodies(receiver: &Receiver) -> Vec<Value> {
    receiver.calls().iter().map(|c| c.json()).collect()
}

#[tokio::test]
async fn create_update_delete_fire_events_with_sequence_previous_and_parameters() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Shop").await;
    let (db, _) = customers(&service, &key).await;
    service
        .webhook(
            &key,
            json!({"url": receiver.url, "events": ["create", "update", "delete"]}),
        )
        .await;

    let profile = service
        .create(
            &key,
            &format!("/v1/databases/{db}/profiles"),
            json!({"fields": {"email": "piet@example.com", "name": "Piet", "age": "31"}}),
        )
        .await;
    let id = profile["id"].as_str().unwrap();
    assert_eq!(
        profile["fields"],
        json!({"email": "piet@example.com", "name": "Piet", "age": 31, "city": "Delft"})
    );
    let created = &receiver.wait_for(1).await[0];
    assert_eq!(created.header("x-postbode-event"), "create");
    let body = created.json();
    assert_eq!(body["type"], "create");
    assert_eq!(body["id"], id);
    assert_eq!(body["profile"], id);
    assert_eq!(body["database"], db.as_str());
    assert_eq!(body["sequence"], 1);
    assert_eq!(body["source"], "api");
    assert_eq!(
        body["parameters"],
        json!({"email": "piet@example.com", "name": "Piet", "age": 31})
    );
    assert_eq!(body["fields"]["city"], "Delft");
    assert!(body.get("previous").is_none());

    // PATCH merges; the update names what changed and what it was.
    let (status, patched) = service
        .call(
            "PATCH",
            &format!("/v1/profiles/{id}"),
            &key,
            Some(json!({"fields": {"age": 32, "name": "Piet"}})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["fields"]["email"], "piet@example.com");
    let update = receiver.wait_for(2).await[1].json();
    assert_eq!(update["type"], "update");
    assert_eq!(update["sequence"], 2);
    assert_eq!(update["parameters"], json!({"age": 32, "name": "Piet"}));
    assert_eq!(update["previous"], json!({"age": 31}));
    assert_eq!(update["fields"]["age"], 32);

    // A change that changes nothing fires nothing, and leaves the sequence alone.
    let (status, same) = service
        .call(
            "PATCH",
            &format!("/v1/profiles/{id}"),
            &key,
            Some(json!({"fields": {"age": 32}})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(same["sequence"], 2);

    // PUT replaces: what is not given is cleared.
    let (status, replaced) = service
        .call(
            "PUT",
            &format!("/v1/profiles/{id}"),
            &key,
            Some(json!({"fields": {"email": "piet@example.com"}, "interests": ["news"]})),
        )
        .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["fields"]["name"], Value::Null);
    assert_eq!(replaced["interests"], json!(["news"]));
    let update = receiver.wait_for(3).await[2].json();
    assert_eq!(update["sequence"], 3);
    assert_eq!(update["previous"], json!({"name": "Piet", "age": 32, "city": "Delft"}));
    assert_eq!(update["interests"], json!(["news"]));

    let (status, _) = service.call("DELETE", &format!("/v1/profiles/{id}"), &key, None).await;
    assert_eq!(status, 204);
    let delete = receiver.wait_for(4).await[3].json();
    assert_eq!(delete["type"], "delete");
    assert_eq!(delete["sequence"], 4);
    assert_eq!(delete["fields"]["email"], "piet@example.com");
    assert!(delete.get("parameters").is_none());
    let (status, _) = service.call("GET", &format!("/v1/profiles/{id}"), &key, None).await;
    assert_eq!(status, 404);
    assert_eq!(receiver.count(), 4, "the unchanged PATCH fired nothing");
}

#[tokio::test]
async fn subprofiles_fire_their_own_events_and_go_with_their_profile() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Shop").await;
    let (db, col) = customers(&service, &key).await;
    let profile_id = service.profile(&key, &db, json!({"email": "a@example.com"})).await;
    service
        .webhook(
            &key,
            json!({"url": receiver.url, "events": ["create", "update", "delete"]}),
        )
        .await;

    let sub = service
        .create(
            &key,
            &format!("/v1/profiles/{profile_id}/subprofiles"),
            json!({"collection_id": col, "fields": {"total": "19.5"}}),
        )
        .await;
    let sub_id = sub["id"].as_str().unwrap();
    assert_eq!(sub["fields"], json!({"total": 19.5}));
    let created = receiver.wait_for(1).await[0].json();
    assert_eq!(created["subprofile"], sub_id);
    assert_eq!(created["profile"], profile_id);
    assert_eq!(created["collection"], col.as_str());
    assert!(created.get("interests").is_none());

    let (status, _) = service
        .call(
            "PATCH",
            &format!("/v1/subprofiles/{sub_id}"),
            &key,
            Some(json!({"fields": {"total": 20}})),
        )
        .await;
    assert_eq!(status, 200);
    let update = receiver.wait_for(2).await[1].json();
    assert_eq!(update["previous"], json!({"total": 19.5}));

    // Deleting the profile deletes its subprofile, each with a delete event.
    let (status, _) = service
        .call("DELETE", &format!("/v1/profiles/{profile_id}"), &key, None)
        .await;
    assert_eq!(status, 204);
    let calls = receiver.wait_for(4).await;
    // Calls of one webhook run concurrently, so they may arrive in either order.
    let mut deleted: Vec<Value> = calls[2..].iter().map(|c| c.json()).collect();
    deleted.sort_by_key(|d| d.get("subprofile").is_none());
    assert_eq!(deleted[0]["subprofile"], sub_id);
    assert_eq!(deleted[1]["id"], profile_id);
    assert!(deleted[1].get("subprofile").is_none());
    assert!(deleted.iter().all(|d| d["type"] == "delete"));
    let (status, _) = service
        .call("GET", &format!("/v1/subprofiles/{sub_id}"), &key, None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn scope_limits_a_webhook_to_its_database_or_collection() {
    let service = Service::start().await;
    let all = Receiver::start().await;
    let only_db = Receiver::start().await;
    let only_other_db = Receiver::start().await;
    let only_col = Receiver::start().await;
    let key = service.account("Shop").await;
    let (db, col) = customers(&service, &key).await;
    let (other_db, _) = customers(&service, &key).await;
    let all_hook = service.webhook(&key, json!({"url": all.url})).await;
    let db_hook = service
        .webhook(&key, json!({"url": only_db.url, "database_id": db}))
        .await;
    let other_db_hook = service
        .webhook(&key, json!({"url": only_other_db.url, "database_id": other_db}))
        .await;
    let col_hook = service
        .webhook(&key, json!({"url": only_col.url, "collection_id": col}))
        .await;

    let profile = service.profile(&key, &db, json!({"email": "a@example.com"})).await;
    service.subprofile(&key, &profile, &col, json!({})).await;
    service.send_event(&key, json!({"type": "custom"})).await;
    // Once a webhook has nothing pending, its receiver has every call it will get: a
    // wrong delivery would be among them.
    let events = |calls: Vec<common::Call>| -> Vec<(String, bool)> {
        calls
            .iter()
            .map(|c| {
                (
                    c.header("x-postbode-event").to_owned(),
                    c.json().get("subprofile").is_some(),
                )
            })
            .collect()
    };
    let calls = service.settled_calls(&key, &all_hook, &all).await;
    assert_eq!(calls.len(), 3, "a custom event reaches only the unscoped webhook");
    assert_eq!(
        events(service.settled_calls(&key, &db_hook, &only_db).await),
        [("create".to_owned(), false)],
        "profile events only"
    );
    assert_eq!(
        events(service.settled_calls(&key, &col_hook, &only_col).await),
        [("create".to_owned(), true)],
        "subprofile events only"
    );
    assert_eq!(
        events(service.settled_calls(&key, &other_db_hook, &only_other_db).await),
        []
    );

    let (_, listed) = service
        .call("GET", &format!("/v1/webhooks?collection_id={col}"), &key, None)
        .await;
    let ids: Vec<&Value> = listed["data"].as_array().unwrap().iter().map(|w| &w["id"]).collect();
    assert_eq!(ids, [&col_hook["id"]]);

    // A scope must name the account's own database, and a collection of that database.
    let stranger = service.account("Stranger").await;
    let (status, problem) = service
        .call(
            "POST",
            "/v1/webhooks",
            &stranger,
            Some(json!({"url": all.url, "database_id": db})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "database_id");
    let (status, problem) = service
        .call(
            "POST",
            "/v1/webhooks",
            &key,
            Some(json!({"url": all.url, "database_id": other_db, "collection_id": col})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "collection_id");
}

#[tokio::test]
async fn ignore_sources_drops_api_changes_but_not_imports() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Shop").await;
    let (db, _) = customers(&service, &key).await;
    let webhook = service
        .webhook(
            &key,
            json!({"url": receiver.url, "events": ["create", "update"], "ignore_sources": ["api"]}),
        )
        .await;
    service.profile(&key, &db, json!({"email": "api@example.com"})).await;
    let response = service
        .http
        .post(format!("{}/v1/databases/{db}/import?key=email", service.url))
        .bearer_auth(&key)
        .header("content-type", "text/csv")
        .body("email,name\nimported@example.com,Imp\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let calls = service.settled_calls(&key, &webhook, &receiver).await;
    assert_eq!(calls.len(), 1, "the API's create is not sent");
    let body = calls[0].json();
    assert_eq!(body["source"], "import");
    assert_eq!(body["fields"]["email"], "imported@example.com");
}

#[tokio::test]
async fn conditions_are_evaluated_over_the_profile_fields() {
    let service = Service::start().await;
    let piets = Receiver::start().await;
    let older = Receiver::start().await;
    let broken = Receiver::start().await;
    let key = service.account("Shop").await;
    let (db, _) = customers(&service, &key).await;
    service
        .webhook(
            &key,
            json!({"url": piets.url, "events": ["create"], "condition": "fields.name == 'piet'"}),
        )
        .await;
    service
        .webhook(
            &key,
            json!({"url": older.url, "events": ["update"], "condition": "fields.age > previous.age"}),
        )
        .await;
    // Comparing a number with a string cannot be evaluated: skipped and counted.
    let broken_hook = service
        .webhook(
            &key,
            json!({"url": broken.url, "events": ["create"], "condition": "fields.age > 'x'"}),
        )
        .await;

    let jan_id = service.profile(&key, &db, json!({"name": "jan", "age": 40})).await;
    service.profile(&key, &db, json!({"name": "piet", "age": 30})).await;
    for age in [39, 41] {
        let (status, _) = service
            .call(
                "PATCH",
                &format!("/v1/profiles/{jan_id}"),
                &key,
                Some(json!({"fields": {"age": age}})),
            )
            .await;
        assert_eq!(status, 200);
    }
    let got = piets.wait_for(1).await;
    assert_eq!(got[0].json()["fields"]["name"], "piet");
    let got = older.wait_for(1).await;
    assert_eq!(got[0].json()["fields"]["age"], 41);
    let hook_id = broken_hook["id"].as_str().unwrap();
    let errors = eventually("condition errors counted", || async {
        let (_, stats) = service
            .call("GET", &format!("/v1/webhooks/{hook_id}/stats"), &key, None)
            .await;
        let total: u64 = stats["data"]
            .as_array()?
            .iter()
            .map(|b| b["condition_errors"].as_u64().unwrap_or(0))
            .sum();
        (total == 2).then_some(total)
    })
    .await;
    assert_eq!(errors, 2);
    assert_eq!(broken.count(), 0);
    assert_eq!(piets.count(), 1);
    assert_eq!(older.count(), 1);
}

#[tokio::test]
async fn bad_profile_input_is_refused_and_changes_nothing() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Shop").await;
    let (db, col) = customers(&service, &key).await;
    service.webhook(&key, json!({"url": receiver.url})).await;
    let id = service
        .profile(&key, &db, json!({"email": "a@example.com", "age": 3}))
        .await;
    let _ = receiver.wait_for(1).await;

    for (method, path, body, field) in [
        (
            "POST",
            format!("/v1/databases/{db}/profiles"),
            json!({"fields": {"shoe": 42}}),
            "fields.shoe",
        ),
        (
            "POST",
            format!("/v1/databases/{db}/profiles"),
            json!({"fields": {"age": "old"}}),
            "fields.age",
        ),
        (
            "POST",
            format!("/v1/databases/{db}/profiles"),
            json!({"fields": {"email": "nope"}}),
            "fields.email",
        ),
        (
            "POST",
            format!("/v1/databases/{db}/profiles"),
            json!({"fields": {}, "extra": 1}),
            "extra",
        ),
        (
            "PATCH",
            format!("/v1/profiles/{id}"),
            json!({"fields": {"age": 1.5}}),
            "fields.age",
        ),
        (
            "PUT",
            format!("/v1/profiles/{id}"),
            json!({"fields": {}, "interests": [""]}),
            "interests[0]",
        ),
        (
            "POST",
            format!("/v1/profiles/{id}/subprofiles"),
            json!({"collection_id": "col_00000000000000000000000000", "fields": {}}),
            "collection_id",
        ),
        (
            "POST",
            format!("/v1/profiles/{id}/subprofiles"),
            json!({"collection_id": col, "fields": {"total": "lots"}}),
            "fields.total",
        ),
        (
            "POST",
            "/v1/databases".to_owned(),
            json!({"name": "x", "fields": [{"name": "a b", "type": "text"}]}),
            "fields[0].name",
        ),
        (
            "POST",
            "/v1/databases".to_owned(),
            json!({"name": "x", "fields": [{"name": "a", "type": "colour"}]}),
            "fields[0].type",
        ),
        (
            "PATCH",
            format!("/v1/databases/{db}"),
            json!({"unsubscribe": {"action": "update", "fields": {"shoe": 1}}}),
            "unsubscribe.fields.shoe",
        ),
        (
            "PATCH",
            format!("/v1/databases/{db}"),
            json!({"fields": [{"name": "email", "type": "email"}, {"name": "age", "type": "text"}]}),
            "fields[1].type",
        ),
    ] {
        let (status, problem) = service.call(method, &path, &key, Some(body.clone())).await;
        assert_eq!(status, 422, "{method} {path} {body}: {problem}");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(
            fields.iter().any(|f| f.starts_with(field)),
            "{method} {path}: {field} not in {fields:?}"
        );
    }
    let (_, listed) = service
        .call("GET", &format!("/v1/databases/{db}/profiles"), &key, None)
        .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let (_, same) = service.call("GET", &format!("/v1/profiles/{id}"), &key, None).await;
    assert_eq!(same["sequence"], 1);
    assert_eq!(same["fields"]["age"], 3);

    // Another account's data does not exist for this key.
    let other = service.account("Other").await;
    for (method, path) in [
        ("GET", format!("/v1/profiles/{id}")),
        ("DELETE", format!("/v1/profiles/{id}")),
        ("GET", format!("/v1/databases/{db}")),
        ("GET", format!("/v1/databases/{db}/profiles")),
        ("GET", format!("/v1/collections/{col}")),
        ("DELETE", format!("/v1/databases/{db}")),
    ] {
        let (status, _) = service.call(method, &path, &other, None).await;
        assert_eq!(status, 404, "{method} {path}");
    }
    let (status, _) = service
        .call(
            "PATCH",
            &format!("/v1/profiles/{id}"),
            &other,
            Some(json!({"fields": {"age": 9}})),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(bodies(&receiver).len(), 1, "no refused change fired anything");
}

#[tokio::test]
async fn profiles_are_listed_with_paging_and_a_field_filter() {
    let service = Service::start().await;
    let key = service.account("Shop").await;
    let (db, _) = customers(&service, &key).await;
    for i in 0..5 {
        service
            .profile(&key, &db, json!({"email": format!("p{i}@example.com"), "age": i % 2}))
            .await;
    }
    let (status, page) = service
        .call("GET", &format!("/v1/databases/{db}/profiles?limit=2"), &key, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = service
        .call(
            "GET",
            &format!("/v1/databases/{db}/profiles?limit=10&cursor={cursor}"),
            &key,
            None,
        )
        .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 3);
    assert_eq!(rest["next_cursor"], Value::Null);

    let (_, odd) = service
        .call("GET", &format!("/v1/databases/{db}/profiles?fields.age=1"), &key, None)
        .await;
    let emails: Vec<&str> = odd["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["fields"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["p1@example.com", "p3@example.com"]);
    let (_, one) = service
        .call(
            "GET",
            &format!("/v1/databases/{db}/profiles?fields.email=p4%40example.com"),
            &key,
            None,
        )
        .await;
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    for bad in ["fields.shoe=1", "fields.age=old", "fields.age=", "colour=red"] {
        let (status, _) = service
            .call("GET", &format!("/v1/databases/{db}/profiles?{bad}"), &key, None)
            .await;
        assert_eq!(status, 422, "{bad}");
    }
}

#[tokio::test]
async fn a_profiles_subprofiles_are_listed_page_by_page() {
    let service = Service::start().await;
    let key = service.account("Shop").await;
    let (db, col) = customers(&service, &key).await;
    let profile = service.profile(&key, &db, json!({"email": "a@example.com"})).await;
    for total in [1, 2, 3] {
        service.subprofile(&key, &profile, &col, json!({"total": total})).await;
    }
    let path = format!("/v1/profiles/{profile}/subprofiles");
    let (status, first) = service.call("GET", &format!("{path}?limit=2"), &key, None).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, rest) = service
        .call("GET", &format!("{path}?cursor={cursor}"), &key, None)
        .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest["data"][0]["fields"]["total"], 3.0);
    assert_eq!(rest["next_cursor"], Value::Null);
}

#[tokio::test]
async fn a_custom_event_naming_a_profile_is_in_its_scope_and_sees_its_fields() {
    let service = Service::start().await;
    let scoped = Receiver::start().await;
    let key = service.account("Shop").await;
    let (db, _) = customers(&service, &key).await;
    let piet = service.profile(&key, &db, json!({"email": "piet@example.com"})).await;
    let jan = service.profile(&key, &db, json!({"email": "jan@example.com"})).await;
    let webhook = service
        .webhook(
            &key,
            json!({"url": scoped.url, "database_id": db, "events": ["order"], "condition": "fields.email == 'piet@example.com'"}),
        )
        .await;
    let events = json!({"events": [
        {"type": "order", "data": {"n": 1}},
        {"type": "order", "data": {"n": 2}, "profile_id": jan},
        {"type": "order", "data": {"n": 3}, "profile_id": piet},
    ]});
    let (status, answer) = service.call("POST", "/v1/events/batch", &key, Some(events)).await;
    assert_eq!(status, 202, "{answer}");
    // Only the event naming Piet is in the database's scope and passes the condition.
    let calls = service.settled_calls(&key, &webhook, &scoped).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].json()["data"]["n"], 3);

    let other = service.account("Other").await;
    let (db_other, _) = customers(&service, &other).await;
    let theirs = service.profile(&other, &db_other, json!({})).await;
    let events = json!({"events": [{"type": "order"}, {"type": "order", "profile_id": theirs}]});
    let (status, problem) = service.call("POST", "/v1/events/batch", &key, Some(events)).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "events[1].profile_id");
    assert_eq!(scoped.count(), 1);
}
