//! The delivery log people work in: what each row says, search by id or idempotency
//! key, filters combined with their total, live refresh that keeps filter and scroll;
//! times in the browser's zone, copy buttons, "copy as curl" run for real, the Health
//! card refreshing itself, and a signature snippet per scheme.

use crate::browser::{Browser, PHONE, WIDE};
use crate::checks::checks;
use crate::common::{Receiver, Reply, Service, eventually, verify_standard_webhooks};
use serde_json::{Value, json};

struct Context {
    browser: Browser,
    service: Service,
    key: String,
    /// Answers 200 to bodies with `"ok"`, 500 to the others (retried in 5 s, which the
    /// test clock never reaches).
    receiver: Receiver,
    webhook: String,
    /// Answers 503 with Retry-After: its circuit holds the calls.
    held: String,
}

impl Context {
    /// The rows' texts, read at once (the list may be swapped by its refresh meanwhile).
    async fn rows(&self) -> Vec<String> {
        let texts = self
            .browser
            .script("return [...document.querySelectorAll('#deliveries tbody tr')].map(r => r.innerText)")
            .await;
        serde_json::from_value(texts).unwrap()
    }

    async fn rows_become(&self, count: usize) -> Vec<String> {
        eventually(&format!("{count} rows in the log"), || async {
            let rows = self.rows().await;
            (rows.len() == count).then_some(rows)
        })
        .await
    }

    async fn event(&self, event: Value) -> String {
        self.service.send_event(&self.key, event).await
    }

