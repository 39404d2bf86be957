//! Every defect found by trying the dashboard in a browser as a new user, each a check
//! of its own (named `defect_N_...`), run in one browser session against one service
//! (and a second one that requires verification, for the test tool's 409).

use crate::browser::Browser;
use crate::checks::checks;
use crate::common::{ADMIN, Receiver, Reply, Service, eventually};
use crate::webdriver::Locator;
use postbode_core::clock::Clock;
use serde_json::{Value, json};

struct Context {
    browser: Browser,
    service: Service,
    /// A service that requires verified URLs, so a test call can be refused.
    strict: Service,
    key: String,
    strict_key: String,
    receiver: Receiver,
    /// The "customers" database: name (text), age (integer), score (float), born
    /// (date), email (email).
    database: String,
}

impl Context {
    async fn as_account(&self) {
        self.browser.sign_in(&self.key).await;
    }

    async fn as_operator(&self) {
        self.browser.sign_in(ADMIN).await;
    }

    async fn webhook(&self, settings: Value) -> String {
        let webhook = self.service.webhook(&self.key, settings).await;
        webhook["id"].as_str().unwrap().to_owned()
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.service.call("GET", path, &self.key, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// The number of rows of the table `css` shows now.
    async fn rows(&self, css: &str) -> usize {
        self.browser
            .client
            .find_all(Locator::Css(&format!("{css} tbody tr")))
            .await
            .unwrap()
            .len()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defects_found_in_the_browser_stay_fixed() {
    // One attempt, then failed: "Recover" has failed deliveries to send again.
    let service = Service::start_with(|c| c.delivery.retry.schedule = Vec::new()).await;
    let Some(browser) = Browser::start(&service.url, "defects").await else {
        return;
    };
    let strict = Service::start_with(|c| c.webhooks.require_verification = true).await;
    let key = service.account("Acme").await;
    let strict_key = strict.account("Strict").await;
    let database = service
        .database(
            &key,
            json!({"name": "customers", "fields": [
                {"name": "name", "type": "text"}, {"name": "age", "type": "integer"},
                {"name": "score", "type": "float"}, {"name": "born", "type": "date"},
                {"name": "email", "type": "email"}]}),
        )
        .await;
    let mut context = Context {
        browser,
        service,
        strict,
        key,
        strict_key,
        receiver: Receiver::start().await,
        database,
    };
    checks!(
        context,
        defect_1_the_test_tool_shows_a_refusal_beside_its_input,
        defect_2_a_reload_or_a_double_click_acts_once,
        defect_3_fields_changed_is_in_the_form_and_can_be_cleared,
        defect_4_a_post_only_address_opened_as_a_page_leads_to_its_form,
        defect_5_every_refusal_shows_at_once_in_the_words_of_the_form,
        defect_6_fields_load_with_the_scope_and_build_asks_before_replacing,
        defect_7_the_signing_keys_page_shows_the_key_domain_warning,
        defect_8_a_filter_that_matches_nothing_says_so,
        defect_9_resend_says_when_a_held_delivery_goes,
        defect_10_the_test_tool_refuses_what_it_would_change,
        defect_11_destructive_actions_ask_first_and_report_after,
        defect_12_small_ones,
    );
    context.browser.stop().await;
}

/// A 409 (unverified URL) shows with a link to the Verify button, and a 422 beside the
/// input it refuses, with JavaScript on (htmx swaps refusals too).
async fn defect_1_the_test_tool_shows_a_refusal_beside_its_input(c: &mut Context) {
    let browser = &c.browser;
    let webhook = c.strict.webhook(&c.strict_key, json!({"url": c.receiver.url})).await;
    let id = webhook["id"].as_str().unwrap();
    browser.sign_in_at(&c.strict.url, &c.strict_key).await;
    browser
        .visit_at(&c.strict.url, &format!("/ui/webhooks/{id}/test"))
        .await;
    browser.mark_page().await;
    browser.click("#send-test").await;
    let refusal = browser.text_of("#test-refused", "Verify").await;
    assert!(!refusal.contains("/v1/"), "in the dashboard's words: {refusal}");
    assert!(browser.page_is_marked().await, "shown in place by htmx");
    browser
        .click(&format!("#test-refused a[href='/ui/webhooks/{id}#verification']"))
        .await;
    browser.find("#verify").await;

    c.as_account().await;
    let id = c.webhook(json!({"url": c.receiver.url})).await;
    browser.visit(&format!("/ui/webhooks/{id}/test")).await;
    browser.mark_page().await;
    browser.fill("#type", "not a type!").await;
    browser.click("#send-test").await;
    browser.text_of("#type-error", "").await;
    let beside = browser
        .script("return document.getElementById('type').nextElementSibling.id")
        .await;
    assert_eq!(beside, "type-error", "the error stands beside its input");
    browser.text_of("#test-refused", "not sent").await;
    assert!(browser.page_is_marked().await);
    assert_eq!(c.receiver.count(), 0, "nothing was sent");
}

/// Every form answers with a redirect to a page: reloading it repeats nothing, and a
/// double click acts once.
async fn defect_2_a_reload_or_a_double_click_acts_once(c: &mut Context) {
    let browser = &c.browser;
    c.as_account().await;
    let id = c.webhook(json!({"url": c.receiver.url})).await;

    // Rotating the secret, then reloading: the first secret's overlap is not ended.
    browser.visit(&format!("/ui/webhooks/{id}")).await;
    browser.click("#rotate-open").await;
    browser.click("#rotate-secret").await;
    let shown = browser.text_of("#secret-value", "whsec_").await;
    assert_eq!(browser.location().await, format!("/ui/webhooks/{id}"));
    let rotated = c.get(&format!("/v1/webhooks/{id}/secret")).await;
    assert_eq!(rotated["secret"], shown.as_str());
    browser.reload().await;
    browser.find("#status").await;
    assert_eq!(c.get(&format!("/v1/webhooks/{id}/secret")).await, rotated);

    // Check now, then reloading: one test call.
    browser.visit("/ui/webhooks").await;
    browser.click("#check-now").await;
    browser.text_of("#flash", "Checked").await;
    let calls = c.receiver.count();
    browser.reload().await;
    browser.find("#webhooks").await;
    assert_eq!(c.receiver.count(), calls, "the reload sent nothing");

    // Recover, then reloading: the failed delivery goes once more, not twice.
    let failing = Receiver::answering(|_| Reply::Status(500)).await;
    let failing_id = c.webhook(json!({"url": failing.url})).await;
    let since = (c.service.clock.now() - chrono::Duration::minutes(5)).format("%Y-%m-%dT%H:%M");
    let event = c.service.send_event(&c.key, json!({"type": "order.paid"})).await;
    let failed = |attempts: u64| {
        let (service, key, event, webhook) = (&c.service, &c.key, &event, &failing_id);
        async move {
            eventually("the delivery to fail", || async {
                let event = service.event(key, event).await;
                let delivery = event["deliveries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|d| d["webhook_id"] == webhook.as_str())
                    .cloned()?;
                (delivery["status"] == "failed" && delivery["attempts"] == attempts).then_some(())
            })
            .await
        }
    };
    failed(1).await;
    browser.visit(&format!("/ui/webhooks/{failing_id}/log")).await;
    browser.set_value("#recover_since", &since.to_string()).await;
    browser.click("#recover").await;
    browser.text_of("#flash", "1 failed delivery").await;
    failed(2).await;
    browser.reload().await;
    browser.find("#deliveries").await;
    let deliveries = c.service.deliveries(&c.key, &failing_id, "").await;
    assert_eq!(deliveries[0]["status"], "failed", "not made due again");
    assert_eq!(deliveries[0]["attempts"], 2);

    // A new account, then reloading: one account.
    c.as_operator().await;
    browser.visit("/ui/operator").await;
    browser.fill("#name", "Beta").await;
    browser.click("#create-account").await;
    browser.text_of("#new-api-key", "pb_").await;
    browser.reload().await;
    browser.find("#api-keys").await;
    let (_, accounts) = c.service.call("GET", "/v1/accounts", ADMIN, None).await;
    let betas: Vec<&Value> = accounts["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["name"] == "Beta")
        .collect();
    assert_eq!(betas.len(), 1, "{accounts}");

    // A new API key, reloaded, and another double-clicked: one key each.
    let account = betas[0]["id"].as_str().unwrap();
    browser.visit(&format!("/ui/operator/accounts/{account}")).await;
    browser.click("#create-key").await;
    browser.text_of("#new-api-key", "pb_").await;
    browser.reload().await;
    browser.find("#api-keys").await;
    assert_eq!(c.rows("#api-keys").await, 2, "the first key and one more");
    browser.find("#create-key").await.double_click().await.unwrap();
    browser.text_of("#new-api-key", "pb_").await;
    eventually("the page after the double click", || async {
        (browser.location().await == format!("/ui/operator/accounts/{account}")).then_some(())
    })
    .await;
    browser.reload().await;
    browser.find("#api-keys").await;
    assert_eq!(c.rows("#api-keys").await, 3, "a double click made one key");
}

/// `fields_changed` has inputs; a scope change that leaves it naming other fields says
/// so and offers to clear it.
async fn defect_3_fields_changed_is_in_the_form_and_can_be_cleared(c: &mut Context) {
    let browser = &c.browser;
    c.as_account().await;
    let id = c
        .webhook(
            json!({"url": c.receiver.url, "events": ["update"], "database_id": c.database,
                        "fields_changed": ["name"]}),
        )
        .await;
    browser.visit(&format!("/ui/webhooks/{id}/edit")).await;
    assert_eq!(
        browser
            .property("input[name=fields_changed][value=name]", "checked")
            .await,
        true
    );
    browser.select("#scope", "").await;
    browser.click("#save").await;
    browser.text_of("#fields-changed-error", "name").await;
    browser.click("#clear-fields-changed").await;
    eventually("fields_changed cleared in the form", || async {
        (!browser.has("#fields-changed-error").await).then_some(())
    })
    .await;
    browser.click("#save").await;
    browser.find("#status").await;
    let saved = c.get(&format!("/v1/webhooks/{id}")).await;
    assert_eq!(saved["fields_changed"], json!([]), "{saved}");
    assert_eq!(saved["database_id"], Value::Null);

    // Set and saved through the form too.
    browser.visit(&format!("/ui/webhooks/{id}/edit")).await;
    browser.select("#scope", &format!("db:{}", c.database)).await;
    browser.click("input[name=fields_changed][value=age]").await;
    browser.click("#save").await;
    browser.find("#status").await;
    let saved = c.get(&format!("/v1/webhooks/{id}")).await;
    assert_eq!(saved["fields_changed"], json!(["age"]), "{saved}");
}

/// A bookmark or a new tab on a form's address shows the page the form is on.
async fn defect_4_a_post_only_address_opened_as_a_page_leads_to_its_form(c: &mut Context) {
    let browser = &c.browser;
    c.as_account().await;
    let id = c.webhook(json!({"url": c.receiver.url})).await;
    for (path, lands) in [
        (format!("/ui/webhooks/{id}/secret"), format!("/ui/webhooks/{id}")),
        (format!("/ui/webhooks/{id}/recover"), format!("/ui/webhooks/{id}/log")),
        (format!("/ui/webhooks/{id}/delete"), format!("/ui/webhooks/{id}")),
        ("/ui/webhooks/check".to_owned(), "/ui/webhooks".to_owned()),
    ] {
        browser.visit(&path).await;
        assert_eq!(browser.location().await, lands, "{path}");
        browser.find("#signed-in").await;
    }
    c.as_operator().await;
    let (_, accounts) = c.service.call("GET", "/v1/accounts", ADMIN, None).await;
    let account = accounts["data"][0]["id"].as_str().unwrap().to_owned();
    browser.visit(&format!("/ui/operator/accounts/{account}/keys")).await;
    assert_eq!(browser.location().await, format!("/ui/operator/accounts/{account}"));
    browser.find("#api-keys").await;
}

/// A bad header line does not hide the other refusals; rows and types are named as the
/// form names them.
async fn defect_5_every_refusal_shows_at_once_in_the_words_of_the_form(c: &mut Context) {
    let browser = &c.browser;
    c.as_account().await;
    browser.visit("/ui/webhooks/new").await;
    browser
        .script("document.getElementById('url').type = 'text'; return null")
        .await;
    browser.fill("#url", "not a url").await;
    browser.click("input[name=events][value=all]").await;
    browser.fill("#custom_events", "order paid, order.ok").await;
    browser.fill("#headers", "no colon here").await;
    browser.click("#save").await;
    browser.text_of("#url-error", "").await;
    browser.text_of("#headers-error", "Name: value").await;
    browser.text_of("#events-error", "\"order paid\"").await;
    let summary = browser.text_of("#form-errors", "Callback URL").await;
    for words in ["Extra headers", "Custom event types"] {
        assert!(summary.contains(words), "{words} in {summary}");
    }

    browser.select("#scope", &format!("db:{}", c.database)).await;
    browser.find("#row_field_1 option[value='age']").await;
    browser.select("#row_field_1", "age").await;
    browser.select("#row_comparison_1", "gt").await;
    browser.fill("#row_value_1", "thirty").await;
    browser.click("#build-condition").await;
    browser.text_of("#row-error-1", "whole number").await;
    browser.text_of("#form-errors", "Condition row 1").await;
    let source = browser.client.source().await.unwrap();
    assert!(!source.contains("condition_rows["), "no internal names on the page");
}

/// Picking a scope loads its fields (no Build needed); Build asks before it replaces
/// CEL that was typed.
async fn defect_6_fields_load_with_the_scope_and_build_asks_before_replacing(c: &mut Context) {
    let browser = &c.browser;
    c.as_account().await;
    browser.visit("/ui/webhooks/new").await;
    browser.mark_page().await;
    browser.select("#scope", &format!("db:{}", c.database)).await;
    browser.find("#row_field_1 option[value='age']").await;
    assert!(browser.page_is_marked().await, "loaded in place");
    browser.fill("#condition", "fields.age > 3").await;
    browser.select("#row_field_1", "name").await;
    browser.select("#row_comparison_1", "eq").await;
    browser.fill("#row_value_1", "piet").await;
    browser.click("#build-condition").await;
    browser.text_of("#replace-condition", "fields.name == 'piet'").await;
    assert_eq!(browser.property("#condition", "value").await, "fields.age > 3");
    browser.click("#replace-condition-yes").await;
    eventually("the built condition", || async {
        let value = browser
            .client
            .find(Locator::Css("#condition"))
            .await
            .ok()?
            .property("value")
            .await
            .ok()?;
        (value == "fields.name == 'piet'").then_some(())
    })
    .await;
}

async fn defect_7_the_signing_keys_page_shows_the_key_domain_warning(c: &mut Context) {
    let (_, keys) = c.service.call("GET", "/v1/signing-keys", ADMIN, None).await;
    let warning = keys["warning"].as_str().expect("the test service warns").to_owned();
    c.as_operator().await;
    c.browser.visit("/ui/operator/signing-keys").await;
    assert_eq!(c.browser.text_of("#key-domain-warning", "").await, warning);
}

async fn defect_8_a_filter_that_matches_nothing_says_so(c: &mut Context) {
    let browser = &c.browser;
    c.as_account().await;
    c.webhook(json!({"url": c.receiver.url})).await;
    let unused = c
        .service
        .database(
            &c.key,
            json!({"name": "unused", "fields": [{"name": "x", "type": "text"}]}),
        )
        .await;
    browser.visit(&format!("/ui/webhooks?database_id={unused}")).await;
    browser.text_of("#no-match", "No webhook").await;
    let text = browser.text_of("main", "").await;
    assert!(!text.contains("No webhooks yet"), "{text}");
    browser.click("#no-match a").await;
    browser.find("#webhooks").await;
}

/// While the circuit holds a webhook's calls, Resend says when the call goes.
async fn defect_9_resend_says_when_a_held_delivery_goes(c: &mut Context) {
    let browser = &c.browser;
    c.as_account().await;
    let down = Receiver::answering(|_| Reply::With {
        status: 503,
        headers: vec![("retry-after", "120".into())],
        body: "maintenance".into(),
    })
    .await;
    let id = c.webhook(json!({"url": down.url, "events": ["order.paused"]})).await;
    let event = c.service.send_event(&c.key, json!({"type": "order.paused"})).await;
    eventually("the webhook to be paused", || async {
        let webhook = c.get(&format!("/v1/webhooks/{id}")).await;
        (!webhook["health"]["paused_until"].is_null()).then_some(())
    })
    .await;
    let deliveries = c.service.deliveries(&c.key, &id, "").await;
    assert_eq!(deliveries[0]["event_id"], event.as_str());
    browser
        .visit(&format!("/ui/deliveries/{}", deliveries[0]["id"].as_str().unwrap()))
        .await;
    browser.click("#resend").await;
    let said = browser.text_of("#flash", "circuit").await;
    assert!(!said.contains("goes out now"), "{said}");
}

/// Fields and a raw body together are refused, not half-dropped; a raw body in
/// another format than the webhook's is sent only when asked to.
async fn defect_10_the_test_tool_refuses_what_it_would_change(c: &mut Context) {
    let browser = &c.browser;
    c.as_account().await;
    let receiver = Receiver::start().await;
    let id = c.webhook(json!({"url": receiver.url})).await;
    browser.visit(&format!("/ui/webhooks/{id}/test")).await;
    browser.fill("#key_1", "order").await;
    browser.fill("#value_1", "42").await;
    browser.fill("#raw", "{\"order\": 42}").await;
    browser.click("#send-test").await;
    browser.text_of("#raw-error", "either").await;
    assert_eq!(receiver.count(), 0);

    let xml = c.webhook(json!({"url": receiver.url, "format": "xml"})).await;
    browser.visit(&format!("/ui/webhooks/{xml}/test")).await;
    browser.text_of("label[for=raw]", "application/xml").await;
    browser.fill("#raw", "{\"order\": 42}").await;
    browser.click("#send-test").await;
    browser.text_of("#raw-error", "JSON").await;
    assert_eq!(receiver.count(), 0);
    browser.click("#raw_anyway").await;
    browser.click("#send-test").await;
    browser.text_of("#test-status", "HTTP 200").await;
    let call = receiver.wait_for(1).await.remove(0);
    assert_eq!(call.header("content-type"), "application/xml");
    assert_eq!(&call.body[..], b"{\"order\": 42}");
}

/// Delete, revoke and rotate each need a second click on a button that was hidden; a
/// deletion says what it did.
async fn defect_11_destructive_actions_ask_first_and_report_after(c: &mut Context) {
    let browser = &c.browser;
    c.as_account().await;
    let id = c.webhook(json!({"url": c.receiver.url, "description": "doomed"})).await;
    browser.visit(&format!("/ui/webhooks/{id}")).await;
    for hidden in ["#delete", "#rotate-secret"] {
        assert!(!browser.find(hidden).await.displayed().await.unwrap(), "{hidden}");
    }
    browser.click("#delete-open").await;
    assert!(browser.find("#delete").await.displayed().await.unwrap());
    browser.click("#delete").await;
    browser.text_of("#flash", "Deleted").await;
    assert_eq!(browser.location().await, "/ui/webhooks");

    c.as_operator().await;
    let (_, accounts) = c.service.call("GET", "/v1/accounts", ADMIN, None).await;
    let account = accounts["data"][0]["id"].as_str().unwrap().to_owned();
    browser.visit(&format!("/ui/operator/accounts/{account}")).await;
    assert!(!browser.find("#revoke-1").await.displayed().await.unwrap());
    browser.click("#revoke-open-1").await;
    assert!(browser.find("#revoke-1").await.displayed().await.unwrap());
    browser.visit("/ui/operator/signing-keys").await;
    assert!(!browser.find("#rotate").await.displayed().await.unwrap());
}

/// Durations under a millisecond, the icon, typed profile inputs, named profile links,
/// "saved", export names that carry the filter, and the log paged both ways.
async fn defect_12_small_ones(c: &mut Context) {
    let browser = &c.browser;
    c.as_account().await;

    let icon = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const link = document.querySelector('link[rel=icon]');
             if (!link) { done('no icon link'); return; }
             fetch(link.href).then(r => done(r.status + ' ' + r.headers.get('content-type')));",
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(icon, "200 image/svg+xml");

    // Fast answers: durations under a millisecond say so.
    let receiver = Receiver::start().await;
    let id = c.webhook(json!({"url": receiver.url, "events": ["page.me"]})).await;
    let events: Vec<Value> = (0..55).map(|n| json!({"type": "page.me", "data": {"n": n}})).collect();
    let (status, _) = c
        .service
        .call("POST", "/v1/events/batch", &c.key, Some(json!({ "events": events })))
        .await;
    assert_eq!(status, 202);
    receiver.wait_for(55).await;
    let attempts = c.service.attempts(&c.key, &id).await;
    let instant = attempts
        .iter()
        .find(|a| a["duration_ms"] == 0)
        .and_then(|a| a["delivery_id"].as_str());
    if let Some(delivery) = instant {
        browser.visit(&format!("/ui/deliveries/{delivery}")).await;
        let shown = browser.text_of("#attempts", "under 1 ms").await;
        assert!(!shown.contains(" 0 ms"), "{shown}");
    }

    // The log pages both ways.
    browser.visit(&format!("/ui/webhooks/{id}/log")).await;
    let first_id = |row: String| row.split_whitespace().next().unwrap_or_default().to_owned();
    let newest = first_id(browser.text_of("#deliveries tbody tr", "dlv_").await);
    assert_eq!(c.rows("#deliveries").await, 50);
    browser.click("#older").await;
    eventually("the older page", || async {
        (c.rows("#deliveries").await == 5).then_some(())
    })
    .await;
    browser.click("#newer").await;
    eventually("the newer page", || async {
        (c.rows("#deliveries").await == 50).then_some(())
    })
    .await;
    assert_eq!(first_id(browser.text_of("#deliveries tbody tr", "dlv_").await), newest);

    // Export files are named after the filter they carry.
    browser
        .visit(&format!("/ui/webhooks/{id}/log?status=delivered&event_type=page.me"))
        .await;
    browser.click("#export-csv").await;
    let file = eventually("the export to download", || async {
        std::fs::read_dir(browser.downloads.path())
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|name| name.ends_with(".csv"))
    })
    .await;
    assert!(file.contains("succeeded"), "{file}");
    assert!(file.contains(&id), "{file}");

    // Profiles: inputs typed by their field, rows named, a saved edit says so.
    let profile = c
        .service
        .profile(&c.key, &c.database, json!({"name": "jan", "age": 40}))
        .await;
    browser.visit(&format!("/ui/databases/{}/profiles", c.database)).await;
    let links = browser
        .client
        .find_all(Locator::Css("#profiles tbody a"))
        .await
        .unwrap();
    assert!(!links.is_empty());
    for link in links {
        assert_ne!(link.text().await.unwrap(), "edit");
    }
    browser.visit(&format!("/ui/profiles/{profile}")).await;
    for (field, kind) in [
        ("age", "number"),
        ("score", "number"),
        ("born", "date"),
        ("email", "email"),
        ("name", "text"),
    ] {
        let input = browser.find(&format!("#field-{field}")).await;
        assert_eq!(input.attribute("type").await.unwrap().as_deref(), Some(kind), "{field}");
    }
    browser.fill("#field-name", "piet").await;
    browser.click("#save-profile").await;
    browser.text_of("#flash", "Saved").await;
}
