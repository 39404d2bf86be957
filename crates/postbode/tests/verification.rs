//! URL ownership verification and the test tool, with real receivers.

mod common;

use common::{Receiver, Reply, Service};
use serde_json::{Value, json};
use std::time::Duration;

async fn verifying_service() -> Service {
    Service::start_with(|c| c.webhooks.require_verification = true).await
}

fn file(webhook: &Value) -> (String, String) {
    let v = &webhook["verification"];
    (
        v["file_name"].as_str().unwrap().to_owned(),
        v["file_content"].as_str().unwrap().to_owned(),
    )
}

async fn verify(service: &Service, key: &str, webhook: &Value) -> Value {
    let (status, answer) = service
        .call(
            "POST",
            &format!("/v1/webhooks/{}/verify", webhook["id"].as_str().unwrap()),
            key,
            None,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

fn outcomes(answer: &Value) -> Vec<String> {
    answer["checked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["outcome"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_new_webhook_is_pending_with_a_unique_file() {
    let service = verifying_service().await;
    let key = service.account("Acme").await;
    let a = service
        .webhook(&key, json!({ "url": "https://example.com/dir/script.php" }))
        .await;
    let b = service
        .webhook(&key, json!({ "url": "https://example.com/dir/script.php" }))
        .await;
    let v = &a["verification"];
    assert_eq!(v["status"], "pending");
    let name = v["file_name"].as_str().unwrap();
    assert!(name.starts_with("postbode-") && name.ends_with(".txt") && name.len() == "postbode-".len() + 16 + 4);
    assert!(v["file_content"].as_str().unwrap().len() >= 32);
    assert_eq!(
        v["file_urls"],
        json!([
            format!("https://example.com/dir/{name}"),
            format!("https://example.com/{name}")
        ])
    );
    assert_ne!(file(&a), file(&b));
    let response = service
        .http
        .get(format!(
            "{}/v1/webhooks/{}/verification-file",
            service.url,
            a["id"].as_str().unwrap()
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(response.text().await.unwrap(), v["file_content"].as_str().unwrap());
}

#[tokio::test]
async fn the_file_is_found_in_the_script_directory_or_the_web_root() {
    let service = verifying_service().await;
    let key = service.account("Acme").await;
    let receiver = Receiver::start().await;

    let in_dir = service.webhook(&key, json!({ "url": receiver.url })).await;
    let (name, content) = file(&in_dir);
    receiver.serve_file(&format!("/hooks/{name}"), Reply::body(format!("  {content}\n")));
    let answer = verify(&service, &key, &in_dir).await;
    assert_eq!(answer["status"], "verified");
    assert_eq!(outcomes(&answer), ["found"]);

    let in_root = service.webhook(&key, json!({ "url": receiver.url })).await;
    let (name, content) = file(&in_root);
    receiver.serve_file(&format!("/{name}"), Reply::body(content));
    let answer = verify(&service, &key, &in_root).await;
    assert_eq!(answer["status"], "verified");
    assert_eq!(outcomes(&answer), ["not found (HTTP 404)", "found"]);
    // Script directory first, then the root.
    assert_eq!(receiver.fetches()[1..], [format!("/hooks/{name}"), format!("/{name}")]);

    let (_, shown) = service
        .call(
            "GET",
            &format!("/v1/webhooks/{}", in_root["id"].as_str().unwrap()),
            &key,
            None,
        )
        .await;
    assert_eq!(shown["verification"]["status"], "verified");
    assert!(shown["verification"]["checked_at"].is_string());
    assert!(
        shown["verification"]["outcome"]
            .as_str()
            .unwrap()
            .starts_with("found at ")
    );
}

#[tokio::test]
async fn verification_fails_with_a_reason_per_url() {
    let service = verifying_service().await;
    let key = service.account("Acme").await;
    let receiver = Receiver::start().await;
    type FileReply = Box<dyn Fn(&str) -> Reply>;
    let cases: Vec<(FileReply, &str)> = vec![
        (Box::new(|_| Reply::body("something else")), "wrong content"),
        (Box::new(|_| Reply::Status(404)), "not found (HTTP 404)"),
        (
            Box::new(|content| Reply::body(format!("{content}{}", " ".repeat(5000)))),
            "too large (more than 4096 bytes)",
        ),
        (
            Box::new(|_| Reply::With {
                status: 302,
                headers: vec![("location", "https://elsewhere.example/file.txt".into())],
                body: String::new(),
            }),
            "redirect refused (HTTP 302 to https://elsewhere.example/file.txt)",
        ),
    ];
    for (reply, expected) in cases {
        let webhook = service.webhook(&key, json!({ "url": receiver.url })).await;
        let (name, content) = file(&webhook);
        receiver.serve_file(&format!("/hooks/{name}"), reply(&content));
        let answer = verify(&service, &key, &webhook).await;
        assert_eq!(answer["status"], "failed");
        assert_eq!(outcomes(&answer)[0], expected);
        let (_, shown) = service
            .call(
                "GET",
                &format!("/v1/webhooks/{}", webhook["id"].as_str().unwrap()),
                &key,
                None,
            )
            .await;
        assert_eq!(shown["verification"]["status"], "failed");
    }
}

#[tokio::test]
async fn a_private_address_is_not_fetched_unless_allowed() {
    let service = Service::start_with(|c| {
        c.webhooks.require_verification = true;
        c.delivery.allow_private_targets = false;
    })
    .await;
    let key = service.account("Acme").await;
    let receiver = Receiver::start().await;
    // A literal private address is refused at creation; a name is checked when resolved.
    let url = format!("http://localhost:{}/hooks/receive.php", receiver.port);
    let webhook = service.webhook(&key, json!({ "url": url })).await;
    let (name, content) = file(&webhook);
    receiver.serve_file(&format!("/hooks/{name}"), Reply::body(content));
    let answer = verify(&service, &key, &webhook).await;
    assert_eq!(answer["status"], "failed");
    assert!(outcomes(&answer).iter().all(|o| o.starts_with("blocked")), "{answer}");
    assert!(receiver.fetches().is_empty());
}

#[tokio::test]
async fn only_verified_webhooks_receive_calls() {
    let service = verifying_service().await;
    let key = service.account("Acme").await;
    let verified_receiver = Receiver::start().await;
    let unverified_receiver = Receiver::start().await;
    let verified = service.webhook(&key, json!({ "url": verified_receiver.url })).await;
    let unverified = service.webhook(&key, json!({ "url": unverified_receiver.url })).await;
    let (name, content) = file(&verified);
    verified_receiver.serve_file(&format!("/hooks/{name}"), Reply::body(content));
    assert_eq!(verify(&service, &key, &verified).await["status"], "verified");

    for n in 0..10 {
        let (status, accepted) = service
            .call("POST", "/v1/events", &key, Some(json!({ "type": "x", "data": n })))
            .await;
        assert_eq!(status, 202);
        assert_eq!(accepted["deliveries"], 1, "only the verified webhook gets a delivery");
    }
    verified_receiver.wait_for(10).await;
    assert_eq!(unverified_receiver.count(), 0);
    let (_, stats) = service
        .call(
            "GET",
            &format!("/v1/webhooks/{}/stats", unverified["id"].as_str().unwrap()),
            &key,
            None,
        )
        .await;
    assert_eq!(stats["data"][0]["skipped_unverified"], 10, "{stats}");

    // Moving the URL to another directory needs a new proof; the query string does not.
    let id = verified["id"].as_str().unwrap();
    let same_dir = verified_receiver.url.replace("receive.php", "other.php?x=1");
    let (_, moved) = service
        .call(
            "PATCH",
            &format!("/v1/webhooks/{id}"),
            &key,
            Some(json!({"url": same_dir})),
        )
        .await;
    assert_eq!(moved["verification"]["status"], "verified");
    let other_dir = verified_receiver.url.replace("/hooks/", "/elsewhere/");
    let (_, moved) = service
        .call(
            "PATCH",
            &format!("/v1/webhooks/{id}"),
            &key,
            Some(json!({"url": other_dir})),
        )
        .await;
    assert_eq!(moved["verification"]["status"], "pending");
    let (_, accepted) = service
        .call("POST", "/v1/events", &key, Some(json!({ "type": "x" })))
        .await;
    assert_eq!(accepted["deliveries"], 0);
}

#[tokio::test]
async fn the_test_tool_shows_the_receivers_real_answer() {
    let service = verifying_service().await;
    let key = service.account("Acme").await;
    let receiver = Receiver::answering(|n| match n {
        0 => Reply::With {
            status: 201,
            headers: vec![("x-receiver", "php/8".into())],
            body: "stored it".into(),
        },
        _ => Reply::With {
            status: 500,
            headers: vec![],
            body: "Fatal error: oops".into(),
        },
    })
    .await;
    let webhook = service.webhook(&key, json!({ "url": receiver.url })).await;
    let id = webhook["id"].as_str().unwrap();

    let (status, problem) = service
        .call("POST", &format!("/v1/webhooks/{id}/test"), &key, Some(json!({})))
        .await;
    assert_eq!(status, 409, "an unverified webhook gets no test call");
    assert!(problem["detail"].as_str().unwrap().contains("verif"), "{problem}");
    assert_eq!(receiver.count(), 0);

    let (name, content) = file(&webhook);
    receiver.serve_file(&format!("/hooks/{name}"), Reply::body(content));
    verify(&service, &key, &webhook).await;

    let (status, report) = service
        .call(
            "POST",
            &format!("/v1/webhooks/{id}/test"),
            &key,
            Some(json!({ "type": "order.paid", "data": {"n": 1} })),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["status_code"], 201);
    assert_eq!(report["response_headers"]["x-receiver"], "php/8");
    assert_eq!(report["response_body"], "stored it");
    assert_eq!(report["error"], Value::Null);
    let call = &receiver.calls()[0];
    assert_eq!(call.json()["type"], "order.paid");
    assert_eq!(call.json()["data"], json!({"n": 1}));
    assert!(call.header("webhook-signature").starts_with("v1,"));

    let raw = "name=Piet&city=Delft";
    let (_, report) = service
        .call(
            "POST",
            &format!("/v1/webhooks/{id}/test"),
            &key,
            Some(json!({ "body": raw })),
        )
        .await;
    assert_eq!(report["status_code"], 500);
    assert_eq!(report["response_body"], "Fatal error: oops");
    assert_eq!(receiver.calls()[1].body, raw.as_bytes());
    assert_eq!(receiver.calls()[1].header("content-type"), "application/json");

    let attempts = service.attempts(&key, id).await;
    assert_eq!(attempts.len(), 2);
    assert!(
        attempts
            .iter()
            .all(|a| a["trigger"] == "test" && a["delivery_id"].is_null())
    );
    assert_eq!(attempts[0]["status_code"], 500);
    // A failed test is never retried.
    service.advance(Duration::from_secs(3600));
    let (status, _) = service
        .call(
            "POST",
            &format!("/v1/webhooks/{id}/test"),
            &key,
            Some(json!({"data": 1, "body": "x"})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(receiver.count(), 2);
}

#[tokio::test]
async fn the_test_tool_reports_a_timeout() {
    let service = Service::start_with(|c| {
        c.delivery.total_timeout = Duration::from_millis(300);
        c.delivery.lease = Duration::from_secs(5);
    })
    .await;
    let key = service.account("Acme").await;
    let receiver = Receiver::answering(|_| Reply::Hang).await;
    let webhook = service.webhook(&key, json!({ "url": receiver.url })).await;
    let id = webhook["id"].as_str().unwrap();
    let (status, report) = service
        .call("POST", &format!("/v1/webhooks/{id}/test"), &key, Some(json!({})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(report["status_code"], Value::Null);
    assert!(report["error"].as_str().unwrap().starts_with("timeout"), "{report}");
    let attempts = service.attempts(&key, id).await;
    assert_eq!(attempts[0]["error_kind"], "timeout");
    assert_eq!(attempts[0]["trigger"], "test");
}

#[tokio::test]
async fn check_all_tests_verified_webhooks_and_verifies_the_others() {
    let service = verifying_service().await;
    let key = service.account("Acme").await;
    let receiver = Receiver::start().await;
    let verified = service.webhook(&key, json!({ "url": receiver.url })).await;
    let pending = service.webhook(&key, json!({ "url": receiver.url })).await;
    let (name, content) = file(&verified);
    receiver.serve_file(&format!("/hooks/{name}"), Reply::body(content));
    verify(&service, &key, &verified).await;
    // The owner of the second places its file now; "check now" picks it up.
    let (name, content) = file(&pending);
    receiver.serve_file(&format!("/{name}"), Reply::body(content));

    let (status, answer) = service.call("POST", "/v1/webhooks/check", &key, None).await;
    assert_eq!(status, 200, "{answer}");
    let lines = answer["data"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["webhook_id"], verified["id"]);
    assert_eq!(
        (lines[0]["action"].clone(), lines[0]["ok"].clone()),
        (json!("test"), json!(true))
    );
    assert!(lines[0]["outcome"].as_str().unwrap().starts_with("HTTP 200"));
    assert_eq!(
        (lines[1]["action"].clone(), lines[1]["ok"].clone()),
        (json!("verify"), json!(true))
    );
    assert_eq!(receiver.count(), 1, "one test call, to the verified webhook");
}

/// The command line prints what a person wants to read.
#[tokio::test]
async fn the_cli_verifies_tests_and_checks() {
    let service = verifying_service().await;
    let key = service.account("Acme").await;
    let receiver = Receiver::answering(|_| Reply::body("hello from php")).await;
    let webhook = service.webhook(&key, json!({ "url": receiver.url })).await;
    let id = webhook["id"].as_str().unwrap();
    let cli = |args: &[&str]| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_postbode"));
        command
            .args(args)
            .env("POSTBODE_URL", &service.url)
            .env("POSTBODE_API_KEY", &key);
        async move {
            let output = command.output().await.unwrap();
            (
                output.status.success(),
                String::from_utf8(output.stdout).unwrap(),
                String::from_utf8(output.stderr).unwrap(),
            )
        }
    };

    // Not verified is a failure: the command says why and exits non-zero.
    let (ok, out, err) = cli(&["webhook", "verify", id]).await;
    assert!(!ok, "{out}");
    assert!(out.starts_with("Not verified."), "{out}");
    assert!(out.contains("not found (HTTP 404)"), "{out}");
    assert_eq!(err.trim_end(), format!("error: webhook {id} is not verified"));
    let (ok, out, _) = cli(&["webhook", "check"]).await;
    assert!(!ok, "a FAIL line fails the command: {out}");
    assert!(out.starts_with(&format!("FAIL {id} verify")), "{out}");
    let (ok, _, err) = cli(&["webhook", "test", id]).await;
    assert!(!ok);
    assert!(err.contains("409"), "{err}");

    let (name, content) = file(&webhook);
    receiver.serve_file(&format!("/{name}"), Reply::body(content));
    let (ok, out, _) = cli(&["webhook", "verify", id]).await;
    assert!(ok);
    assert!(out.starts_with("Verified."), "{out}");

    let (ok, out, _) = cli(&["webhook", "test", id, "--data", r#"{"n": 1}"#]).await;
    assert!(ok);
    assert!(out.starts_with("HTTP 200 in "), "{out}");
    assert!(out.trim_end().ends_with("hello from php"), "{out}");
    assert_eq!(receiver.calls()[0].json()["data"], json!({"n": 1}));

    let (ok, out, _) = cli(&["webhook", "check"]).await;
    assert!(ok);
    assert!(out.starts_with(&format!("ok   {id} test")), "{out}");
}