    async fn delivery_of(&self, event: &str) -> Value {
        self.service
            .delivery_when(&self.key, event, |d| d["attempts"] != 0)
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_log_finds_filters_counts_and_refreshes_itself() {
    let service = Service::start().await;
    let Some(browser) = Browser::start(&service.url, "log").await else {
        return;
    };
    let key = service.account("Acme").await;
    let receiver = Receiver::answering_calls(|_, call| {
        if String::from_utf8_lossy(&call.body).contains("\"ok\"") {
            Reply::Status(200)
        } else {
            Reply::Status(500)
        }
    })
    .await;
    let webhook = service
        .webhook(
            &key,
            json!({"url": receiver.url, "events": ["order.paid", "order.refunded"],
                   "signatures": ["standard-webhooks", "http-signature"]}),
        )
        .await;
    let down = Receiver::answering(|_| Reply::With {
        status: 503,
        headers: vec![("retry-after", "600".into())],
        body: "maintenance".into(),
    })
    .await;
    let held = service
        .webhook(&key, json!({"url": down.url, "events": ["order.held"]}))
        .await;
    browser.sign_in(&key).await;
    let mut context = Context {
        browser,
        service,
        key,
        receiver,
        webhook: webhook["id"].as_str().unwrap().to_owned(),
        held: held["id"].as_str().unwrap().to_owned(),
    };
    checks!(
        context,
        each_row_says_what_happened_and_what_comes_next,
        search_finds_a_delivery_by_its_ids_its_idempotency_key_and_words,
        filters_combine_and_are_counted,
        the_log_refreshes_itself_keeping_filter_and_scroll,
        times_are_in_the_browsers_zone_with_utc_on_hover,
        copy_buttons_copy_ids,
        copy_as_curl_repeats_the_call_with_a_valid_signature,
        the_webhook_page_shows_a_snippet_per_scheme_and_a_live_health_card,
    );
    context.browser.stop().await;
}

async fn each_row_says_what_happened_and_what_comes_next(c: &mut Context) {
    let failing = c.event(json!({"type": "order.paid", "data": {"state": "bad"}})).await;
    c.delivery_of(&failing).await;
    c.browser.visit(&format!("/ui/webhooks/{}/log", c.webhook)).await;
    let row = c.browser.text_of("#deliveries tbody tr", &failing).await;
    for part in ["order.paid", "pending", "HTTP 500", "next attempt"] {
        assert!(row.contains(part), "{part} in {row}");
    }

    let paused = c.event(json!({"type": "order.held"})).await;
    c.delivery_of(&paused).await;
    eventually("the circuit to open", || async {
        let (_, webhook) = c
            .service
            .call("GET", &format!("/v1/webhooks/{}", c.held), &c.key, None)
            .await;
        (!webhook["health"]["paused_until"].is_null()).then_some(())
    })
    .await;
    c.browser.visit(&format!("/ui/webhooks/{}/log", c.held)).await;
    let row = c.browser.text_of("#deliveries tbody tr", &paused).await;
    for part in ["order.held", "HTTP 503", "held by the circuit"] {
        assert!(row.contains(part), "{part} in {row}");
    }
}

async fn search_finds_a_delivery_by_its_ids_its_idempotency_key_and_words(c: &mut Context) {
    let event = c
        .event(json!({"type": "order.paid", "data": {"state": "ok"}, "idempotency_key": "order-4711"}))
        .await;
    let delivery = c.delivery_of(&event).await;
    let delivery_id = delivery["id"].as_str().unwrap().to_owned();
    for other in 0..3 {
        c.event(json!({"type": "order.paid", "data": {"state": "ok", "n": other}}))
            .await;
    }
    let log = format!("/ui/webhooks/{}/log", c.webhook);
    for term in [delivery_id.as_str(), event.as_str(), "order-4711"] {
        c.browser.visit(&log).await;
        c.browser.fill("#q", term).await;
        c.browser.click("#apply-filter").await;
        let rows = c.rows_become(1).await;
        assert!(rows[0].contains(&delivery_id), "{term}: {rows:?}");
        c.browser.text_of("#total", "1 delivery").await;
    }
    c.browser.visit(&format!("{log}?q=nothing-like-it")).await;
    c.browser.text_of("#no-deliveries", "No deliveries match").await;

    // The words of the payload, whatever their case.
    let named = c
        .event(json!({"type": "order.paid", "data": {"customer": "Marieke de Vries", "state": "ok"}}))
        .await;
    let named_delivery = c.delivery_of(&named).await["id"].as_str().unwrap().to_owned();
    c.browser.visit(&log).await;
    c.browser.fill("#q", "vries MARIEKE").await;
    c.browser.click("#apply-filter").await;
    let rows = c.rows_become(1).await;
    assert!(rows[0].contains(&named_delivery), "{rows:?}");
    c.browser.text_of("#total", "1 delivery").await;
}

async fn filters_combine_and_are_counted(c: &mut Context) {
    for data in ["bad", "bad", "ok"] {
        c.event(json!({"type": "order.refunded", "data": {"state": data}}))
            .await;
    }
    let pending_refunds = eventually("two pending refunds", || async {
        let pending = c
            .service
            .deliveries(&c.key, &c.webhook, "status=pending&event_type=order.refunded")
            .await;
        (pending.len() == 2 && pending.iter().all(|d| d["attempts"] == 1)).then_some(pending)
    })
    .await;
    c.browser.visit(&format!("/ui/webhooks/{}/log", c.webhook)).await;
    c.browser.select("#status", "pending").await;
    c.browser.fill("#event_type", "order.refunded").await;
    c.browser.click("#apply-filter").await;
    let rows = c.rows_become(2).await;
    for delivery in &pending_refunds {
        let id = delivery["id"].as_str().unwrap();
        assert!(rows.iter().any(|r| r.contains(id)), "{id} in {rows:?}");
    }
    c.browser.text_of("#total", "2 deliveries").await;
    let query = c.browser.location().await;
    assert!(
        query.contains("status=pending") && query.contains("event_type=order.refunded"),
        "{query}"
    );
}

async fn the_log_refreshes_itself_keeping_filter_and_scroll(c: &mut Context) {
    c.browser.set_width(PHONE).await;
    let log = format!(
        "/ui/webhooks/{}/log?status=pending&event_type=order.refunded",
        c.webhook
    );
    c.browser.visit(&log).await;
    c.rows_become(2).await;
    c.browser.mark_page().await;
    let scrolled = c.browser.script("window.scrollTo(0, 300); return window.scrollY").await;
    assert!(scrolled.as_f64().unwrap() > 0.0, "the page is long enough to scroll");
    let event = c
        .event(json!({"type": "order.refunded", "data": {"state": "bad"}}))
        .await;
    c.delivery_of(&event).await;
    let rows = c.rows_become(3).await;
    assert!(rows[0].contains(&event), "the newest first: {rows:?}");
    assert!(c.browser.page_is_marked().await, "refreshed in place, not reloaded");
    assert_eq!(c.browser.script("return window.scrollY").await, scrolled);
    assert_eq!(c.browser.property("#status", "value").await, "pending");
    assert_eq!(c.browser.property("#event_type", "value").await, "order.refunded");
    c.browser.text_of("#total", "3 deliveries").await;
    c.browser.set_width(WIDE).await;
}

async fn times_are_in_the_browsers_zone_with_utc_on_hover(c: &mut Context) {
    c.browser.set_time_zone("Asia/Kathmandu").await;
    c.browser.visit(&format!("/ui/webhooks/{}/log", c.webhook)).await;
    let time = c.browser.find("#deliveries time").await;
    let utc = time.attribute("title").await.unwrap().unwrap_or_default();
    assert!(utc.ends_with("UTC"), "{utc}");
    let shown = eventually("the local time", || async {
        let text = time.text().await.ok()?;
        text.contains("GMT+5:45").then_some(text)
    })
    .await;
    let datetime = time.attribute("datetime").await.unwrap().unwrap();
    let at: chrono::DateTime<chrono::Utc> = datetime.parse().unwrap();
    let local = at + chrono::Duration::minutes(5 * 60 + 45);
    assert!(
        shown.contains(&local.format("%H:%M").to_string()),
        "{shown} is {datetime} in Kathmandu"
    );
    c.browser.set_time_zone("UTC").await;
}

async fn copy_buttons_copy_ids(c: &mut Context) {
    c.browser
        .client
        .cdp(
            "Browser.grantPermissions",
            json!({"permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]}),
        )
        .await
        .unwrap();
    c.browser.visit(&format!("/ui/webhooks/{}/log", c.webhook)).await;
    let button = c.browser.find("#deliveries tbody tr button.copy").await;
    let id = button.attribute("data-copy-text").await.unwrap().unwrap();
    assert!(id.starts_with("dlv_"), "{id}");
    button.click().await.unwrap();
    let copied = eventually("the clipboard to hold the id", || async {
        let text = c
            .browser
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 navigator.clipboard.readText().then(done, e => done('error: ' + e));",
                Vec::new(),
            )
            .await
            .ok()?;
        (text == json!(id)).then_some(text)
    })
    .await;
    assert_eq!(copied, json!(id));
}

async fn copy_as_curl_repeats_the_call_with_a_valid_signature(c: &mut Context) {
    let event = c
        .event(json!({"type": "order.paid", "data": {"state": "ok", "quote": "it's"}}))
        .await;
    let delivery = c.delivery_of(&event).await;
    let id = delivery["id"].as_str().unwrap();
    c.browser.visit(&format!("/ui/deliveries/{id}")).await;
    let curl = c.browser.text_of("#curl", "curl").await;
    let before = c.receiver.count();
    let ran = std::process::Command::new("bash")
        .args(["-c", &curl])
        .output()
        .expect("bash runs");
    assert!(ran.status.success(), "{curl}: {}", String::from_utf8_lossy(&ran.stderr));
    let call = c.receiver.wait_for(before + 1).await.pop().unwrap();
    assert_eq!(call.header("x-postbode-delivery"), id);
    assert_eq!(call.json()["data"]["quote"], "it's");
    let (_, secret) = c
        .service
        .call("GET", &format!("/v1/webhooks/{}/secret", c.webhook), &c.key, None)
        .await;
    if let Some(payload) = verify_standard_webhooks(secret["secret"].as_str().unwrap(), &call) {
        assert_eq!(payload["id"], event.as_str());
    }
}

async fn the_webhook_page_shows_a_snippet_per_scheme_and_a_live_health_card(c: &mut Context) {
    c.browser.visit(&format!("/ui/webhooks/{}", c.webhook)).await;
    c.browser
        .text_of("#snippet-standard-webhooks", "standardwebhooks")
        .await;
    c.browser.text_of("#snippet-http-signature", "postbode verify").await;
    assert!(!c.browser.has("#snippet-rfc9421").await, "only the schemes it uses");

    // The receiver goes down: the Health card shows the pause without a reload.
    c.browser.text_of("#health-breaker", "closed").await;
    c.browser.mark_page().await;
    c.receiver.set_answer(|_| Reply::With {
        status: 503,
        headers: vec![("retry-after", "600".into())],
        body: "down".into(),
    });
    c.event(json!({"type": "order.paid", "data": {"state": "ok"}})).await;
    c.browser.text_of("#health-breaker", "paused until").await;
    assert!(c.browser.page_is_marked().await, "refreshed in place");
}
