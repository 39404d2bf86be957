//! Bad input, from a webhook URL down to the transport: each gets a problem document
//! that names what is wrong by its full path, in plain words, and changes nothing.

mod common;

use common::{Receiver, Service};
use serde_json::{Value, json};

/// The fields a problem document names.
fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .map(|errors| errors.iter().map(|e| e["field"].as_str().unwrap()).collect())
        .unwrap_or_default()
}

/// Sends a raw request; returns status, content type, `Allow` and the JSON answer.
async fn raw(
    service: &Service,
    method: &str,
    path: &str,
    key: &str,
    content_type: Option<&str>,
    body: &str,
) -> (u16, String, String, Value) {
    let mut request = service
        .http
        .request(method.parse().unwrap(), format!("{}{path}", service.url))
        .bearer_auth(key)
        .body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (content_type, allow) = (header("content-type"), header("allow"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        content_type,
        allow,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn webhook_urls_are_clean_normalised_and_not_private_unless_allowed() {
    let service = Service::start_with(|c| c.delivery.allow_private_targets = false).await;
    let key = service.account("Acme").await;
    for bad in [
        "http://93.184.216.34:9100/ok/a\r\nX: y",
        "http:///x",
        "http://example.com/\u{0}",
        "http://@example.com/",
        "http://user:pw@example.com/",
        "http://example.com/a#b",
        "http://example.com/a b",
        "http:/example.com/",
        "http://",
        // A literal private or loopback address is refused when the webhook is made.
        "http://127.0.0.1:9100/hook",
        "http://[::1]/",
        "http://169.254.169.254/latest",
    ] {
        let (status, problem) = service
            .call("POST", "/v1/webhooks", &key, Some(json!({ "url": bad })))
            .await;
        assert_eq!(status, 422, "{bad:?}: {problem}");
        assert_eq!(fields(&problem), ["url"], "{bad:?}");
    }
    let (_, listed) = service.call("GET", "/v1/webhooks", &key, None).await;
    assert_eq!(listed["data"], json!([]), "nothing was stored");

    // What is stored, shown and called is the normal form of the URL.
    let created = service
        .webhook(&key, json!({ "url": "HTTPS://Example.COM:443/a/./b/../hook.php?x=é" }))
        .await;
    assert_eq!(created["url"], "https://example.com/a/hook.php?x=%C3%A9");
    let id = created["id"].as_str().unwrap();
    // And so is a change: a private literal is refused, and nothing changes.
    let (status, problem) = service
        .call(
            "PATCH",
            &format!("/v1/webhooks/{id}"),
            &key,
            Some(json!({ "url": "http://10.0.0.1/hook" })),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(fields(&problem), ["url"]);
    let (_, stored) = service.call("GET", &format!("/v1/webhooks/{id}"), &key, None).await;
    assert_eq!(stored["url"], "https://example.com/a/hook.php?x=%C3%A9");

    // Where private targets are allowed, the private literal is fine; the rest is not.
    let open = Service::start().await;
    let receiver = Receiver::start().await;
    let key = open.account("Acme").await;
    open.webhook(&key, json!({ "url": receiver.url })).await;
    let (status, problem) = open
        .call(
            "POST",
            "/v1/webhooks",
            &key,
            Some(json!({ "url": format!("http://127.0.0.1:{}/ok/a\r\nX: y", receiver.port) })),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
}

#[tokio::test]
async fn nested_fields_are_named_by_their_full_path_in_plain_words() {
    let service = Service::start().await;
    let key = service.account("Acme").await;
    let url = "https://example.com/hook";
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "/v1/events/batch",
            json!({"events": [{"type": "x"}, {"data": 1}]}),
            &["events[1].type"],
        ),
        (
            "/v1/webhooks",
            json!({"url": url, "rate_limit": {}}),
            &["rate_limit.per_second"],
        ),
        (
            "/v1/webhooks",
            json!({"url": url, "batch": {"max_events": 5}}),
            &["batch.max_wait_ms"],
        ),
        (
            "/v1/webhooks",
            json!({"url": url, "rate_limit": {"per_second": "fast"}}),
            &["rate_limit.per_second"],
        ),
        (
            "/v1/events/batch",
            json!({"events": [{"type": "x", "colour": 1}]}),
            &["events[0].colour"],
        ),
        // Every field of the wrong type, not only the first.
        (
            "/v1/webhooks",
            json!({"url": 7, "max_concurrency": "eight", "format": "yaml", "signatures": ["hmac-md5"], "enabled": "yes"}),
            &["url", "max_concurrency", "format", "signatures[0]", "enabled"],
        ),
    ];
    for (path, body, expected) in cases {
        let (status, problem) = service.call("POST", path, &key, Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(fields(&problem), expected, "{body}: {problem}");
        for error in problem["errors"].as_array().unwrap() {
            let message = error["message"].as_str().unwrap();
            for internal in ["`", "variant", "expected one of", "u32", "struct "] {
                assert!(!message.contains(internal), "{body}: {message:?} leaks {internal:?}");
            }
        }
    }
    let (_, problem) = service
        .call(
            "POST",
            "/v1/webhooks",
            &key,
            Some(json!({"url": url, "format": "yaml"})),
        )
        .await;
    assert_eq!(problem["errors"][0]["message"], "one of \"json\", \"form\", \"xml\"");

    // A key given twice is named by its path, at any depth.
    for (body, expected) in [
        (format!(r#"{{"url": "{url}", "url": "{url}"}}"#), "url"),
        (
            format!(r#"{{"url": "{url}", "headers": {{"X-A": "1", "X-A": "2"}}}}"#),
            "headers.X-A",
        ),
    ] {
        let (status, problem) = service
            .call("POST", "/v1/webhooks", &key, Some(Value::String(body)))
            .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(fields(&problem), [expected], "{problem}");
    }
    let (status, problem) = service
        .call(
            "POST",
            "/v1/events",
            &key,
            Some(Value::String(r#"{"type": "x", "data": {"a": 1, "a": 2}}"#.into())),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(fields(&problem), ["data.a"]);

    // A syntax error says where, not which tokens the parser wanted.
    let (status, problem) = service
        .call(
            "POST",
            "/v1/events",
            &key,
            Some(Value::String(r#"{"type" "x"}"#.into())),
        )
        .await;
    assert_eq!(status, 400);
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("line 1, column 9") && !detail.contains('`'), "{detail}");
    let (_, listed) = service.call("GET", "/v1/webhooks", &key, None).await;
    assert_eq!(listed["data"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn transport_errors_are_problem_documents() {
    let service = Service::start().await;
    let key = service.account("Acme").await;
    let hook = service.webhook(&key, json!({"url": "https://example.com/hook"})).await;
    let id = hook["id"].as_str().unwrap();
    const PROBLEM: &str = "application/problem+json";

    let (status, content_type, _, problem) = raw(&service, "GET", "/v1/webhooks/%ff", &key, None, "").await;
    assert_eq!((status, content_type.as_str()), (400, PROBLEM), "{problem}");
    assert_eq!(problem["status"], 400);

    let (status, content_type, allow, _) = raw(&service, "DELETE", "/v1/events", &key, None, "").await;
    assert_eq!((status, content_type.as_str(), allow.as_str()), (405, PROBLEM, "POST"));
    let (status, content_type, allow, problem) =
        raw(&service, "PUT", &format!("/v1/webhooks/{id}"), &key, None, "").await;
    assert_eq!((status, content_type.as_str()), (405, PROBLEM), "{problem}");
    let mut allowed: Vec<&str> = allow.split(',').map(str::trim).collect();
    allowed.sort();
    assert_eq!(allowed, ["DELETE", "GET", "HEAD", "PATCH"]);

    let (status, content_type, _, _) = raw(&service, "GET", "/v1/nothing-here", &key, None, "").await;
    assert_eq!((status, content_type.as_str()), (404, PROBLEM));

    let big = format!(r#"{{"type": "x", "data": "{}"}}"#, "y".repeat(2 * 1024 * 1024));
    let (status, content_type, _, _) = raw(&service, "POST", "/v1/events", &key, Some("application/json"), &big).await;
    assert_eq!((status, content_type.as_str()), (413, PROBLEM));

    for content_type in [None, Some("text/plain")] {
        let (status, got, _, _) = raw(&service, "POST", "/v1/events", &key, content_type, r#"{"type": "x"}"#).await;
        assert_eq!((status, got.as_str()), (415, PROBLEM), "{content_type:?}");
    }

    for (query, field) in [
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("status=maybe", "status"),
        ("since=yesterday", "since"),
        ("colour=red", "colour"),
        ("cursor=att_nope", "cursor"),
    ] {
        let path = format!("/v1/webhooks/{id}/attempts?{query}");
        let (status, content_type, _, problem) = raw(&service, "GET", &path, &key, None, "").await;
        assert_eq!((status, content_type.as_str()), (422, PROBLEM), "{query}: {problem}");
        assert_eq!(fields(&problem), [field], "{query}: {problem}");
        let message = problem["errors"][0]["message"].as_str().unwrap();
        assert!(
            !message.contains('`') && !message.contains("variant"),
            "{query}: {message}"
        );
    }
}

#[tokio::test]
async fn event_lists_are_bounded_unique_and_all_stands_alone() {
    let service = Service::start().await;
    let key = service.account("Acme").await;
    let url = "https://example.com/hook";
    let many: Vec<String> = (0..101).map(|n| format!("type.{n}")).collect();
    for (events, field) in [
        (json!(many), "events"),
        (json!(["a", "b", "a"]), "events[2]"),
        (json!(["open", "all"]), "events[1]"),
    ] {
        let (status, problem) = service
            .call(
                "POST",
                "/v1/webhooks",
                &key,
                Some(json!({"url": url, "events": events})),
            )
            .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(fields(&problem), [field], "{problem}");
    }
    let hook = service
        .webhook(&key, json!({"url": url, "events": many[..100].to_vec()}))
        .await;
    assert_eq!(hook["events"].as_array().unwrap().len(), 100);
    let (status, problem) = service
        .call(
            "PATCH",
            &format!("/v1/webhooks/{}", hook["id"].as_str().unwrap()),
            &key,
            Some(json!({"events": ["all", "all"]})),
        )
        .await;
    assert_eq!(status, 422, "{problem}");

    // `all` is what a webhook lists, never an event's type.
    for path in ["/v1/events", "/v1/events/batch"] {
        let body = if path == "/v1/events" {
            json!({"type": "all"})
        } else {
            json!({"events": [{"type": "x"}, {"type": "all"}]})
        };
        let (status, problem) = service.call("POST", path, &key, Some(body)).await;
        assert_eq!(status, 422, "{problem}");
        let expected = if path == "/v1/events" { "type" } else { "events[1].type" };
        assert_eq!(fields(&problem), [expected]);
    }
}

#[tokio::test]
async fn a_cursor_that_is_not_one_is_refused() {
    let service = Service::start().await;
    let key = service.account("Acme").await;
    let first = service.webhook(&key, json!({"url": "https://example.com/a"})).await;
    service.webhook(&key, json!({"url": "https://example.com/b"})).await;
    let (status, page) = service.call("GET", "/v1/webhooks?limit=1", &key, None).await;
    assert_eq!(status, 200);
    assert_eq!(page["next_cursor"], first["id"]);
    let (status, rest) = service
        .call(
            "GET",
            &format!("/v1/webhooks?cursor={}", first["id"].as_str().unwrap()),
            &key,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    // Paging goes on after an object deleted meanwhile.
    let first_id = first["id"].as_str().unwrap();
    assert_eq!(
        service
            .call("DELETE", &format!("/v1/webhooks/{first_id}"), &key, None)
            .await
            .0,
        204
    );
    let (status, after_deleted) = service
        .call("GET", &format!("/v1/webhooks?cursor={first_id}"), &key, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(after_deleted["data"], rest["data"]);
    for cursor in ["bogus", "evt_01jbz00000000000000000000", "wh_short"] {
        for path in ["/v1/webhooks", "/v1/databases", "/v1/accounts"] {
            let token = if path == "/v1/accounts" {
                common::ADMIN
            } else {
                key.as_str()
            };
            let (status, problem) = service
                .call("GET", &format!("{path}?cursor={cursor}"), token, None)
                .await;
            assert_eq!(status, 422, "{path} {cursor}: {problem}");
            assert_eq!(fields(&problem), ["cursor"]);
        }
    }
}

#[tokio::test]
async fn an_import_refuses_a_name_given_twice_as_the_json_api_does() {
    let service = Service::start().await;
    let key = service.account("Acme").await;
    let db = service
        .database(
            &key,
            json!({"name": "customers", "fields": [{"name": "email", "type": "email"}, {"name": "name", "type": "text"}]}),
        )
        .await;
    let path = format!("/v1/databases/{db}/import?key=email");

    // A JSON line with a key twice is a rejected row, named like a body's field.
    let lines = "{\"email\": \"a@example.com\", \"name\": \"a\"}\n\
                 {\"email\": \"b@example.com\", \"name\": \"b\", \"name\": \"c\"}\n";
    let (status, _, _, summary) = raw(&service, "POST", &path, &key, Some("application/x-ndjson"), lines).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["created"], 1, "{summary}");
    assert_eq!(
        summary["rejected"],
        json!([{"line": 2, "error": "name: given more than once"}])
    );

    // A CSV header with a column twice refuses the file before any row.
    let csv = "email,name,name\nc@example.com,c,d\n";
    let (status, _, _, problem) = raw(&service, "POST", &path, &key, Some("text/csv"), csv).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(fields(&problem), ["header"]);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("given more than once: name"),
        "{problem}"
    );
    let (_, profiles) = service
        .call("GET", &format!("/v1/databases/{db}/profiles"), &key, None)
        .await;
    assert_eq!(profiles["data"].as_array().unwrap().len(), 1, "{profiles}");
}
