//! The event-type catalogue through the API: the suite's own types are listed read only
//! with the schema of their bodies, an account defines its own with a JSON Schema, and an
//! event whose `data` breaks it is refused naming the path, storing nothing.

mod common;

use common::Service;
use serde_json::{Value, json};

fn order_paid() -> Value {
    json!({
        "name": "order.paid",
        "description": "An order was paid.",
        "schema": {"type": "object", "required": ["order"], "properties": {"order": {
            "type": "object", "required": ["total"],
            "properties": {"total": {"type": "number"}, "items": {"type": "array", "items": {"type": "string"}}}
        }}},
        "example": {"order": {"total": 19.95}}
    })
}

#[tokio::test]
async fn a_type_with_a_schema_refuses_events_that_break_it_by_path() {
    let service = Service::start().await;
    let key = service.account("catalogue").await;
    let created = service.create(&key, "/v1/event-types", order_paid()).await;
    assert_eq!(
        (created["builtin"].clone(), created["archived"].clone()),
        (json!(false), json!(false))
    );

    let good = json!({ "type": "order.paid", "data": {"order": {"total": 5}} });
    assert_eq!(
        service.call("POST", "/v1/events", &key, Some(good.clone())).await.0,
        202
    );

    let (status, refused) = service
        .call(
            "POST",
            "/v1/events",
            &key,
            Some(json!({ "type": "order.paid", "data": {"order": {"total": "5"}} })),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["errors"][0]["field"], "data.order.total", "{refused}");

    let batch = json!({ "events": [good.clone(), good.clone(), good.clone(),
        { "type": "order.paid", "data": {"order": {"total": 1, "items": ["a", 7]}} }] });
    let (status, refused) = service.call("POST", "/v1/events/batch", &key, Some(batch)).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(
        refused["errors"][0]["field"], "events[3].data.order.items[1]",
        "{refused}"
    );

    // Nothing of a refused batch was stored: only the one good event is there.
    let (_, types) = service.call("GET", "/v1/event-types", &key, None).await;
    assert!(types.as_array().unwrap().iter().any(|t| t["name"] == "order.paid"));
    let (status, archived) = service.call("DELETE", "/v1/event-types/order.paid", &key, None).await;
    assert_eq!(status, 200, "events of it exist: archived, not gone");
    assert_eq!(archived["archived"], true);

    // Types without a schema, and other accounts, are not checked.
    let other = service.account("other").await;
    let theirs = json!({ "type": "order.paid", "data": {"order": "anything"} });
    assert_eq!(service.call("POST", "/v1/events", &other, Some(theirs)).await.0, 202);
    assert_eq!(
        service.call("GET", "/v1/event-types/order.paid", &other, None).await.0,
        404
    );
}

#[tokio::test]
async fn the_catalogue_is_kept_and_checked_field_by_field() {
    let service = Service::start().await;
    let key = service.account("catalogue").await;

    // The suite's own types are there, read only, with their bodies' fields.
    let (_, types) = service.call("GET", "/v1/event-types", &key, None).await;
    let builtins: Vec<&str> = types
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["builtin"] == true)
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(builtins.len(), 10, "{builtins:?}");
    let (_, open) = service.call("GET", "/v1/event-types/open", &key, None).await;
    assert_eq!(open["schema"]["required"][4], "ip", "{open}");
    let (status, _) = service
        .call("PATCH", "/v1/event-types/open", &key, Some(json!({"description": "x"})))
        .await;
    assert_eq!(status, 409);

    // Every refusal at once, named as the form names it; nothing stored.
    let bad = json!({ "name": "open", "description": "x".repeat(1001), "schema": {"type": "nonsense"} });
    let (status, refused) = service.call("POST", "/v1/event-types", &key, Some(bad)).await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "description"], "{refused}");
    let (status, refused) = service
        .call(
            "POST",
            "/v1/event-types",
            &key,
            Some(json!({"name": "a.b", "schema": {"$ref": "file:///etc/passwd"}})),
        )
        .await;
    assert_eq!(
        (status, refused["errors"][0]["field"].as_str()),
        (422, Some("schema")),
        "{refused}"
    );
    let mut wrong_example = order_paid();
    wrong_example["example"] = json!({"order": {"total": "a lot"}});
    let (status, refused) = service.call("POST", "/v1/event-types", &key, Some(wrong_example)).await;
    assert_eq!(
        (status, refused["errors"][0]["field"].as_str()),
        (422, Some("example.order.total"))
    );
    assert_eq!(
        service.call("GET", "/v1/event-types/order.paid", &key, None).await.0,
        404
    );

    // Made, taken once, changed (null clears), and without events deleted outright.
    service.create(&key, "/v1/event-types", order_paid()).await;
    assert_eq!(
        service
            .call("POST", "/v1/event-types", &key, Some(order_paid()))
            .await
            .0,
        409
    );
    let (status, changed) = service
        .call(
            "PATCH",
            "/v1/event-types/order.paid",
            &key,
            Some(json!({"schema": null, "example": null})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (changed["schema"].clone(), changed["description"].clone()),
        (Value::Null, json!("An order was paid."))
    );
    let (status, refused) = service
        .call("PATCH", "/v1/event-types/order.paid", &key, Some(json!({"name": "x"})))
        .await;
    assert_eq!((status, refused["errors"][0]["field"].as_str()), (422, Some("name")));
    // Without its schema, any data goes.
    let loose = json!({ "type": "order.paid", "data": {"order": "anything"} });
    assert_eq!(service.call("POST", "/v1/events", &key, Some(loose)).await.0, 202);
    service
        .create(&key, "/v1/event-types", json!({"name": "order.refunded"}))
        .await;
    assert_eq!(
        service
            .call("DELETE", "/v1/event-types/order.refunded", &key, None)
            .await
            .0,
        204
    );
    assert_eq!(
        service
            .call("GET", "/v1/event-types/order.refunded", &key, None)
            .await
            .0,
        404
    );
}
