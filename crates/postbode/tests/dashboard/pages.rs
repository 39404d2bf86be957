//! Every page of the dashboard at a laptop's width (1366 px) and a phone's (390 px), in
//! the light and the dark colour scheme: axe-core finds no serious or critical
//! violation, the page never scrolls sideways on the phone, the header keeps every tab
//! in view, the signed-in account is on it, and each look is saved as a screenshot
//! (`POSTBODE_SCREENSHOTS=docs/screenshots` refreshes the ones in the docs).

use crate::browser::{Browser, PHONE, WIDE};
use crate::common::{ADMIN, Receiver, Reply, Service};
use serde_json::json;

/// Who the header should say is signed in.
enum Signed<'a> {
    Nobody,
    As(&'a str),
}

/// Looks at the page shown now in every width and scheme; returns what is wrong.
async fn look(browser: &mut Browser, name: &str, signed: Signed<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    if let Signed::As(who) = signed {
        let header = browser.text_of("#signed-in", "").await;
        if !header.contains(who) {
            problems.push(format!("{name}: the header says {header:?}, not {who:?}"));
        }
    }
    for dark in [false, true] {
        browser.set_dark(dark).await;
        for width in [WIDE, PHONE] {
            browser.set_width(width).await;
            let scheme = if dark { "dark" } else { "light" };
            let look = format!("{name} at {width} px, {scheme}");
            for violation in browser.accessibility_violations().await {
                problems.push(format!("{look}: {violation}"));
            }
            if width == PHONE {
                if browser.scrolls_sideways().await {
                    problems.push(format!("{look}: the page scrolls sideways"));
                }
                let hidden_tabs = browser
                    .script(
                        "return [...document.querySelectorAll('header nav a')]
                           .filter(a => { const r = a.getBoundingClientRect();
                                          return r.width === 0 || r.right > window.innerWidth; })
                           .map(a => a.textContent)",
                    )
                    .await;
                if hidden_tabs != json!([]) {
                    problems.push(format!("{look}: tabs out of view: {hidden_tabs}"));
                }
            }
            if dark {
                let background = browser
                    .script("return getComputedStyle(document.body).backgroundColor")
                    .await;
                if !is_dark(background.as_str().unwrap_or_default()) {
                    problems.push(format!("{look}: the background is {background}"));
                }
            }
            browser
                .shot(&format!("{name}{}", if dark { "-dark" } else { "" }))
                .await;
        }
    }
    browser.set_dark(false).await;
    browser.set_width(WIDE).await;
    problems
}

