//! The dashboard in a real browser: Debian's headless Chromium driven over WebDriver
//! (chromedriver on 127.0.0.1), against the real service and a real receiver. It signs
//! in, creates and verifies a webhook through the pages, tests it, reads and resends a
//! delivery, sees the charts, the escaped description and a refused condition, visits
//! the operator's pages and signs out; it sets batching and ordering through the form
//! and reads the engine's state in the Health card. Each page is saved as a screenshot
//! into the folder the test prints.
//!
//! Without `chromium` and `chromedriver` it skips, except under `CI=true`, where a
//! missing browser fails.

mod common;

use common::webdriver::{Client, Element, Locator};
use common::{ADMIN, Receiver, Reply, Service, eventually, free_port};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver and a browser session with a fresh profile, saving screenshots.
struct Browser {
    client: Client,
    /// The service's address, which `visit` paths are relative to.
    base: String,
    driver: Child,
    downloads: tempfile::TempDir,
    _profile: tempfile::TempDir,
    shots: PathBuf,
    taken: usize,
}

impl Browser {
    /// `None` (after saying why) when Chromium is not installed and this is not CI.
    /// Screenshots go into a folder of their own per `test`, as tests run at once.
    async fn start(base: &str, test: &str) -> Option<Self> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|path| !Path::new(path).exists())
            .collect();
        if !missing.is_empty() {
            let message = format!(
                "{} not installed: apt-get install -y chromium chromium-driver",
                missing.join(" and ")
            );
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
            eprintln!("skipping the dashboard browser test: {message}");
            return None;
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        eventually("chromedriver to listen", || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()
        })
        .await;
        let profile = tempfile::tempdir().unwrap();
        let downloads = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,1200",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.path().display().to_string(),
                    "download.prompt_for_download": false,
                },
            },
        });
        let client = Client::connect(&format!("http://127.0.0.1:{port}"), capabilities)
            .await
            .expect("a WebDriver session");
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("dashboard-screenshots")
            .join(test);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).unwrap();
        println!("dashboard screenshots: {}", shots.display());
        Some(Self {
            client,
            base: base.to_owned(),
            driver,
            downloads,
            _profile: profile,
            shots,
            taken: 0,
        })
    }

    async fn visit(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    async fn shot(&mut self, name: &str) {
        self.taken += 1;
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{:02}-{name}.png", self.taken)), png).unwrap();
    }

    /// Waits until an element matches `css`, and returns the first.
    async fn find(&self, css: &str) -> Element<'_> {
        eventually(&format!("an element {css}"), || async {
            match self.client.find(Locator::Css(css)).await {
                Ok(element) => Some(element),
                Err(error) if error.is_no_such_element() => None,
                Err(error) => panic!("looking for {css}: {error}"),
            }
        })
        .await
    }

    /// Waits until the element's text contains `expected`, and returns the text.
    async fn text_of(&self, css: &str, expected: &str) -> String {
        eventually(&format!("{css} to show {expected:?}"), || async {
            let element = self.client.find(Locator::Css(css)).await.ok()?;
            let text = element.text().await.ok()?;
            text.contains(expected).then_some(text)
        })
        .await
    }

    async fn fill(&self, css: &str, value: &str) {
        let input = self.find(css).await;
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    async fn select(&self, css: &str, value: &str) {
        self.find(css).await.select_by_value(value).await.unwrap();
    }

    /// A DOM property of the first element matching `css` (`value`, `checked`).
    async fn property(&self, css: &str, name: &str) -> serde_json::Value {
        self.find(css).await.property(name).await.unwrap()
    }

    async fn sign_in(&mut self, key: &str) {
        self.visit("/ui/sign-in").await;
        self.fill("#key", key).await;
        self.click("#sign-in").await;
        self.find("#sign-out").await;
    }

    /// Ends the browser session; dropping then stops chromedriver.
    async fn stop(self) {
        let _ = self.client.close().await;
    }
}

