//! A new user's first hour: sign in, create and verify a webhook through the pages, test
//! it, read and resend a delivery, see the charts, the escaped description and a refused
//! condition, visit the operator's pages and sign out; batching and ordering set through
//! the form, and the engine's state in the Health card.

use crate::browser::Browser;
use crate::common::{ADMIN, Receiver, Reply, Service, eventually};
use crate::webdriver::Locator;
use serde_json::json;

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
    let outcome = browser.text_of("#flash", "Verified.").await;
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
    browser.text_of("#flash", "Sent again").await;
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
    // A named key for a sender's backend: it sends events and does nothing else.
    browser.fill("#key-name", "shop backend").await;
    browser.click("#scope-1").await;
    browser.click("#create-key").await;
    let sender_key = browser.text_of("#new-api-key", "pb_").await;
    let (status, refused) = service.call("GET", "/v1/webhooks", &sender_key, None).await;
    assert_eq!((status, refused["scope"].as_str()), (403, Some("webhooks:read")));
    let sent = json!({ "type": "order.paid", "data": {} });
    assert_eq!(service.call("POST", "/v1/events", &sender_key, Some(sent)).await.0, 202);
    browser.text_of("#api-keys", "shop backend").await;
    browser.text_of("#api-keys", "events:write").await;
    browser.shot("operator-account").await;
    browser.visit("/ui/operator/signing-keys").await;
    browser.text_of("main", "_domainkey").await;
    browser.text_of("main", "v=DKIM1").await;
    browser.shot("signing-keys").await;
    browser.click("#sign-out").await;
    browser.find("#key").await;
    // The sender's key does not open the dashboard, and says why.
    browser.fill("#key", &sender_key).await;
    browser.click("#sign-in").await;
    browser.text_of("#sign-in-error", "manage").await;

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