/// `rgb(r, g, b)` with a low luminance.
fn is_dark(css: &str) -> bool {
    let channels: Vec<f64> = css
        .trim_start_matches("rgba(")
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    channels.len() >= 3 && (0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]) < 80.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_reads_at_a_laptops_and_a_phones_width_light_and_dark() {
    let service = Service::start().await;
    let Some(mut browser) = Browser::start(&service.url, "pages").await else {
        return;
    };
    let receiver = Receiver::answering_calls(|_, call| {
        if String::from_utf8_lossy(&call.body).contains("refused") {
            Reply::With {
                status: 500,
                headers: Vec::new(),
                body: "the receiver could not store it".into(),
            }
        } else {
            Reply::With {
                status: 200,
                headers: vec![("content-type", "application/json".into())],
                body: "{\"stored\": true}".into(),
            }
        }
    })
    .await;
    let key = service.account("Acme Webshop").await;
    let database = service
        .database(
            &key,
            json!({"name": "customers", "fields": [
                {"name": "name", "type": "text"}, {"name": "email", "type": "email"},
                {"name": "age", "type": "integer"}, {"name": "joined", "type": "date"}]}),
        )
        .await;
    service
        .collection(
            &key,
            &database,
            json!({"name": "orders", "fields": [{"name": "total", "type": "float"}]}),
        )
        .await;
    let profile = service
        .profile(
            &key,
            &database,
            json!({"name": "Piet Jansen", "email": "piet@example.com", "age": 41, "joined": "2024-03-01"}),
        )
        .await;
    let webhook = service
        .webhook(
            &key,
            json!({"url": receiver.url, "description": "Orders to the warehouse system",
                   "events": ["order.paid", "order.refunded"],
                   "signatures": ["standard-webhooks", "http-signature"],
                   "headers": {"X-Warehouse": "north"}}),
        )
        .await;
    let id = webhook["id"].as_str().unwrap().to_owned();
    service
        .webhook(
            &key,
            json!({"url": format!("{}/profiles", receiver.url), "events": ["create", "update"],
                   "database_id": database, "condition": "fields.age > 18",
                   "fields_changed": ["email"]}),
        )
        .await;
    let mut last_event = String::new();
    for n in 0..12 {
        let state = if n % 3 == 2 { "refused" } else { "stored" };
        last_event = service
            .send_event(
                &key,
                json!({"type": if n % 2 == 0 { "order.paid" } else { "order.refunded" },
                       "data": {"order": 1000 + n, "state": state}}),
            )
            .await;
    }
    let delivery = service.delivery_when(&key, &last_event, |d| d["attempts"] != 0).await;
    let delivery = delivery["id"].as_str().unwrap().to_owned();
    let since = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let (status, job) = service
        .call(
            "POST",
            &format!("/v1/webhooks/{id}/replay"),
            &key,
            Some(json!({"since": since})),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    let job = job["job_id"].as_str().unwrap().to_owned();

    let mut problems = Vec::new();
    browser.visit("/ui/sign-in").await;
    problems.extend(look(&mut browser, "sign-in", Signed::Nobody).await);
    browser.sign_in(&key).await;
    let account = Signed::As("Acme Webshop");

    let pages: [(&str, String); 14] = [
        ("webhooks", "/ui/webhooks".into()),
        ("webhook-new", "/ui/webhooks/new".into()),
        ("webhook-edit", format!("/ui/webhooks/{id}/edit")),
        ("log", format!("/ui/webhooks/{id}/log")),
        ("log-search", format!("/ui/webhooks/{id}/log?q=refused")),
        ("replay-job", format!("/ui/jobs/{job}")),
        ("delivery", format!("/ui/deliveries/{delivery}")),
        ("webhook-stats", format!("/ui/webhooks/{id}/stats")),
        ("stats", "/ui/stats".into()),
        ("databases", "/ui/databases".into()),
        ("database", format!("/ui/databases/{database}")),
        ("profiles", format!("/ui/databases/{database}/profiles")),
        ("profile", format!("/ui/profiles/{profile}")),
        ("not-found", "/ui/no-such-page".into()),
    ];
    for (name, path) in &pages {
        browser.visit(path).await;
        browser.find("main").await;
        let signed = if *name == "not-found" {
            Signed::Nobody
        } else {
            Signed::As("Acme Webshop")
        };
        problems.extend(look(&mut browser, name, signed).await);
    }

    // The webhook's page with its secret shown; the test tool with an answer; a form
    // refused.
    browser.visit(&format!("/ui/webhooks/{id}")).await;
    browser.click("#show-secret").await;
    browser.text_of("#secret-value", "whsec_").await;
    problems.extend(look(&mut browser, "webhook", Signed::As("Acme Webshop")).await);
    browser.visit(&format!("/ui/webhooks/{id}/test")).await;
    browser.fill("#type", "order.paid").await;
    browser.fill("#key_1", "order").await;
    browser.fill("#value_1", "1042").await;
    browser.click("#send-test").await;
    browser.text_of("#test-status", "HTTP 200").await;
    problems.extend(look(&mut browser, "test-tool", Signed::As("Acme Webshop")).await);
    browser.visit("/ui/webhooks/new").await;
    browser.fill("#url", "ftp://example.com/hook").await;
    browser.fill("#headers", "no colon").await;
    browser.click("#save").await;
    browser.find("#form-errors").await;
    problems.extend(look(&mut browser, "webhook-refused", account).await);

    browser.sign_in(ADMIN).await;
    let (_, accounts) = service.call("GET", "/v1/accounts", ADMIN, None).await;
    let account_id = accounts["data"][0]["id"].as_str().unwrap().to_owned();
    for (name, path) in [
        ("operator-accounts", "/ui/operator".to_owned()),
        ("operator-account", format!("/ui/operator/accounts/{account_id}")),
        ("signing-keys", "/ui/operator/signing-keys".to_owned()),
    ] {
        browser.visit(&path).await;
        browser.find("main").await;
        problems.extend(look(&mut browser, name, Signed::As("Operator")).await);
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    browser.stop().await;
}