/// Also when a test fails half-way.
impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marketer_sets_up_verifies_tests_and_debugs_a_webhook_in_the_browser() {
    let service = Service::start_with(|c| c.webhooks.require_verification = true).await;
    let Some(mut browser) = Browser::start(&service.url, "setup").await else {
        return;
    };
    let receiver = Receiver::answering(|_| Reply::With {
        status: 200,
        headers: vec![("x-receiver", "kept".to_owned())],
        body: "thanks from the receiver".into(),
    })
    .await;
    let key = service.account("Acme").await;
    service
        .database(
            &key,
            json!({"name": "customers", "fields": [{"name": "name", "type": "text"}, {"name": "age", "type": "integer"}]}),
        )
        .await;

    // A wrong key says so and nothing else.
    browser.visit("/ui/sign-in").await;
    browser.fill("#key", "pb_key_01HXXXXXXXXXXXXXXXXXXXXXXX_wrong").await;
    browser.click("#sign-in").await;
    assert_eq!(
        browser.text_of("#sign-in-error", "not valid").await,
        "That key is not valid"
    );
    browser.shot("sign-in-refused").await;
    browser.sign_in(&key).await;
    browser.shot("webhooks-empty").await;

    // Create a webhook through the form, with a description that is markup.
    browser.click("#new-webhook").await;
    browser.fill("#url", &receiver.url).await;
    browser.fill("#description", "<script>alert(1)</script>").await;
    // "all" stands alone: a webhook for one custom type unticks it.
    browser.click("input[name=events][value=all]").await;
    browser.fill("#custom_events", "order.paid").await;
    browser.shot("webhook-form").await;
    browser.click("#save").await;
    browser.find("#verify").await;
    let webhook_url = browser.client.current_url().await.unwrap();
    let webhook_id = webhook_url.path().rsplit('/').next().unwrap().to_owned();
    assert!(webhook_id.starts_with("wh_"), "{webhook_url}");
    // Shown as text, never run (an alert would fail every later WebDriver command).
    assert_eq!(
        browser.text_of("#description", "alert").await,
        "<script>alert(1)</script>"
    );
    assert!(
        browser
            .client
            .source()
            .await
            .unwrap()
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;")
    );
    assert!(
        browser
            .text_of("#status", "pending")
            .await
            .contains("pending verification")
    );

    // Download the ownership file, place it where the receiver serves it, and verify.
    let file_name = browser.text_of("#file-name", "postbode-").await;
    browser.click("#download-file").await;
    let downloaded = browser.downloads.path().join(&file_name);
    let content = eventually("the verification file to download", || async {
        std::fs::read_to_string(&downloaded).ok().filter(|c| !c.is_empty())
    })
    .await;
    assert_eq!(content, browser.text_of("#file-content", "").await);
    receiver.serve_file(&format!("/hooks/{file_name}"), Reply::body(content));
    browser.click("#verify").await;
    let outcome = browser.text_of("#verify-outcome", "Verified.").await;
    assert!(outcome.contains(&format!("/hooks/{file_name}: found")), "{outcome}");
    browser.shot("verified").await;
    browser.click("#show-secret").await;
    let shown = browser.text_of("#secret-value", "whsec_").await;
    let (_, api) = service
        .call("GET", &format!("/v1/webhooks/{webhook_id}/secret"), &key, None)
        .await;
    assert_eq!(
        shown,
        api["secret"].as_str().unwrap(),
        "the page shows the secret that signs"
    );

    // Send a test with post data of our own and read the receiver's answer on the page.
    browser.visit(&format!("/ui/webhooks/{webhook_id}/test")).await;
    browser.fill("#type", "order.paid").await;
    browser.fill("#key_1", "order").await;
    browser.fill("#value_1", "42").await;
    browser.click("#send-test").await;
    assert!(browser.text_of("#test-status", "HTTP 200").await.contains("ms"));
    browser.text_of("#response-body", "thanks from the receiver").await;
    browser.text_of("#response-headers", "x-receiver: kept").await;
    let sent = browser.text_of("#request-sent", "webhook-signature").await;
    assert!(sent.contains(r#""order":"42""#), "{sent}");
    let call = receiver.wait_for(1).await.remove(0);
    assert_eq!(call.json()["data"], json!({"order": "42"}));
    for name in call.headers.keys() {
        let line = format!("\n{}: ", name.as_str());
        assert!(sent.to_ascii_lowercase().contains(&line), "{name} on the page: {sent}");
    }
    assert!(
        sent.contains(call.header("webhook-signature")),
        "the page shows the signature that was sent"
    );
    browser.shot("test-answer").await;

    // A real event: find its delivery in the log, open it and resend it.
    let event_id = service
        .send_event(&key, json!({"type": "order.paid", "data": {"order": 7}}))
        .await;
    let delivery = service
        .delivery_when(&key, &event_id, |d| d["status"] == "delivered")
        .await;
    let delivery_id = delivery["id"].as_str().unwrap().to_owned();
    browser.visit(&format!("/ui/webhooks/{webhook_id}/log")).await;
    browser.click(&format!("a[href='/ui/deliveries/{delivery_id}']")).await;
    browser.text_of("#attempts", "HTTP 200").await;
    browser.text_of("#event-body", r#""order": 7"#).await;
    browser.click("#resend").await;
    browser.text_of("#resent", "Sent again").await;
    let calls = receiver.wait_for(3).await;
    let again: Vec<_> = calls
        .iter()
        .filter(|c| c.header("x-postbode-delivery") == delivery_id)
        .collect();
    assert_eq!(again.len(), 2, "the resend reuses the delivery id");
    browser.visit(&format!("/ui/deliveries/{delivery_id}")).await;
    eventually("the resend's attempt on the page", || async {
        browser.client.refresh().await.ok()?;
        let text = browser
            .client
            .find(Locator::Css("#attempts"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.contains("resend").then_some(())
    })
    .await;
    browser.shot("delivery").await;
    browser.visit(&format!("/ui/webhooks/{webhook_id}/log")).await;
    browser.find("#deliveries").await;
    browser.shot("log").await;

    // The list shows the webhook's state and its last delivery.
    browser.visit("/ui/webhooks").await;
    browser.text_of("#webhooks", "verified").await;
    browser.text_of("#webhooks", "HTTP 200").await;
    browser.text_of("#webhooks", "<script>alert(1)</script>").await;
    browser.shot("webhooks").await;

    // The chart, drawn on the server.
    browser.visit(&format!("/ui/webhooks/{webhook_id}/stats")).await;
    browser.find("#chart-counts svg.chart rect.ok").await;
    browser
        .find("#chart-latency svg.chart polyline.p50, #chart-latency svg.chart circle.p50")
        .await;
    browser.shot("stats").await;

    // The condition editor writes CEL from the database's fields; a bad expression
    // shows where it breaks.
    browser.visit(&format!("/ui/webhooks/{webhook_id}/edit")).await;
    browser
        .find("#scope")
        .await
        .select_by_label("Database customers")
        .await
        .unwrap();
    browser.click("#build-condition").await;
    browser.find("#row_field_1 option[value='name']").await;
    browser
        .find("#row_field_1")
        .await
        .select_by_value("name")
        .await
        .unwrap();
    browser
        .find("#row_comparison_1")
        .await
        .select_by_value("eq")
        .await
        .unwrap();
    browser.fill("#row_value_1", "Piet's").await;
    browser.click("#build-condition").await;
    eventually("the built condition", || async {
        let value = browser
            .client
            .find(Locator::Css("#condition"))
            .await
            .ok()?
            .property("value")
            .await
            .ok()?;
        (value == r"fields.name == 'Piet\'s'").then_some(())
    })
    .await;
    browser.fill("#condition", "fields.name == ").await;
    browser.click("#save").await;
    let error = browser.text_of("#condition-error", "at character").await;
    assert!(
        error.starts_with("at character 15:"),
        "the end of `fields.name ==`: {error}"
    );
    browser.shot("bad-condition").await;

    // Sign out: the pages ask for a key again.
    browser.click("#sign-out").await;
    browser.find("#key").await;
    browser.visit("/ui/webhooks").await;
    browser.find("#key").await;

    // The operator's pages.
    browser.sign_in(ADMIN).await;
    browser.text_of("#accounts", "Acme").await;
    browser.shot("operator-accounts").await;
    browser
        .client
        .find(Locator::LinkText("Acme"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.click("#create-key").await;
    let new_key = browser.text_of("#new-api-key", "pb_").await;
    assert_eq!(service.call("GET", "/v1/webhooks", &new_key, None).await.0, 200);
    browser.text_of("#api-keys", "key_").await;
    browser.shot("operator-account").await;
    browser.visit("/ui/operator/signing-keys").await;
    browser.text_of("main", "_domainkey").await;
    browser.text_of("main", "v=DKIM1").await;
    browser.shot("signing-keys").await;
    browser.click("#sign-out").await;
    browser.find("#key").await;

    browser.stop().await;
}

/// Batching and ordering are set through the form; out of range, the refusal stands
/// beside the input and nothing is saved; an edit turns them off again. The webhook's
/// page shows what the engine does for it: the limit it backed off to, the pause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batching_and_ordering_are_set_in_the_form_and_the_page_shows_the_engine() {
    let service = Service::start().await;
    let Some(mut browser) = Browser::start(&service.url, "engine").await else {
        return;
    };
    // Down for maintenance: the engine halves its limit and pauses the webhook.
    let receiver = Receiver::answering(|_| Reply::With {
        status: 503,
        headers: vec![("retry-after", "30".into())],
        body: "maintenance".into(),
    })
    .await;
    let key = service.account("Acme").await;
    browser.sign_in(&key).await;

    // Out of range and in the wrong format: each refusal beside what it refuses.
    browser.visit("/ui/webhooks/new").await;
    browser.fill("#url", &receiver.url).await;
    browser.select("#format", "xml").await;
    browser.click("#batch").await;
    browser.fill("#batch_max_events", "1000").await;
    browser.fill("#batch_max_wait_ms", "100").await;
    browser.select("#ordering", "profile").await;
    browser.click("#save").await;
    browser
        .text_of("#batch_max_events + #batch-max-events-error", "between 1 and 250")
        .await;
    browser.text_of("#batching #batch-error", "json").await;
    let wait_errors = browser
        .client
        .find_all(Locator::Css("#batch-max-wait-ms-error, #ordering-error"))
        .await
        .unwrap();
    assert!(wait_errors.is_empty(), "only the refused fields are marked");
    assert_eq!(
        browser.property("#batch_max_events", "value").await,
        "1000",
        "kept as typed"
    );
    assert_eq!(browser.property("#batch", "checked").await, true);
    assert_eq!(browser.property("#ordering", "value").await, "profile");
    // Clicking the text below the fields scrolls them into the screenshot.
    browser.click("#ordering-hint").await;
    browser.shot("batch-refused").await;
    assert_eq!(
        service.call("GET", "/v1/webhooks", &key, None).await.1["data"],
        json!([]),
        "nothing saved"
    );

    browser.select("#format", "json").await;
    browser.fill("#batch_max_events", "50").await;
    browser.click("#save").await;
    browser.find("#health").await;
    let page_url = browser.client.current_url().await.unwrap();
    let id = page_url.path().rsplit('/').next().unwrap().to_owned();
    assert!(id.starts_with("wh_"), "{page_url}");
    let (status, saved) = service.call("GET", &format!("/v1/webhooks/{id}"), &key, None).await;
    assert_eq!(status, 200);
    assert_eq!(saved["batch"], json!({"max_events": 50, "max_wait_ms": 100}));
    assert_eq!(saved["ordering"], "profile");
    browser.text_of("#health-batching", "up to 50 events per call").await;
    browser.text_of("#health-ordering", "per profile").await;
    browser.text_of("#health-limit", "idle on this node").await;

    // One event: its call meets the 503, and the page shows what the API shows.
    service.send_event(&key, json!({"type": "order.paid"})).await;
    let health = eventually("the engine to back off", || async {
        let (_, webhook) = service.call("GET", &format!("/v1/webhooks/{id}"), &key, None).await;
        let health = webhook["health"].clone();
        (!health["engine"]["last_backoff"].is_null() && !health["paused_until"].is_null()).then_some(health)
    })
    .await;
    let engine = &health["engine"];
    assert!(
        engine["limit"].as_u64().unwrap() < 64,
        "backed off below the ceiling: {health}"
    );
    browser.visit(&format!("/ui/webhooks/{id}")).await;
    browser
        .text_of(
            "#health-limit",
            &format!("{} of at most 64 calls at once", engine["limit"]),
        )
        .await;
    browser.text_of("#health-backoff", "503").await;
    browser.text_of("#health-breaker", "paused until").await;
    browser.shot("health").await;

    // The form shows the saved values, and turns both off again.
    browser.click("#open-edit").await;
    assert_eq!(browser.property("#batch", "checked").await, true);
    assert_eq!(browser.property("#batch_max_events", "value").await, "50");
    assert_eq!(browser.property("#batch_max_wait_ms", "value").await, "100");
    assert_eq!(browser.property("#ordering", "value").await, "profile");
    browser.click("#ordering-hint").await;
    browser.shot("batch-edit").await;
    browser.click("#batch").await;
    browser.select("#ordering", "none").await;
    browser.click("#save").await;
    browser.text_of("#health-batching", "off").await;
    let (_, saved) = service.call("GET", &format!("/v1/webhooks/{id}"), &key, None).await;
    assert_eq!(saved["batch"], json!(null), "{saved}");
    assert_eq!(saved["ordering"], json!(null), "{saved}");
    assert_eq!(receiver.count(), 1, "paused: nothing more went out");

    browser.stop().await;
}

/// A signed-in session over plain HTTP, for the rules a browser does not show.
struct Session {
    cookie: String,
    csrf: String,
}

fn cookie_pair(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn hidden_csrf(html: &str) -> String {
    let start = html.find(r#"name="csrf" value=""#).expect("a form with a CSRF token") + 19;
    html[start..].split('"').next().unwrap().to_owned()
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in with `key`; returns the session and the `Set-Cookie` line of its cookie.
async fn sign_in(base: &str, key: &str) -> (Session, String) {
    let http = no_redirects();
    let page = http.get(format!("{base}/ui/sign-in")).send().await.unwrap();
    let nonce = cookie_pair(&page, "pb_sign_in").unwrap();
    let nonce = nonce.split(';').next().unwrap().to_owned();
    let csrf = hidden_csrf(&page.text().await.unwrap());
    let answer = http
        .post(format!("{base}/ui/sign-in"))
        .header("cookie", nonce)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", csrf.as_str()), ("key", key)]))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303, "signed in");
    let set_cookie = cookie_pair(&answer, "pb_session").expect("a session cookie");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let home = http
        .get(format!("{base}/ui/webhooks"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let csrf = hidden_csrf(&home.text().await.unwrap());
    (Session { cookie, csrf }, set_cookie)
}

#[tokio::test]
async fn sessions_are_bound_to_their_key_and_forms_to_their_session() {
    let service = Service::start().await;
    let base = service.url.clone();
    let http = no_redirects();
    let key = service.account("Acme").await;
    let other = service.account("Other").await;
    let others_webhook = service
        .webhook(&other, json!({"url": "https://example.com/hook"}))
        .await;
    let (session, set_cookie) = sign_in(&base, &key).await;
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(set_cookie.contains(flag), "{flag} in {set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "served over plain http: {set_cookie}");

    // Every page carries a CSP that allows no inline script.
    let page = http
        .get(format!("{base}/ui/webhooks"))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    let htmx = html
        .split('"')
        .find(|part| part.starts_with("/ui/assets/htmx.min.js?v="))
        .expect("htmx comes from this server");
    let asset = http.get(format!("{base}{htmx}")).send().await.unwrap();
    assert_eq!(asset.status(), 200);
    assert_eq!(asset.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert!(
        asset.text().await.unwrap().starts_with("/*! htmx 2."),
        "with its licence header"
    );
    let missing = http.get(format!("{base}/ui/no-such-page")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-security-policy"], csp.as_str());

    // Another account's webhook does not exist here.
    let id = others_webhook["id"].as_str().unwrap();
    let foreign = http
        .get(format!("{base}/ui/webhooks/{id}"))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404);

    // A form without the session's token changes nothing.
    let post = |csrf: String| {
        http.post(format!("{base}/ui/webhooks/new"))
            .header("cookie", &session.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf", csrf.as_str()),
                ("url", "https://example.com/x"),
                ("events", "all"),
                ("format", "json"),
                ("signatures", "standard-webhooks"),
                ("max_concurrency", "8"),
            ]))
            .send()
    };
    assert_eq!(post("forged".into()).await.unwrap().status(), 403);
    assert_eq!(
        service.call("GET", "/v1/webhooks", &key, None).await.1["data"],
        json!([])
    );
    assert_eq!(post(session.csrf.clone()).await.unwrap().status(), 303);
    let (_, listed) = service.call("GET", "/v1/webhooks", &key, None).await;
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        1,
        "made through the same rules: {listed}"
    );

    // A tampered cookie is no session.
    let tampered = session.cookie.replacen("=a.", "=o.", 1);
    assert_ne!(tampered, session.cookie);
    let answer = http
        .get(format!("{base}/ui/operator"))
        .header("cookie", &tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["location"], "/ui/sign-in");

    // Revoking the key ends the session at once.
    let (_, accounts) = service.call("GET", "/v1/accounts", ADMIN, None).await;
    let account_id = accounts["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "Acme")
        .and_then(|a| a["id"].as_str())
        .unwrap()
        .to_owned();
    let key_id = key.trim_start_matches("pb_").rsplit_once('_').unwrap().0;
    let (status, _) = service
        .call(
            "DELETE",
            &format!("/v1/accounts/{account_id}/keys/{key_id}"),
            ADMIN,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let after = http
        .get(format!("{base}/ui/webhooks"))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 303);
    assert_eq!(after.headers()["location"], "/ui/sign-in");
}

#[tokio::test]
async fn cookies_are_secure_behind_an_https_public_url() {
    let service = Service::start_with(|c| c.public_url = Some("https://postbode.example.com".into())).await;
    let key = service.account("Acme").await;
    let (_, set_cookie) = sign_in(&service.url, &key).await;
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
}

async fn page(service: &Service, session: &Session, path: &str) -> (u16, String) {
    let answer = no_redirects()
        .get(format!("{}{path}", service.url))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

#[tokio::test]
async fn account_statistics_add_up_every_webhook_and_profile_edits_fire_as_dashboard() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Acme").await;
    let db = service
        .database(
            &key,
            json!({"name": "customers", "fields": [{"name": "name", "type": "text"}]}),
        )
        .await;
    let profile = service.profile(&key, &db, json!({"name": "jan"})).await;
    let first = service
        .webhook(&key, json!({"url": receiver.url, "events": ["order.paid"]}))
        .await;
    service
        .webhook(&key, json!({"url": receiver.url, "events": ["order.paid", "update"]}))
        .await;
    let event = service
        .send_event(&key, json!({"type": "order.paid", "data": {}}))
        .await;
    eventually("both deliveries", || async {
        let event = service.event(&key, &event).await;
        let deliveries = event["deliveries"].as_array().unwrap().clone();
        deliveries.iter().all(|d| d["status"] == "delivered").then_some(())
    })
    .await;
    let (session, _) = sign_in(&service.url, &key).await;

    let (status, account) = page(&service, &session, "/ui/stats").await;
    assert_eq!(status, 200);
    assert!(
        account.contains(" 2 delivered</title>"),
        "both webhooks in one bar: {account}"
    );
    assert!(
        account.contains(r#"<circle class="p50""#),
        "the merged latency has a p50 point"
    );
    let id = first["id"].as_str().unwrap();
    let (_, one) = page(&service, &session, &format!("/ui/webhooks/{id}/stats")).await;
    assert!(one.contains(" 1 delivered</title>"), "{one}");

    // A profile edit from the dashboard goes out with source "dashboard".
    let before = receiver.count();
    let answer = no_redirects()
        .post(format!("{}/ui/profiles/{profile}", service.url))
        .header("cookie", &session.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", session.csrf.as_str()), ("field.name", "piet")]))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303);
    let update = receiver.wait_for(before + 1).await.pop().unwrap().json();
    assert_eq!(update["source"], "dashboard", "{update}");
    assert_eq!(update["fields"]["name"], "piet");
}
