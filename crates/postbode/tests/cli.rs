//! The binary as a user and an operator meet it: exit statuses a script can rely on,
//! error messages without backtraces, and a log that says what happened in one line
//! per thing, without colour codes when nobody looks at a terminal.

mod common;

use common::binary::{Output, run as postbode};
use common::{ADMIN, Receiver, Reply, Service, eventually};
use serde_json::json;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncBufReadExt;

fn assert_no_backtrace(out: &Output) {
    for trace in ["backtrace", "Backtrace", "   0: ", "panicked"] {
        assert!(!out.stderr.contains(trace), "{trace:?} in {}", out.stderr);
    }
}

#[tokio::test]
async fn user_errors_exit_non_zero_with_a_message_and_no_backtrace() {
    let service = Service::start().await;
    let key = service.account("Acme").await;
    let api = [
        ("POSTBODE_URL", service.url.as_str()),
        ("POSTBODE_API_KEY", key.as_str()),
    ];

    // Nobody listens: the message says where it tried.
    let out = postbode(
        &[
            "webhook",
            "verify",
            "wh_x",
            "--url",
            "http://127.0.0.1:1",
            "--api-key",
            "pb_x",
        ],
        &[],
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: calling http://127.0.0.1:1/v1/webhooks/wh_x/verify"),
        "{}",
        out.stderr
    );
    assert_no_backtrace(&out);

    // The server says no: its problem document is the message.
    let out = postbode(&["webhook", "verify", "wh_01m8ahz4j5w19ryxqdkbkcwhvc"], &api).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert_eq!(out.stderr.trim_end(), "error: 404 Not Found: webhook not found");
    assert_no_backtrace(&out);

    // A bad flag: the usage error, exit status 2.
    let out = postbode(&["webhook", "verify", "--colour"], &api).await;
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("unexpected argument '--colour'"), "{}", out.stderr);
    assert_no_backtrace(&out);

    // A test call the receiver does not accept is a failure too.
    let receiver = Receiver::answering(|_| Reply::Status(500)).await;
    let hook = service.webhook(&key, json!({ "url": receiver.url })).await;
    let out = postbode(&["webhook", "test", hook["id"].as_str().unwrap()], &api).await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stdout.starts_with("HTTP 500 in "), "{}", out.stdout);
    assert!(
        out.stderr.contains("did not answer the test call with a 2xx"),
        "{}",
        out.stderr
    );
    let out = postbode(&["webhook", "check"], &api).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.starts_with("FAIL "), "{}", out.stdout);
    assert_no_backtrace(&out);
}

/// The lines the server writes to standard error, read as they come.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn count(&self, text: &str) -> usize {
        self.lines().iter().filter(|line| line.contains(text)).count()
    }

    async fn wait_for(&self, text: &str) {
        eventually(&format!("{text:?} in the log"), || async {
            (self.count(text) > 0).then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn a_bad_or_unreachable_database_url_is_a_clear_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let serve = |url: &'static str| {
        let args = [
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data,
            "--database",
            url,
        ];
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            postbode(&args, &[]).await
        }
    };
    // Nobody listens on port 1: the reason is the driver's, not a pool's timeout.
    let out = serve("postgres://postgres@127.0.0.1:1/test").await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("error: opening postgres://postgres@127.0.0.1:1/test"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Connection refused"), "{}", out.stderr);
    assert_no_backtrace(&out);
    // A password in the URL is not printed.
    let out = serve("postgres://postgres:hunter2@127.0.0.1:1/test").await;
    assert_eq!(out.code, Some(1));
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
    // A URL of no supported kind names the kinds there are.
    let out = serve("mysql://root@127.0.0.1/postbode").await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("use sqlite://PATH or postgres://"),
        "{}",
        out.stderr
    );
    assert_no_backtrace(&out);
    let out = serve("postgres://[::1").await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert_no_backtrace(&out);
}

