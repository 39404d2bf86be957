//! What a webhook was not sent shows where people look: deliveries held while it is
//! disabled and events skipped because its URL is not verified, in the webhook list,
//! the Health card and the statistics (issue 18).

use crate::browser::Browser;
use crate::common::{Receiver, Reply, Service};
use serde_json::{Value, json};

/// Verifies `webhook` by placing its ownership file where `receiver` serves it.
async fn verify(service: &Service, key: &str, receiver: &Receiver, webhook: &Value) {
    let v = &webhook["verification"];
    let url = reqwest::Url::parse(v["file_urls"][0].as_str().unwrap()).unwrap();
    receiver.serve_file(url.path(), Reply::body(v["file_content"].as_str().unwrap()));
    let id = webhook["id"].as_str().unwrap();
    let (status, answer) = service
        .call("POST", &format!("/v1/webhooks/{id}/verify"), key, None)
        .await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("verified")), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_and_unverified_events_show_in_the_list_the_health_card_and_the_statistics() {
    let service = Service::start_with(|c| c.webhooks.require_verification = true).await;
    let Some(browser) = Browser::start(&service.url, "undelivered").await else {
        return;
    };
    let key = service.account("Acme").await;
    let receiver = Receiver::start().await;
    let disabled = service
        .webhook(&key, json!({"url": receiver.url, "events": ["order.paid"]}))
        .await;
    verify(&service, &key, &receiver, &disabled).await;
    let disabled = disabled["id"].as_str().unwrap();
    let (status, _) = service
        .call(
            "PATCH",
            &format!("/v1/webhooks/{disabled}"),
            &key,
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, 200);
    let unverified = service
        .webhook(
            &key,
            json!({"url": format!("{}/other", receiver.url), "events": ["order.paid"]}),
        )
        .await;
    let unverified = unverified["id"].as_str().unwrap();
    for n in 0..3 {
        service
            .send_event(&key, json!({"type": "order.paid", "data": {"n": n}}))
            .await;
    }
    browser.sign_in(&key).await;

    browser.visit("/ui/webhooks").await;
    let list = |id: &str| format!("#webhooks tr:has(a[href='/ui/webhooks/{id}']) td.undelivered");
    assert_eq!(browser.text_of(&list(disabled), "held").await, "3 held");
    assert_eq!(
        browser.text_of(&list(unverified), "skipped").await,
        "3 skipped (unverified, 24 h)"
    );

    browser.visit(&format!("/ui/webhooks/{disabled}")).await;
    assert_eq!(
        browser.text_of("#health-held", "held").await,
        "3 deliveries held: sent when the webhook is enabled again"
    );
    assert_eq!(browser.text_of("#health-skipped-unverified", "none").await, "none");
    browser.visit(&format!("/ui/webhooks/{unverified}")).await;
    assert!(
        browser
            .text_of("#health-skipped-unverified", "not sent")
            .await
            .starts_with("3 events not sent: the URL is not verified")
    );

    browser.visit(&format!("/ui/webhooks/{disabled}/stats")).await;
    assert!(
        browser
            .text_of("#stats-held", "held")
            .await
            .starts_with("3 deliveries held")
    );
    let held_column = browser
        .script(
            "return [...document.querySelectorAll('td.held')].map(c => Number(c.innerText)).reduce((a, b) => a + b, 0)",
        )
        .await;
    assert_eq!(held_column, json!(3));
    browser.visit(&format!("/ui/webhooks/{unverified}/stats")).await;
    assert!(
        browser
            .text_of("#stats-skipped-unverified", "not sent")
            .await
            .starts_with("3 events not sent")
    );
    browser.stop().await;
}
