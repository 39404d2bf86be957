//! The dashboard in a real browser: Debian's headless Chromium driven over WebDriver
//! (chromedriver on 127.0.0.1), against the real service and a real receiver. It signs
//! in, creates and verifies a webhook through the pages, tests it, reads and resends a
//! delivery, sees the charts, the escaped description and a refused condition, visits
//! the operator's pages and signs out. Each page is saved as a screenshot into the
//! folder the test prints.
//!
//! Without `chromium` and `chromedriver` it skips, except under `CI=true`, where a
//! missing browser fails.

mod common;

use common::{ADMIN, Receiver, Reply, Service, eventually};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver and a browser session with a fresh profile, saving screenshots.
struct Browser {
    client: Client,
    driver: Child,
    downloads: tempfile::TempDir,
    _profile: tempfile::TempDir,
    shots: PathBuf,
    taken: usize,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    /// `None` (after saying why) when Chromium is not installed and this is not CI.
    async fn start() -> Option<Self> {
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
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.path().display().to_string(),
                    "download.prompt_for_download": false,
                },
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session");
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).unwrap();
        println!("dashboard screenshots: {}", shots.display());
        Some(Self {
            client,
            driver,
            downloads,
            _profile: profile,
            shots,
            taken: 0,
        })
    }

    async fn shot(&mut self, name: &str) {
        self.taken += 1;
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{:02}-{name}.png", self.taken)), png).unwrap();
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client.wait().for_element(Locator::Css(css)).await.unwrap()
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

    async fn sign_in(&mut self, base: &str, key: &str) {
        self.client.goto(&format!("{base}/ui/sign-in")).await.unwrap();
        self.fill("#key", key).await;
        self.click("#sign-in").await;
        self.find("#sign-out").await;
    }

    async fn stop(self) {
        let _ = self.client.close().await;
        let mut driver = self.driver;
        let _ = driver.kill();
        let _ = driver.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marketer_sets_up_verifies_tests_and_debugs_a_webhook_in_the_browser() {
    let Some(mut browser) = Browser::start().await else {
        return;
    };
    let service = Service::start_with(|c| c.webhooks.require_verification = true).await;
    let base = service.url.clone();
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
    browser.client.goto(&format!("{base}/ui/sign-in")).await.unwrap();
    browser.fill("#key", "pb_key_01HXXXXXXXXXXXXXXXXXXXXXXX_wrong").await;
    browser.click("#sign-in").await;
    assert_eq!(browser.text_of("#sign-in-error", "not valid").await, "That key is not valid");
    browser.shot("sign-in-refused").await;
    browser.sign_in(&base, &key).await;
    browser.shot("webhooks-empty").await;

    // Create a webhook through the form, with a description that is markup.
    browser.click("#new-webhook").await;
    browser.fill("#url", &receiver.url).await;
    browser.fill("#description", "<script>alert(1)</script>").await;
    browser.fill("#custom_events", "order.paid").await;
    browser.shot("webhook-form").await;
    browser.click("#save").await;
    browser.find("#verify").await;
    let webhook_url = browser.client.current_url().await.unwrap();
    let webhook_id = webhook_url.path().rsplit('/').next().unwrap().to_owned();
    assert!(webhook_id.starts_with("wh_"), "{webhook_url}");
    // Shown as text, never run (an alert would fail every later WebDriver command).
    assert_eq!(browser.text_of("#description", "alert").await, "<script>alert(1)</script>");
    assert!(browser.client.source().await.unwrap().contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(browser.text_of("#status", "pending").await.contains("pending verification"));

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

    // Send a test with post data of our own and read the receiver's answer on the page.
    browser.client.goto(&format!("{base}/ui/webhooks/{webhook_id}/test")).await.unwrap();
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
    assert!(sent.contains(call.header("webhook-signature")), "the page shows the signature that was sent");
    browser.shot("test-answer").await;

    // A real event: find its delivery in the log, open it and resend it.
    let event_id = service
        .send_event(&key, json!({"type": "order.paid", "data": {"order": 7}}))
        .await;
    let delivery = service
        .delivery_when(&key, &event_id, |d| d["status"] == "delivered")
        .await;
    let delivery_id = delivery["id"].as_str().unwrap().to_owned();
    browser.client.goto(&format!("{base}/ui/webhooks/{webhook_id}/log")).await.unwrap();
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
    browser.client.goto(&format!("{base}/ui/deliveries/{delivery_id}")).await.unwrap();
    eventually("the resend's attempt on the page", || async {
        browser.client.refresh().await.ok()?;
        let text = browser.client.find(Locator::Css("#attempts")).await.ok()?.text().await.ok()?;
        text.contains("resend").then_some(())
    })
    .await;
    browser.shot("delivery").await;
    browser.client.goto(&format!("{base}/ui/webhooks/{webhook_id}/log")).await.unwrap();
    browser.find("#deliveries").await;
    browser.shot("log").await;

    // The list shows the webhook's state and its last delivery.
    browser.client.goto(&format!("{base}/ui/webhooks")).await.unwrap();
    browser.text_of("#webhooks", "verified").await;
    browser.text_of("#webhooks", "HTTP 200").await;
    browser.text_of("#webhooks", "<script>alert(1)</script>").await;
    browser.shot("webhooks").await;

    // The chart, drawn on the server.
    browser.client.goto(&format!("{base}/ui/webhooks/{webhook_id}/stats")).await.unwrap();
    browser.find("#chart-counts svg.chart rect.ok").await;
    browser.find("#chart-latency svg.chart polyline.p50, #chart-latency svg.chart circle.p50").await;
    browser.shot("stats").await;

    // The condition editor writes CEL from the database's fields; a bad expression
    // shows where it breaks.
    browser.client.goto(&format!("{base}/ui/webhooks/{webhook_id}/edit")).await.unwrap();
    browser.find("#scope").await.select_by_label("Database customers").await.unwrap();
    browser.click("#build-condition").await;
    browser.find("#row_field_1 option[value='name']").await;
    browser.find("#row_field_1").await.select_by_value("name").await.unwrap();
    browser.find("#row_comparison_1").await.select_by_value("eq").await.unwrap();
    browser.fill("#row_value_1", "Piet's").await;
    browser.click("#build-condition").await;
    eventually("the built condition", || async {
        let value = browser.client.find(Locator::Css("#condition")).await.ok()?.prop("value").await.ok()??;
        (value == r"fields.name == 'Piet\'s'").then_some(())
    })
    .await;
    browser.fill("#condition", "fields.name == ").await;
    browser.click("#save").await;
    let error = browser.text_of("#condition-error", "at character").await;
    assert!(error.starts_with("at character 15:"), "the end of `fields.name ==`: {error}");
    browser.shot("bad-condition").await;

    // Sign out: the pages ask for a key again.
    browser.click("#sign-out").await;
    browser.find("#key").await;
    browser.client.goto(&format!("{base}/ui/webhooks")).await.unwrap();
    browser.find("#key").await;

    // The operator's pages.
    browser.sign_in(&base, ADMIN).await;
    browser.text_of("#accounts", "Acme").await;
    browser.shot("operator-accounts").await;
    browser.client.find(Locator::LinkText("Acme")).await.unwrap().click().await.unwrap();
    browser.click("#create-key").await;
    let new_key = browser.text_of("#new-api-key", "pb_").await;
    assert_eq!(service.call("GET", "/v1/webhooks", &new_key, None).await.0, 200);
    browser.text_of("#api-keys", "key_").await;
    browser.shot("operator-account").await;
    browser.client.goto(&format!("{base}/ui/operator/signing-keys")).await.unwrap();
    browser.text_of("main", "_domainkey").await;
    browser.text_of("main", "v=DKIM1").await;
    browser.shot("signing-keys").await;
    browser.click("#sign-out").await;
    browser.find("#key").await;

    browser.stop().await;
}
