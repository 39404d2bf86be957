//! Mail events end to end: the open pixel and click redirect that a sent e-mail points
//! at, the delivery reports posted by the mail system, and unsubscribes with what they
//! do to the profile. Every event is enriched with the message's profile data as it is
//! when the event happens, reaches only the webhooks whose scope holds the message's
//! profile, and forged tracking tokens make nothing happen.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Call, Receiver, Service};
use postbode_core::clock::Clock;
use serde_json::{Map, Value, json};
use std::time::Duration;

const UNKNOWN_MESSAGE: &str = "msg_00000000000000000000000000";
const DESTINATION: &str = "https://example.com/a?b=c";
const USER_AGENT: &str = "Mozilla/5.0 (Postbode test mail client)";
const REFERER: &str = "https://webmail.example.net/inbox?folder=1";

/// A database of customers with the fields email/name/age and the given unsubscribe
/// behaviour; returns its id.
async fn customers(service: &Service, key: &str, unsubscribe: Option<Value>) -> String {
    let mut definition = json!({
        "name": "customers",
        "fields": [
            {"name": "email", "type": "email"},
            {"name": "name", "type": "text"},
            {"name": "age", "type": "integer"},
        ],
    });
    if let Some(unsubscribe) = unsubscribe {
        definition["unsubscribe"] = unsubscribe;
    }
    service.database(key, definition).await
}

/// A collection of orders with a total in database `db`; returns its id.
async fn orders(service: &Service, key: &str, db: &str) -> String {
    let definition = json!({"name": "orders", "fields": [{"name": "total", "type": "float"}]});
    service.collection(key, db, definition).await
}

/// Registers a sent message; returns its id and open URL.
async fn message(service: &Service, key: &str, request: Value) -> (String, String) {
    let message = service.create(key, "/v1/messages", request).await;
    let id = message["id"].as_str().unwrap().to_owned();
    let open_url = message["open_url"].as_str().unwrap().to_owned();
    assert!(
        token_of(&open_url).starts_with(&format!("{id}.")),
        "{open_url} is the pixel of {id}"
    );
    (id, open_url)
}

async fn link(service: &Service, key: &str, message: &str, url: &str) -> String {
    let (status, link) = service
        .call(
            "POST",
            &format!("/v1/messages/{message}/links"),
            key,
            Some(json!({ "url": url })),
        )
        .await;
    assert_eq!(status, 200, "{link}");
    link["click_url"].as_str().unwrap().to_owned()
}

/// A report about a message; returns the status and the answer.
async fn report(service: &Service, key: &str, message: &str, kind: &str, body: Value) -> (u16, Value) {
    service
        .call("POST", &format!("/v1/messages/{message}/{kind}"), key, Some(body))
        .await
}

/// The path of a tracking URL, at the service itself, for a service whose public URL
/// is not where it listens.
fn local(service: &Service, url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    format!("{}{}", service.url, &parsed[url::Position::BeforePath..])
}

/// The last path segment of a tracking URL.
fn token_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_owned()
}

/// The same text with its first character changed.
fn flip_first(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    chars[0] = if chars[0] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// A plain HTTP client, as a mail client or browser is: no proxy, no redirects followed.
fn visitor() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn visit(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = visitor().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// Asserts the answer is the uncacheable 1×1 GIF.
async fn assert_pixel(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), 200, "{what}");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(header("content-type"), "image/gif", "{what}");
    let cache = header("cache-control");
    assert!(
        cache.contains("no-store") && cache.contains("no-cache"),
        "{what}: Cache-Control {cache:?}"
    );
    let body = response.bytes().await.unwrap();
    assert!(body.starts_with(b"GIF89a"), "{what}: not a GIF: {body:?}");
    // A 1×1 image: the logical screen width and height are both 1.
    assert_eq!(&body[6..10], &[1, 0, 1, 0], "{what}");
}

/// Asserts the answer is a 404 problem document without a redirect.
async fn assert_not_found(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), 404, "{what}");
    assert!(response.headers().get("location").is_none(), "{what}: redirected");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, "application/problem+json", "{what}");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 404, "{what}: {problem}");
}

/// The fields a validation problem names.
fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn bodies(calls: &[Call]) -> Vec<Value> {
    calls.iter().map(Call::json).collect()
}

/// The one body of `event_type` among the calls.
fn only(calls: &[Call], event_type: &str) -> Value {
    let found: Vec<Value> = bodies(calls).into_iter().filter(|b| b["type"] == event_type).collect();
    assert_eq!(found.len(), 1, "one {event_type} among {:?}", bodies(calls));
    found.into_iter().next().unwrap()
}