#[tokio::test]
async fn the_log_has_one_line_per_start_verification_change_and_disable_and_no_colour() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_postbode"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.path())
        .env("POSTBODE_ADMIN_TOKEN", ADMIN)
        .env("POSTBODE_DELIVERY__ALLOW_PRIVATE_TARGETS", "true")
        // The first failed call ends a run of failures long enough to disable.
        .env("POSTBODE_DELIVERY__DISABLE_AFTER", "0s")
        .env_remove("POSTBODE_LOG")
        .env_remove("POSTBODE_PUBLIC_URL")
        .env_remove("POSTBODE_SIGNATURE__KEY_DOMAIN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let log = Log::default();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let reading = {
        let log = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                log.0.lock().unwrap().push(line);
            }
        })
    };
    let url = format!("http://127.0.0.1:{port}");
    log.wait_for("Postbode is listening").await;

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let post = |path: String, token: String, body: serde_json::Value| {
        let request = http.post(format!("{url}{path}")).bearer_auth(token).json(&body);
        async move { request.send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    let account = post("/v1/accounts".into(), ADMIN.into(), json!({"name": "Acme"})).await;
    let key = account["api_key"].as_str().unwrap().to_owned();
    let receiver = Receiver::answering(|_| Reply::Status(500)).await;
    let hook = post("/v1/webhooks".into(), key.clone(), json!({"url": receiver.url})).await;
    let id = hook["id"].as_str().unwrap().to_owned();
    let file = &hook["verification"];
    receiver.serve_file(
        &format!("/hooks/{}", file["file_name"].as_str().unwrap()),
        Reply::body(file["file_content"].as_str().unwrap()),
    );
    let verified = post(format!("/v1/webhooks/{id}/verify"), key.clone(), json!({})).await;
    assert_eq!(verified["status"], "verified", "{verified}");
    // Checking again changes nothing, and logs nothing.
    post(format!("/v1/webhooks/{id}/verify"), key.clone(), json!({})).await;
    post("/v1/events".into(), key.clone(), json!({"type": "x"})).await;
    log.wait_for("webhook disabled").await;

    let pid = child.id().unwrap().to_string();
    let stopped = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(stopped.success());
    assert!(child.wait().await.unwrap().success());
    reading.await.unwrap();

    let lines = log.lines();
    assert!(
        lines.iter().all(|line| !line.contains('\u{1b}')),
        "colour codes: {lines:#?}"
    );
    let warning = lines.iter().filter(|l| l.contains(" WARN ")).collect::<Vec<_>>();
    assert_eq!(warning.len(), 1, "{lines:#?}");
    assert!(
        warning[0].contains("signature.key_domain") && warning[0].contains("\"127.0.0.1\""),
        "{}",
        warning[0]
    );
    for (text, what) in [
        ("Postbode is listening", "the start"),
        ("webhook verification changed", "the verification"),
        ("webhook disabled", "the disable"),
    ] {
        assert_eq!(log.count(text), 1, "one line for {what}: {lines:#?}");
    }
    let expected = [
        "key_domain",
        "listening",
        "verification changed",
        "webhook disabled",
        "shutting down",
        "stopped",
    ];
    assert_eq!(
        lines.len(),
        expected.len(),
        "nothing else at the default level: {lines:#?}"
    );
    for (line, text) in lines.iter().zip(expected) {
        assert!(line.contains(text), "{line:?} should be about {text:?}");
    }
}

#[tokio::test]
async fn json_logs_name_the_ids_and_reasons_of_verification_disable_and_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_postbode"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.path())
        .env("POSTBODE_ADMIN_TOKEN", ADMIN)
        .env("POSTBODE_DELIVERY__ALLOW_PRIVATE_TARGETS", "true")
        .env("POSTBODE_DELIVERY__DISABLE_AFTER", "0s")
        .env("POSTBODE_LOG_FORMAT", "json")
        .env_remove("POSTBODE_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let log = Log::default();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    {
        let log = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                log.0.lock().unwrap().push(line);
            }
        });
    }
    let url = format!("http://127.0.0.1:{port}");
    log.wait_for("Postbode is listening").await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let post = |path: String, token: String, body: serde_json::Value| {
        let request = http.post(format!("{url}{path}")).bearer_auth(token).json(&body);
        async move { request.send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    let account = post("/v1/accounts".into(), ADMIN.into(), json!({"name": "Acme"})).await;
    let (key, account_id) = (
        account["api_key"].as_str().unwrap().to_owned(),
        account["id"].as_str().unwrap().to_owned(),
    );
    let receiver = Receiver::answering(|_| Reply::Status(500)).await;
    let hook = post("/v1/webhooks".into(), key.clone(), json!({"url": receiver.url})).await;
    let id = hook["id"].as_str().unwrap().to_owned();
    let file = &hook["verification"];
    receiver.serve_file(
        &format!("/hooks/{}", file["file_name"].as_str().unwrap()),
        Reply::body(file["file_content"].as_str().unwrap()),
    );
    post(format!("/v1/webhooks/{id}/verify"), key.clone(), json!({})).await;
    post(format!("/v1/webhooks/{id}/secret/rotate"), key.clone(), json!({})).await;
    post("/v1/signing-keys/rotate".into(), ADMIN.into(), json!({})).await;
    post("/v1/events".into(), key.clone(), json!({"type": "x"})).await;
    log.wait_for("webhook disabled").await;

    let lines: Vec<serde_json::Value> = log
        .lines()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let with = |message: &str| -> Vec<&serde_json::Value> {
        lines.iter().filter(|l| l["fields"]["message"] == message).collect()
    };
    for message in [
        "webhook verification changed",
        "webhook disabled",
        "webhook secret rotated",
    ] {
        let found = with(message);
        assert_eq!(found.len(), 1, "one line for {message}: {lines:#?}");
        let fields = &found[0]["fields"];
        assert_eq!(found[0]["level"], "INFO");
        assert_eq!(fields["webhook"], id.as_str(), "{message}: {fields}");
        assert_eq!(fields["account"], account_id.as_str(), "{message}: {fields}");
        assert!(
            fields["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{message}: {fields}"
        );
    }
    // Inside a request, the span names the account too.
    let verified = with("webhook verification changed")[0];
    assert_eq!(verified["span"]["account"], account_id.as_str(), "{verified}");
    assert_eq!(verified["span"]["route"], "/v1/webhooks/{id}/verify", "{verified}");
    let rotations = with("signing key rotation: a new key is published");
    assert_eq!(rotations.len(), 2, "one per algorithm: {lines:#?}");
    for line in rotations {
        assert_eq!(line["fields"]["reason"], "requested by the operator", "{line}");
    }
}
