//! What the integration tests share: a real receiver on 127.0.0.1 that records every
//! call, the real service started in-process on a free port with a test clock, and a
//! small API client. Nothing of Postbode's own is mocked.

#![allow(dead_code)]

pub mod binary;
pub mod dns;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use postbode::app::Running;
use postbode::config::Config;
use postbode_core::clock::ManualClock;
use serde_json::{Value, json};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

pub const ADMIN: &str = "test-operator-token-long-enough-to-pass";

/// Waits until `check` returns `Some`, polling; panics with `what` after a generous
/// bound (a hang guard, not a speed assertion).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A port nobody listens on right now, for a process the test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Call {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// How the receiver answers call number `n` (0-based), which is `call`.
pub type Answer = Arc<dyn Fn(usize, &Call) -> Reply + Send + Sync>;

#[derive(Clone)]
pub enum Reply {
    Status(u16),
    With {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// Never answers (until the test ends).
    Hang,
    /// Answers 200 once the receiver's gate is opened.
    WaitForGate,
}

impl Reply {
    /// 200 with `body`.
    pub fn body(body: impl Into<String>) -> Self {
        Reply::With {
            status: 200,
            headers: vec![],
            body: body.into(),
        }
    }
}

struct ReceiverState {
    calls: Mutex<Vec<Call>>,
    /// What a GET of each path answers (the URL ownership file); other GETs are 404.
    files: Mutex<std::collections::HashMap<String, Reply>>,
    fetches: Mutex<Vec<String>>,
    answer: Mutex<Answer>,
    gate: Notify,
    gate_open: std::sync::atomic::AtomicBool,
}

/// A real HTTP receiver on 127.0.0.1.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub port: u16,
    state: Arc<ReceiverState>,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::answering(|_| Reply::Status(200)).await
    }

    pub async fn answering(answer: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Self {
        Self::answering_calls(move |n, _| answer(n)).await
    }

    /// A receiver whose answer depends on what it was sent.
    pub async fn answering_calls(answer: impl Fn(usize, &Call) -> Reply + Send + Sync + 'static) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(ReceiverState {
            calls: Mutex::new(Vec::new()),
            files: Mutex::default(),
            fetches: Mutex::default(),
            answer: Mutex::new(Arc::new(answer)),
            gate: Notify::new(),
            gate_open: false.into(),
        });
        let app = axum::Router::new().fallback(receive).with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://127.0.0.1:{port}/hooks/receive.php"),
            port,
            state,
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.state.calls.lock().unwrap().len()
    }

    pub fn set_answer(&self, answer: impl Fn(usize) -> Reply + Send + Sync + 'static) {
        *self.state.answer.lock().unwrap() = Arc::new(move |n, _| answer(n));
    }

    /// Serves `reply` to GET `path`.
    pub fn serve_file(&self, path: &str, reply: Reply) {
        self.state.files.lock().unwrap().insert(path.to_owned(), reply);
    }

    /// The paths fetched with GET, in order.
    pub fn fetches(&self) -> Vec<String> {
        self.state.fetches.lock().unwrap().clone()
    }

    pub fn open_gate(&self) {
        self.state.gate_open.store(true, std::sync::atomic::Ordering::SeqCst);
        self.state.gate.notify_waiters();
    }

    pub async fn wait_for(&self, n: usize) -> Vec<Call> {
        eventually(&format!("{n} calls at the receiver"), || async {
            let calls = self.calls();
            (calls.len() >= n).then_some(calls)
        })
        .await
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method == axum::http::Method::GET {
        state.fetches.lock().unwrap().push(uri.path().to_owned());
        let file = state.files.lock().unwrap().get(uri.path()).cloned();
        return match file {
            Some(reply) => answer_with(&state, reply).await,
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    let call = Call {
        path: uri.path().to_owned(),
        headers,
        body,
    };
    let n = {
        let mut calls = state.calls.lock().unwrap();
        calls.push(call.clone());
        calls.len() - 1
    };
    let answer = state.answer.lock().unwrap().clone();
    let reply = answer(n, &call);
    answer_with(&state, reply).await
}

async fn answer_with(state: &ReceiverState, reply: Reply) -> Response {
    match reply {
        Reply::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Reply::With { status, headers, body } => {
            let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
            for (name, value) in headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
        Reply::Hang => std::future::pending().await,
        Reply::WaitForGate => {
            while !state.gate_open.load(std::sync::atomic::Ordering::SeqCst) {
                let notified = state.gate.notified();
                if state.gate_open.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                notified.await;
            }
            StatusCode::OK.into_response()
        }
    }
}

/// Checks `call`'s `webhook-signature` with the Standard Webhooks reference library
/// (Python), and that a tampered body fails; returns the payload it verified. `None`
/// when the library is missing (outside CI, where it is required).
pub fn verify_standard_webhooks(secret: &str, call: &Call) -> Option<Value> {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import standardwebhooks"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 with the standardwebhooks package is required in CI"
        );
        eprintln!("signature not checked: python3 -m pip install standardwebhooks");
        return None;
    }
    let input = json!({
        "secret": secret,
        "body": String::from_utf8(call.body.to_vec()).unwrap(),
        "headers": {
            "webhook-id": call.header("webhook-id"),
            "webhook-timestamp": call.header("webhook-timestamp"),
            "webhook-signature": call.header("webhook-signature"),
        },
    });
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
given = json.load(sys.stdin)
hook = Webhook(given["secret"])
print(json.dumps(hook.verify(given["body"], given["headers"])))
try:
    hook.verify(given["body"] + " ", given["headers"])
    print("tampered body accepted")
    sys.exit(1)
except Exception:
    pass
"#;
    let verdict = run_python(script, &input.to_string());
    Some(serde_json::from_str(verdict.trim()).unwrap())
}

/// Runs a Python script with `stdin`; panics with its output when it fails.
pub fn run_python(script: &str, stdin: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "python failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The `id` of a resource the API answered with.
fn id_of(resource: &Value) -> String {
    resource["id"].as_str().expect("the resource has an id").to_owned()
}

/// Settings for tests: private targets allowed (receivers are on 127.0.0.1), a known
/// operator token, a fast poll so a moved test clock is noticed quickly.
pub fn test_config(data_dir: &std::path::Path) -> Config {
    let mut config = Config::load(None, std::iter::empty()).unwrap();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.data_dir = data_dir.to_owned();
    config.admin_token = Some(ADMIN.into());
    config.delivery.allow_private_targets = true;
    config.delivery.poll_interval = Duration::from_millis(20);
    config.delivery.retry.jitter = 0.0;
    config.webhooks.require_verification = false;
    // No test asks the system's nameservers; those that look names up start their own.
    config.dns.nameservers = vec!["127.0.0.1:9".parse().unwrap()];
    config
}

/// The database a test's service stores in: `None` (a fresh SQLite file in its data
/// directory), or with `POSTBODE_TEST_BACKEND=postgres` a fresh schema on the test
/// PostgreSQL (`POSTBODE_TEST_DATABASE_URL`, default 127.0.0.1:5432, database `test`),
/// so the whole suite runs against either backend.
pub async fn test_database() -> Option<TestSchema> {
    if std::env::var("POSTBODE_TEST_BACKEND").as_deref() != Ok("postgres") {
        return None;
    }
    Some(
        postgres_schema()
            .await
            .unwrap_or_else(|e| panic!("the test PostgreSQL is reachable: {e}")),
    )
}

/// A fresh schema on the test PostgreSQL, whatever `POSTBODE_TEST_BACKEND` says (for
/// tests that only make sense there); `None`, after saying why, when it is not there,
/// except under `CI=true`, where that fails the test.
pub async fn postgres_only() -> Option<TestSchema> {
    match postgres_schema().await {
        Ok(schema) => Some(schema),
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipped: {e}; CI=true makes this a failure");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

async fn postgres_schema() -> Result<TestSchema, String> {
    let url = std::env::var("POSTBODE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = sqlx::PgPool::connect(&url)
        .await
        .map_err(|e| format!("PostgreSQL at {url} is not reachable ({e})"))?;
    let schema = format!("pbtest_{}", ulid::Ulid::generate().to_string().to_ascii_lowercase());
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{separator}options=-c%20search_path%3D{schema}");
    Ok(TestSchema { url, schema, scoped })
}

/// A schema of the test PostgreSQL, dropped with the test that made it (unless it failed).
pub struct TestSchema {
    url: String,
    schema: String,
    /// The URL whose connections use the schema.
    pub scoped: String,
}

impl TestSchema {
    pub fn name(&self) -> &str {
        &self.schema
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let (url, schema) = (self.url.clone(), self.schema.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let pool = sqlx::PgPool::connect(&url).await.ok()?;
                // The service may still hold a lock (its tasks cannot run while this
                // thread waits): give up rather than wait, and leave the schema.
                let mut tx = pool.begin().await.ok()?;
                sqlx::query("SET LOCAL lock_timeout = '2s'")
                    .execute(&mut *tx)
                    .await
                    .ok()?;
                sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(&mut *tx)
                    .await
                    .ok()?;
                tx.commit().await.ok()
            })
        })
        .join();
    }
}

/// The service, started in-process on a free port.
pub struct Service {
    pub url: String,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    running: Option<Running>,
    /// Declared last: dropped after the service has let go of it.
    _schema: Option<TestSchema>,
}

impl Service {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        let schema = test_database().await;
        config.database_url = schema.as_ref().map(|s| s.scoped.clone());
        adjust(&mut config);
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let running = postbode::app::start(config, clock.clone()).await.unwrap();
        Self {
            url: format!("http://{}", running.addr),
            clock,
            dir,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            running: Some(running),
            _schema: schema,
        }
    }

    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.unwrap();
        }
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Sends `body` (JSON, or raw text when a string) and returns status and JSON answer.
    pub async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(body) = body {
            let raw = match body {
                Value::String(raw) => raw,
                other => other.to_string(),
            };
            request = request.header("content-type", "application/json").body(raw);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// A new account; returns its API key.
    pub async fn account(&self, name: &str) -> String {
        let account = self.create(ADMIN, "/v1/accounts", json!({ "name": name })).await;
        account["api_key"].as_str().unwrap().to_owned()
    }

    /// POSTs `body` to `path`, asserts 201 Created and returns what was created.
    pub async fn create(&self, key: &str, path: &str, body: Value) -> Value {
        let (status, created) = self.call("POST", path, key, Some(body)).await;
        assert_eq!(status, 201, "POST {path}: {created}");
        created
    }

    /// A new profile database as `definition` describes it; returns its id.
    pub async fn database(&self, key: &str, definition: Value) -> String {
        id_of(&self.create(key, "/v1/databases", definition).await)
    }

    /// A new collection of database `db` as `definition` describes it; returns its id.
    pub async fn collection(&self, key: &str, db: &str, definition: Value) -> String {
        let path = format!("/v1/databases/{db}/collections");
        id_of(&self.create(key, &path, definition).await)
    }

    /// A new profile in database `db` with `fields`; returns its id.
    pub async fn profile(&self, key: &str, db: &str, fields: Value) -> String {
        let path = format!("/v1/databases/{db}/profiles");
        id_of(&self.create(key, &path, json!({ "fields": fields })).await)
    }

    /// A new subprofile of `profile` in collection `col` with `fields`; returns its id.
    pub async fn subprofile(&self, key: &str, profile: &str, col: &str, fields: Value) -> String {
        let path = format!("/v1/profiles/{profile}/subprofiles");
        let subprofile = json!({"collection_id": col, "fields": fields});
        id_of(&self.create(key, &path, subprofile).await)
    }

    /// A new webhook; returns its JSON (with the secret).
    pub async fn webhook(&self, key: &str, settings: Value) -> Value {
        self.create(key, "/v1/webhooks", settings).await
    }

    pub async fn send_event(&self, key: &str, event: Value) -> String {
        let (status, body) = self.call("POST", "/v1/events", key, Some(event)).await;
        assert_eq!(status, 202, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    pub async fn event(&self, key: &str, id: &str) -> Value {
        let (status, body) = self.call("GET", &format!("/v1/events/{id}"), key, None).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The event's only delivery, once `done` holds for it.
    pub async fn delivery_when(&self, key: &str, event_id: &str, done: impl Fn(&Value) -> bool) -> Value {
        eventually("the delivery to reach the expected state", || async {
            let event = self.event(key, event_id).await;
            let delivery = event["deliveries"][0].clone();
            done(&delivery).then_some(delivery)
        })
        .await
    }

    /// The webhook's deliveries (`GET /v1/webhooks/{id}/deliveries` with `query`).
    pub async fn deliveries(&self, key: &str, webhook_id: &str, query: &str) -> Vec<Value> {
        let path = format!("/v1/webhooks/{webhook_id}/deliveries?{query}");
        let (status, page) = self.call("GET", &path, key, None).await;
        assert_eq!(status, 200, "GET {path}: {page}");
        page["data"].as_array().unwrap().clone()
    }

    /// Every call `receiver` got, once `webhook` has nothing pending: each delivery of
    /// the events made so far has then been delivered, failed or skipped, so these are
    /// all the calls it will get for them, wanted or not.
    pub async fn settled_calls(&self, key: &str, webhook: &Value, receiver: &Receiver) -> Vec<Call> {
        let id = webhook["id"].as_str().expect("a webhook");
        eventually("the webhook to have nothing pending", || async {
            self.deliveries(key, id, "status=pending&limit=1")
                .await
                .is_empty()
                .then_some(())
        })
        .await;
        receiver.calls()
    }

    pub async fn attempts(&self, key: &str, webhook_id: &str) -> Vec<Value> {
        let (status, body) = self
            .call("GET", &format!("/v1/webhooks/{webhook_id}/attempts"), key, None)
            .await;
        assert_eq!(status, 200, "{body}");
        body["data"].as_array().unwrap().clone()
    }
}