/// The sorted `(type, id)` of every call.
fn kinds(calls: &[Call]) -> Vec<(String, String)> {
    let mut kinds: Vec<(String, String)> = bodies(calls)
        .iter()
        .map(|b| {
            (
                b["type"].as_str().unwrap().to_owned(),
                b["id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    kinds.sort();
    kinds
}

/// What a mail event body holds at the service's current time: `id`, `type`, the times,
/// the enrichment and `extra` (the type's own fields).
fn expected(service: &Service, event_type: &str, message: &str, enrichment: &Value, extra: Value) -> Value {
    let now = service.clock.now();
    let mut body = Map::new();
    body.insert("id".into(), message.into());
    body.insert("type".into(), event_type.into());
    body.insert("timestamp".into(), now.format("%Y-%m-%d %H:%M:%S").to_string().into());
    body.insert("time".into(), now.timestamp().into());
    for source in [enrichment, &extra] {
        for (name, value) in source.as_object().unwrap() {
            body.insert(name.clone(), value.clone());
        }
    }
    Value::Object(body)
}

#[tokio::test]
async fn an_open_of_the_pixel_fires_an_open_enriched_with_the_profile_as_it_is_then() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Shop").await;
    let db = customers(&service, &key, None).await;
    let profile_id = service
        .profile(
            &key,
            &db,
            json!({"email": "piet@example.com", "name": "Piet", "age": 31}),
        )
        .await;
    service
        .webhook(&key, json!({"url": receiver.url, "events": ["open"]}))
        .await;
    let (id, open_url) = message(
        &service,
        &key,
        json!({
            "mailing": {"id": "m-42", "name": "Spring sale", "tags": ["spring", "sale"]},
            "email": "piet@example.com",
            "profile_id": profile_id,
        }),
    )
    .await;

    // The profile changes after the message was sent: the open shows it as it is now.
    let (status, patched) = service
        .call(
            "PATCH",
            &format!("/v1/profiles/{profile_id}"),
            &key,
            Some(json!({"fields": {"name": "Pieter"}})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    service.advance(Duration::from_secs(3600));

    let response = visit(
        &local(&service, &open_url),
        &[("user-agent", USER_AGENT), ("referer", REFERER)],
    )
    .await;
    assert_pixel(response, "a genuine open").await;
    let call = receiver.wait_for(1).await[0].clone();
    assert_eq!(call.header("x-postbode-event"), "open");
    let enrichment = json!({
        "recipient": "piet@example.com",
        "profile": profile_id,
        "subprofile": null,
        "database": db,
        "collection": null,
        "mailing": "m-42",
        "fields": {"email": "piet@example.com", "name": "Pieter", "age": 31},
        "tags": ["spring", "sale"],
    });
    assert_eq!(
        call.json(),
        expected(
            &service,
            "open",
            &id,
            &enrichment,
            json!({"ip": "127.0.0.1", "useragent": USER_AGENT, "referer": REFERER}),
        )
    );

    // Every open counts; one without the headers has them as null.
    let response = visit(&local(&service, &open_url), &[]).await;
    assert_pixel(response, "a second open").await;
    let call = receiver.wait_for(2).await[1].clone();
    assert_eq!(
        call.json(),
        expected(
            &service,
            "open",
            &id,
            &enrichment,
            json!({"ip": "127.0.0.1", "useragent": null, "referer": null}),
        )
    );
    assert_eq!(receiver.count(), 2);
}

#[tokio::test]
async fn tracking_urls_are_built_on_the_public_url() {
    let service = Service::start_with(|config| config.public_url = Some("https://track.example.com/".into())).await;
    let receiver = Receiver::start().await;
    let key = service.account("Shop").await;
    service
        .webhook(&key, json!({"url": receiver.url, "events": ["open", "click"]}))
        .await;
    let (id, open_url) = message(
        &service,
        &key,
        json!({"mailing": {"id": "m-1"}, "email": "a@example.com"}),
    )
    .await;
    assert!(
        open_url.starts_with(&format!("https://track.example.com/t/o/{id}.")),
        "{open_url}"
    );
    let click_url = link(&service, &key, &id, DESTINATION).await;
    assert!(
        click_url.starts_with(&format!("https://track.example.com/t/c/{id}.")),
        "{click_url}"
    );
    // The same tokens work wherever the proxy in front of the service sends them.
    assert_pixel(visit(&local(&service, &open_url), &[]).await, "open").await;
    let response = visit(&local(&service, &click_url), &[]).await;
    assert_eq!(response.status(), 302);
    let calls = receiver.wait_for(2).await;
    assert_eq!(
        kinds(&calls),
        [("click".to_owned(), id.clone()), ("open".to_owned(), id.clone())]
    );
}

#[tokio::test]
async fn a_click_redirects_to_its_destination_and_a_forged_one_neither_redirects_nor_counts() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Shop").await;
    let db = customers(&service, &key, None).await;
    let profile_id = service
        .profile(&key, &db, json!({"email": "piet@example.com", "name": "Piet"}))
        .await;
    let webhook = service
        .webhook(&key, json!({"url": receiver.url, "events": ["click"]}))
        .await;
    let (id, open_url) = message(
        &service,
        &key,
        json!({"mailing": {"id": "m-7", "tags": ["news"]}, "email": "piet@example.com", "profile_id": profile_id}),
    )
    .await;
    let (other_id, _) = message(
        &service,
        &key,
        json!({"mailing": {"id": "m-7"}, "email": "kees@example.com"}),
    )
    .await;

    let click_url = link(&service, &key, &id, DESTINATION).await;
    let response = visit(
        &local(&service, &click_url),
        &[("user-agent", USER_AGENT), ("referer", REFERER)],
    )
    .await;
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], DESTINATION);
    let cache = response.headers()["cache-control"].to_str().unwrap();
    assert!(cache.contains("no-store"), "{cache}");
    let call = receiver.wait_for(1).await[0].clone();
    assert_eq!(call.header("x-postbode-event"), "click");
    assert_eq!(
        call.json(),
        expected(
            &service,
            "click",
            &id,
            &json!({
                "recipient": "piet@example.com",
                "profile": profile_id,
                "subprofile": null,
                "database": db,
                "collection": null,
                "mailing": "m-7",
                "fields": {"email": "piet@example.com", "name": "Piet", "age": null},
                "tags": ["news"],
            }),
            json!({"ip": "127.0.0.1", "original": DESTINATION, "useragent": USER_AGENT, "referer": REFERER}),
        )
    );

    // Tokens that were not made by the service: none may redirect anywhere.
    let token = token_of(&click_url);
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    assert_eq!(parts[0], id);
    assert_eq!(parts[1], URL_SAFE_NO_PAD.encode(DESTINATION));
    let (message_part, url_part, tag) = (parts[0], parts[1], parts[2]);
    let open_tag = token_of(&open_url).split('.').nth(1).unwrap().to_owned();
    let forged = [
        format!(
            "{message_part}.{}.{tag}",
            URL_SAFE_NO_PAD.encode("https://evil.example/")
        ),
        format!(
            "{message_part}.{}.{tag}",
            URL_SAFE_NO_PAD.encode(format!("{DESTINATION}&x=1"))
        ),
        format!("{message_part}.{url_part}.{}", flip_first(tag)),
        format!("{other_id}.{url_part}.{tag}"),
        format!("{message_part}.{url_part}.{open_tag}"),
        format!("{message_part}.{url_part}"),
        format!("{message_part}.{url_part}.{tag}.{tag}"),
        format!("{message_part}.{url_part}.not-base64!"),
        "nothing-here".to_owned(),
    ];
    for token in &forged {
        let response = visit(&format!("{}/t/c/{token}", service.url), &[("user-agent", USER_AGENT)]).await;
        assert_not_found(response, token).await;
    }

    // Once nothing is pending, the genuine click is still the only event.
    let calls = service.settled_calls(&key, &webhook, &receiver).await;
    assert_eq!(
        kinds(&calls),
        [("click".to_owned(), id.clone())],
        "{:?}",
        bodies(&calls)
    );

    // Only http(s) destinations get a link.
    for bad in [
        "ftp://x",
        "not a url",
        "",
        "javascript:alert(1)",
        "mailto:piet@example.com",
    ] {
        let (status, problem) = service
            .call(
                "POST",
                &format!("/v1/messages/{id}/links"),
                &key,
                Some(json!({ "url": bad })),
            )
            .await;
        assert_eq!(status, 422, "{bad:?}: {problem}");
        assert_eq!(error_fields(&problem), ["url"], "{bad:?}");
    }
    let long = format!("https://example.com/{}", "a".repeat(5000));
    let (status, problem) = service
        .call(
            "POST",
            &format!("/v1/messages/{id}/links"),
            &key,
            Some(json!({ "url": long })),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(error_fields(&problem), ["url"]);
    let (status, _) = service
        .call(
            "POST",
            &format!("/v1/messages/{UNKNOWN_MESSAGE}/links"),
            &key,
            Some(json!({ "url": DESTINATION })),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn unknown_and_forged_open_tokens_still_get_the_pixel_but_make_no_event() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Shop").await;
    let webhook = service
        .webhook(&key, json!({"url": receiver.url, "events": ["open"]}))
        .await;
    let (id, open_url) = message(
        &service,
        &key,
        json!({"mailing": {"id": "m-1"}, "email": "a@example.com"}),
    )
    .await;
    let (other_id, _) = message(
        &service,
        &key,
        json!({"mailing": {"id": "m-1"}, "email": "b@example.com"}),
    )
    .await;
    let click_url = link(&service, &key, &id, DESTINATION).await;
    let click_tag = token_of(&click_url).rsplit('.').next().unwrap().to_owned();
    let token = token_of(&open_url);
    let (_, tag) = token.split_once('.').unwrap();

    let forged = [
        "nothing-here".to_owned(),
        id.clone(),
        format!("{id}."),
        format!("{id}.{}", flip_first(tag)),
        format!("{id}.{}", &tag[..tag.len() - 2]),
        format!("{other_id}.{tag}"),
        format!("{UNKNOWN_MESSAGE}.{tag}"),
        format!("{id}.{click_tag}"),
        format!("{id}.{tag}.{tag}"),
        format!("{id}.not-base64!"),
    ];
    for token in &forged {
        let response = visit(&format!("{}/t/o/{token}", service.url), &[("user-agent", USER_AGENT)]).await;
        assert_pixel(response, token).await;
    }
    // A click token is no open token either.
    let response = visit(&format!("{}/t/o/{}", service.url, token_of(&click_url)), &[]).await;
    assert_pixel(response, "a click token as an open").await;

    // Once nothing is pending, nothing was sent.
    let calls = service.settled_calls(&key, &webhook, &receiver).await;
    assert_eq!(kinds(&calls), [], "{:?}", bodies(&calls));
    // The forgeries were near misses of a working token.
    assert_pixel(visit(&local(&service, &open_url), &[]).await, "the genuine open").await;
    let calls = service.settled_calls(&key, &webhook, &receiver).await;
    assert_eq!(kinds(&calls), [("open".to_owned(), id.clone())]);
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    async fn open_ip(service: &Service, headers: &[(&str, &str)]) -> Vec<Value> {
        let receiver = Receiver::start().await;
        let key = service.account("Shop").await;
        service
            .webhook(&key, json!({"url": receiver.url, "events": ["open", "click"]}))
            .await;
        let (_, open_url) = message(
            service,
            &key,
            json!({"mailing": {"id": "m-1"}, "email": "a@example.com"}),
        )
        .await;
        let (id, _) = message(
            service,
            &key,
            json!({"mailing": {"id": "m-1"}, "email": "a@example.com"}),
        )
        .await;
        let click_url = link(service, &key, &id, DESTINATION).await;
        assert_pixel(visit(&local(service, &open_url), headers).await, "open").await;
        assert_eq!(visit(&local(service, &click_url), headers).await.status(), 302);
        let calls = receiver.wait_for(2).await;
        let mut ips: Vec<(String, Value)> = bodies(&calls)
            .into_iter()
            .map(|b| (b["type"].as_str().unwrap().to_owned(), b["ip"].clone()))
            .collect();
        ips.sort_by(|a, b| a.0.cmp(&b.0));
        ips.into_iter().map(|(_, ip)| ip).collect()
    }

    let behind_proxy = Service::start_with(|config| {
        config.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    assert_eq!(
        open_ip(&behind_proxy, &[("x-forwarded-for", "203.0.113.9")]).await,
        [json!("203.0.113.9"), json!("203.0.113.9")]
    );
    // What the client wrote to the left of what the proxy appended is not believed.
    assert_eq!(
        open_ip(&behind_proxy, &[("x-forwarded-for", "198.51.100.66, 203.0.113.9")]).await,
        [json!("203.0.113.9"), json!("203.0.113.9")]
    );
    // Without the header the peer is the visitor.
    assert_eq!(
        open_ip(&behind_proxy, &[]).await,
        [json!("127.0.0.1"), json!("127.0.0.1")]
    );

    let direct = Service::start().await;
    assert_eq!(
        open_ip(&direct, &[("x-forwarded-for", "203.0.113.9")]).await,
        [json!("127.0.0.1"), json!("127.0.0.1")]
    );
}

#[tokio::test]
async fn mail_events_reach_the_webhooks_whose_scope_holds_the_messages_profile() {
    let service = Service::start().await;
    let key = service.account("Shop").await;
    let db_a = customers(&service, &key, None).await;
    let db_b = customers(&service, &key, None).await;
    let col_c = orders(&service, &key, &db_a).await;
    let in_a = service
        .profile(&key, &db_a, json!({"email": "a@example.com", "name": "An"}))
        .await;
    let sub_c = service.subprofile(&key, &in_a, &col_c, json!({"total": 19.5})).await;
    let in_b = service.profile(&key, &db_b, json!({"email": "b@example.com"})).await;

    let only_a = Receiver::start().await;
    let only_b = Receiver::start().await;
    let only_c = Receiver::start().await;
    let all = Receiver::start().await;
    let mut webhooks = Vec::new();
    for (receiver, scope) in [
        (&only_a, json!({"database_id": db_a})),
        (&only_b, json!({"database_id": db_b})),
        (&only_c, json!({"collection_id": col_c})),
        (&all, json!({})),
    ] {
        let mut settings = scope;
        settings["url"] = receiver.url.clone().into();
        settings["events"] = json!(["open"]);
        webhooks.push(service.webhook(&key, settings).await);
    }

    let to_subprofile = json!({
        "mailing": {"id": "m-1"}, "email": "a@example.com", "profile_id": in_a, "subprofile_id": sub_c,
    });
    let (in_c_msg, in_c_url) = message(&service, &key, to_subprofile).await;
    let (nobody_msg, nobody_url) = message(
        &service,
        &key,
        json!({"mailing": {"id": "m-1"}, "email": "x@example.com"}),
    )
    .await;
    let (in_b_msg, in_b_url) = message(
        &service,
        &key,
        json!({"mailing": {"id": "m-1"}, "email": "b@example.com", "profile_id": in_b}),
    )
    .await;
    assert_pixel(visit(&local(&service, &in_c_url), &[]).await, "open in C").await;
    assert_pixel(visit(&local(&service, &nobody_url), &[]).await, "open of nobody").await;
    assert_pixel(visit(&local(&service, &in_b_url), &[]).await, "open in B").await;

    // Once nothing is pending, each receiver has every call it will get.
    let [hook_a, hook_b, hook_c, hook_all] = &webhooks[..] else {
        unreachable!()
    };
    let opens = |ids: &[&String]| {
        let mut expected: Vec<(String, String)> = ids.iter().map(|id| ("open".to_owned(), (*id).clone())).collect();
        expected.sort();
        expected
    };
    let got = service.settled_calls(&key, hook_all, &all).await;
    assert_eq!(kinds(&got), opens(&[&in_c_msg, &nobody_msg, &in_b_msg]));
    let got_a = service.settled_calls(&key, hook_a, &only_a).await;
    let got_b = service.settled_calls(&key, hook_b, &only_b).await;
    let got_c = service.settled_calls(&key, hook_c, &only_c).await;
    assert_eq!(kinds(&got_a), opens(&[&in_c_msg]));
    assert_eq!(kinds(&got_b), opens(&[&in_b_msg]));
    assert_eq!(kinds(&got_c), opens(&[&in_c_msg]));

    // The subprofile's data goes with the event.
    let body = bodies(&only_c.calls())
        .into_iter()
        .find(|b| b["id"] == in_c_msg.as_str())
        .unwrap();
    assert_eq!(body["profile"], in_a.as_str());
    assert_eq!(body["subprofile"], sub_c.as_str());
    assert_eq!(body["database"], db_a.as_str());
    assert_eq!(body["collection"], col_c.as_str());
    assert_eq!(
        body["fields"],
        json!({"email": "a@example.com", "name": "An", "age": null, "total": 19.5})
    );
    let nobody = bodies(&got)
        .into_iter()
        .find(|b| b["id"] == nobody_msg.as_str())
        .unwrap();
    for name in ["profile", "subprofile", "database", "collection", "fields"] {
        assert_eq!(nobody[name], Value::Null, "{name}");
    }
    assert_eq!(nobody["recipient"], "x@example.com");
}

#[tokio::test]
async fn delivery_reports_become_enriched_events_and_bad_reports_none() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Shop").await;
    let db = customers(&service, &key, None).await;
    let profile_id = service
        .profile(&key, &db, json!({"email": "piet@example.com", "age": 31}))
        .await;
    let webhook = service.webhook(&key, json!({"url": receiver.url})).await;
    let (id, _) = message(
        &service,
        &key,
        json!({
            "mailing": {"id": "m-9", "tags": ["spring"]},
            "email": "piet@example.com",
            "profile_id": profile_id,
        }),
    )
    .await;
    let enrichment = json!({
        "recipient": "piet@example.com",
        "profile": profile_id,
        "subprofile": null,
        "database": db,
        "collection": null,
        "mailing": "m-9",
        "fields": {"email": "piet@example.com", "name": null, "age": 31},
        "tags": ["spring"],
    });
    let bounce = "From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered\r\n\r\n550 5.1.1 no such user\r\n";
    let complaint = "Content-Type: multipart/report; report-type=feedback-report\r\n\r\nabuse\r\n";
    let reports = [
        (
            "deliveries",
            json!({"code": 250, "extended": "2.0.0", "description": "OK"}),
            "delivery",
            json!({"code": 250, "extended": "2.0.0", "description": "OK"}),
        ),
        (
            "bounces",
            json!({"envelope": "bounces@shop.example", "mime": bounce}),
            "bounce",
            json!({"envelope": "bounces@shop.example", "mime": bounce}),
        ),
        (
            "failures",
            json!({"state": "rcpt", "code": 550, "extended": "5.1.1", "description": "User unknown"}),
            "failure",
            json!({"action": "failed", "state": "rcpt", "code": 550, "extended": "5.1.1", "description": "User unknown"}),
        ),
        (
            "abuses",
            json!({"emailfrom": "piet@example.com", "mime": complaint}),
            "abuse",
            json!({"emailfrom": "piet@example.com", "mime": complaint}),
        ),
    ];
    for (n, (route, request, event_type, fields)) in reports.into_iter().enumerate() {
        let (status, accepted) = report(&service, &key, &id, route, request).await;
        assert_eq!(status, 202, "{route}: {accepted}");
        assert_eq!(accepted["deliveries"], 1, "{route}: {accepted}");
        let event_id = accepted["id"].as_str().unwrap();
        let calls = receiver.wait_for(n + 1).await;
        let call = calls
            .iter()
            .find(|c| c.header("x-postbode-event") == event_type)
            .unwrap();
        let body = call.json();
        assert_eq!(
            body,
            expected(&service, event_type, &id, &enrichment, fields),
            "{route}"
        );
        let event = service.event(&key, event_id).await;
        assert_eq!(event["type"], event_type);
        assert_eq!(event["body"], body);
    }

    let stranger = service.account("Stranger").await;
    let (stranger_msg, _) = message(
        &service,
        &stranger,
        json!({"mailing": {"id": "s-1"}, "email": "s@example.com"}),
    )
    .await;
    let good = json!({"code": 250});
    for (message_id, route, body, status, field) in [
        (
            &id,
            "deliveries",
            json!({"code": 250, "colour": "red"}),
            422,
            Some("colour"),
        ),
        (&id, "deliveries", json!({"code": 99}), 422, Some("code")),
        (&id, "deliveries", json!({"code": 600}), 422, Some("code")),
        (&id, "deliveries", json!({"code": "250 OK"}), 422, Some("code")),
        (&id, "deliveries", json!({}), 422, Some("code")),
        (
            &id,
            "failures",
            json!({"state": "later", "code": 550}),
            422,
            Some("state"),
        ),
        (&id, "failures", json!({"code": 550}), 422, Some("state")),
        (&id, "bounces", json!({"envelope": "x", "extra": 1}), 422, Some("extra")),
        (
            &id,
            "abuses",
            json!({"emailfrom": "x".repeat(2000)}),
            422,
            Some("emailfrom"),
        ),
        (&id, "unsubscribes", json!({"reason": "spam"}), 422, Some("reason")),
        (&UNKNOWN_MESSAGE.to_owned(), "deliveries", good.clone(), 404, None),
        (&"msg_1".to_owned(), "deliveries", good.clone(), 404, None),
        (&stranger_msg, "deliveries", good.clone(), 404, None),
        (&stranger_msg, "bounces", json!({}), 404, None),
        (
            &stranger_msg,
            "failures",
            json!({"state": "rcpt", "code": 550}),
            404,
            None,
        ),
        (&stranger_msg, "abuses", json!({}), 404, None),
        (&stranger_msg, "unsubscribes", json!({}), 404, None),
    ] {
        let (got, problem) = report(&service, &key, message_id, route, body.clone()).await;
        assert_eq!(got, status, "{route} {body}: {problem}");
        assert_eq!(problem["status"], status, "{problem}");
        if let Some(field) = field {
            assert_eq!(error_fields(&problem), [field], "{route} {body}");
        }
    }

    // Once nothing is pending, the good reports are still the only events.
    let calls = service.settled_calls(&key, &webhook, &receiver).await;
    let mut types: Vec<String> = calls.iter().map(|c| c.header("x-postbode-event").to_owned()).collect();
    types.sort();
    assert_eq!(
        types,
        ["abuse", "bounce", "delivery", "failure"],
        "{:?}",
        bodies(&calls)
    );
}

#[tokio::test]
async fn an_unsubscribe_updates_the_profile_as_the_database_says() {
    let service = Service::start().await;
    let key = service.account("Shop").await;
    let db = customers(&service, &key, None).await;
    let (status, updated) = service
        .call(
            "PATCH",
            &format!("/v1/databases/{db}"),
            &key,
            Some(json!({"unsubscribe": {"action": "update", "fields": {"name": "gone"}}})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        updated["unsubscribe"],
        json!({"action": "update", "fields": {"name": "gone"}})
    );
    let piet = service
        .profile(
            &key,
            &db,
            json!({"email": "piet@example.com", "name": "Piet", "age": 31}),
        )
        .await;
    let everything = Receiver::start().await;
    let ignoring = Receiver::start().await;
    let everything_hook = service
        .webhook(&key, json!({"url": everything.url, "database_id": db}))
        .await;
    let ignoring_hook = service
        .webhook(
            &key,
            json!({"url": ignoring.url, "database_id": db, "ignore_sources": ["unsubscribe"]}),
        )
        .await;
    let (id, _) = message(
        &service,
        &key,
        json!({"mailing": {"id": "m-3", "tags": ["news"]}, "email": "piet@example.com", "profile_id": piet}),
    )
    .await;

    let (status, accepted) = report(&service, &key, &id, "unsubscribes", json!({})).await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["deliveries"], 2, "{accepted}");
    let calls = everything.wait_for(2).await;
    let unsubscribe = only(&calls, "unsubscribe");
    assert_eq!(unsubscribe["id"], id.as_str());
    assert_eq!(unsubscribe["database"], db.as_str());
    assert_eq!(unsubscribe["profile"], piet.as_str());
    assert_eq!(unsubscribe["mailing"], "m-3");
    assert_eq!(unsubscribe["recipient"], "piet@example.com");
    assert_eq!(unsubscribe["tags"], json!(["news"]));
    let update = only(&calls, "update");
    assert_eq!(update["id"], piet.as_str());
    assert_eq!(update["profile"], piet.as_str());
    assert_eq!(update["database"], db.as_str());
    assert_eq!(update["source"], "unsubscribe");
    assert_eq!(update["previous"], json!({"name": "Piet"}));
    assert_eq!(update["parameters"], json!({"name": "gone"}));
    assert_eq!(
        update["fields"],
        json!({"email": "piet@example.com", "name": "gone", "age": 31})
    );
    assert_eq!(update["sequence"], 2);
    let (status, stored) = service.call("GET", &format!("/v1/profiles/{piet}"), &key, None).await;
    assert_eq!(status, 200);
    assert_eq!(stored["fields"]["name"], "gone");

    // Once nothing is pending: the ignored source fired no profile event.
    let calls = service.settled_calls(&key, &ignoring_hook, &ignoring).await;
    let types: Vec<&str> = calls.iter().map(|c| c.header("x-postbode-event")).collect();
    assert_eq!(types, ["unsubscribe"], "ignored sources fire no profile event");
    let calls = service.settled_calls(&key, &everything_hook, &everything).await;
    assert_eq!(calls.len(), 2, "{:?}", bodies(&calls));
}

#[tokio::test]
async fn an_unsubscribe_removes_the_profile_or_leaves_it_as_the_database_says() {
    let service = Service::start().await;
    let key = service.account("Shop").await;
    let removing = customers(&service, &key, Some(json!({"action": "remove"}))).await;
    let keeping = customers(&service, &key, None).await;
    let (_, definition) = service
        .call("GET", &format!("/v1/databases/{keeping}"), &key, None)
        .await;
    assert_eq!(definition["unsubscribe"], json!({"action": "nothing"}));
    let gone = service
        .profile(&key, &removing, json!({"email": "gone@example.com", "age": 40}))
        .await;
    let kept = service
        .profile(&key, &keeping, json!({"email": "kept@example.com", "name": "Kees"}))
        .await;
    let at_removing = Receiver::start().await;
    let at_keeping = Receiver::start().await;
    let removing_hook = service
        .webhook(&key, json!({"url": at_removing.url, "database_id": removing}))
        .await;
    let keeping_hook = service
        .webhook(&key, json!({"url": at_keeping.url, "database_id": keeping}))
        .await;
    let (gone_msg, _) = message(
        &service,
        &key,
        json!({"mailing": {"id": "m-4"}, "email": "gone@example.com", "profile_id": gone}),
    )
    .await;
    let (kept_msg, _) = message(
        &service,
        &key,
        json!({"mailing": {"id": "m-4"}, "email": "kept@example.com", "profile_id": kept}),
    )
    .await;

    for id in [&gone_msg, &kept_msg] {
        let (status, accepted) = report(&service, &key, id, "unsubscribes", json!({})).await;
        assert_eq!(status, 202, "{accepted}");
    }

    let calls = at_removing.wait_for(2).await;
    let unsubscribe = only(&calls, "unsubscribe");
    assert_eq!(unsubscribe["id"], gone_msg.as_str());
    assert_eq!(unsubscribe["profile"], gone.as_str());
    assert_eq!(unsubscribe["database"], removing.as_str());
    assert_eq!(unsubscribe["mailing"], "m-4");
    let delete = only(&calls, "delete");
    assert_eq!(delete["id"], gone.as_str());
    assert_eq!(delete["profile"], gone.as_str());
    assert_eq!(delete["database"], removing.as_str());
    assert_eq!(delete["source"], "unsubscribe");
    assert_eq!(
        delete["fields"],
        json!({"email": "gone@example.com", "name": null, "age": 40})
    );
    let (status, _) = service.call("GET", &format!("/v1/profiles/{gone}"), &key, None).await;
    assert_eq!(status, 404);

    let (status, stored) = service.call("GET", &format!("/v1/profiles/{kept}"), &key, None).await;
    assert_eq!(status, 200);
    assert_eq!(stored["fields"]["name"], "Kees");
    assert_eq!(stored["sequence"], 1);

    // Once nothing is pending: the unsubscribe (and the delete) are all there is.
    let calls = service.settled_calls(&key, &keeping_hook, &at_keeping).await;
    assert_eq!(
        kinds(&calls).into_iter().map(|(t, _)| t).collect::<Vec<_>>(),
        ["unsubscribe"]
    );
    assert_eq!(only(&calls, "unsubscribe")["id"], kept_msg.as_str());
    let calls = service.settled_calls(&key, &removing_hook, &at_removing).await;
    assert_eq!(
        kinds(&calls).into_iter().map(|(t, _)| t).collect::<Vec<_>>(),
        ["delete", "unsubscribe"]
    );
}

#[tokio::test]
async fn another_accounts_messages_and_profiles_do_not_exist_for_a_key() {
    let service = Service::start().await;
    let key = service.account("Shop").await;
    let stranger = service.account("Stranger").await;
    let db = customers(&service, &key, None).await;
    let col = orders(&service, &key, &db).await;
    let profile_id = service.profile(&key, &db, json!({"email": "piet@example.com"})).await;
    let sub_id = service.subprofile(&key, &profile_id, &col, json!({"total": 1})).await;
    let other_profile = service.profile(&key, &db, json!({"email": "kees@example.com"})).await;
    let own = Receiver::start().await;
    let strangers = Receiver::start().await;
    let own_hook = service.webhook(&key, json!({"url": own.url})).await;
    let strangers_hook = service.webhook(&stranger, json!({"url": strangers.url})).await;
    let (id, _) = message(
        &service,
        &key,
        json!({"mailing": {"id": "m-1"}, "email": "piet@example.com", "profile_id": profile_id}),
    )
    .await;

    let (status, problem) = service
        .call(
            "POST",
            &format!("/v1/messages/{id}/links"),
            &stranger,
            Some(json!({ "url": DESTINATION })),
        )
        .await;
    assert_eq!(status, 404, "{problem}");
    for (route, body) in [
        ("deliveries", json!({"code": 250})),
        ("bounces", json!({})),
        ("failures", json!({"state": "rcpt", "code": 550})),
        ("abuses", json!({})),
        ("unsubscribes", json!({})),
    ] {
        let (status, problem) = report(&service, &stranger, &id, route, body).await;
        assert_eq!(status, 404, "{route}: {problem}");
    }
    for (request, field) in [
        (
            json!({"mailing": {"id": "s-1"}, "email": "piet@example.com", "profile_id": profile_id}),
            "profile_id",
        ),
        (
            json!({"mailing": {"id": "s-1"}, "email": "piet@example.com", "subprofile_id": sub_id}),
            "subprofile_id",
        ),
        (
            json!({"mailing": {"id": "s-1"}, "email": "piet@example.com", "profile_id": "prf_1"}),
            "profile_id",
        ),
    ] {
        let (status, problem) = service.call("POST", "/v1/messages", &stranger, Some(request)).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(error_fields(&problem), [field]);
    }
    // Within the account, a subprofile must belong to the profile named beside it.
    let (status, problem) = service
        .call(
            "POST",
            "/v1/messages",
            &key,
            Some(json!({
                "mailing": {"id": "m-1"}, "email": "kees@example.com",
                "profile_id": other_profile, "subprofile_id": sub_id,
            })),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(error_fields(&problem), ["subprofile_id"]);

    // Once nothing is pending: nothing the stranger tried reached either receiver.
    let calls = service.settled_calls(&key, &own_hook, &own).await;
    assert_eq!(kinds(&calls), [], "{:?}", bodies(&calls));
    let calls = service.settled_calls(&stranger, &strangers_hook, &strangers).await;
    assert_eq!(kinds(&calls), [], "{:?}", bodies(&calls));
}

#[tokio::test]
async fn a_bad_message_is_refused() {
    let service = Service::start().await;
    let key = service.account("Shop").await;
    for (request, field) in [
        (json!({"mailing": {"id": "m-1"}, "email": "not an address"}), "email"),
        (json!({"mailing": {"id": ""}, "email": "a@example.com"}), "mailing.id"),
        (
            json!({"mailing": {"id": "m-1", "tags": [""]}, "email": "a@example.com"}),
            "mailing.tags[0]",
        ),
        (json!({"email": "a@example.com"}), "mailing"),
        (
            json!({"mailing": {"id": "m-1"}, "email": "a@example.com", "colour": "red"}),
            "colour",
        ),
    ] {
        let (status, problem) = service.call("POST", "/v1/messages", &key, Some(request.clone())).await;
        assert_eq!(status, 422, "{request}: {problem}");
        assert_eq!(error_fields(&problem), [field], "{request}");
    }
}

#[tokio::test]
async fn head_requests_and_odd_destinations_are_handled_safely() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Shop").await;
    let webhook = service
        .webhook(&key, json!({"url": receiver.url, "events": ["open", "click"]}))
        .await;
    let (id, open_url) = message(
        &service,
        &key,
        json!({"mailing": {"id": "m1"}, "email": "a@example.com"}),
    )
    .await;
    // Without a public URL the tracking URLs point at the address the service is bound to.
    assert!(open_url.starts_with(&format!("{}/t/o/", service.url)), "{open_url}");

    // Link scanners send HEAD: it answers, but nobody opened or clicked anything.
    let click_url = link(&service, &key, &id, DESTINATION).await;
    let head = visitor().head(&open_url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    let head = visitor().head(&click_url).send().await.unwrap();
    assert_eq!(head.status(), 302);

    // A destination is stored as its parsed, percent-encoded form, so the redirect's
    // Location header is always valid.
    let odd = link(&service, &key, &id, "https://example.com/caf\u{e9} a").await;
    let response = visit(&odd, &[]).await;
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "https://example.com/caf%C3%A9%20a");

    let calls = service.settled_calls(&key, &webhook, &receiver).await;
    let kinds: Vec<&str> = calls.iter().map(|c| c.header("x-postbode-event")).collect();
    assert_eq!(kinds, ["click"], "only the GET of the odd link");
}

#[tokio::test]
async fn concurrent_opens_of_one_message_each_make_an_event() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Shop").await;
    service
        .webhook(&key, json!({"url": receiver.url, "events": ["open"]}))
        .await;
    let (_, open_url) = message(
        &service,
        &key,
        json!({"mailing": {"id": "m1"}, "email": "a@example.com"}),
    )
    .await;
    // Opens arriving together share a commit; each must still be its own event.
    let opens = (0..50).map(|n| {
        let url = open_url.clone();
        async move { visit(&url, &[("user-agent", &format!("reader-{n}"))]).await.status() }
    });
    for status in futures_util::future::join_all(opens).await {
        assert_eq!(status, 200);
    }
    let calls = receiver.wait_for(50).await;
    let agents: std::collections::HashSet<String> = bodies(&calls)
        .iter()
        .map(|b| b["useragent"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(agents.len(), 50);
}
