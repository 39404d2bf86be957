//! Replays in the browser: the log's filter resent after a count and a confirmation,
//! and the events a webhook made later never had replayed from its page; both shown as
//! a job whose page follows its progress to the end.

use crate::browser::Browser;
use crate::common::{Receiver, Reply, Service, eventually};
use postbode_core::Clock;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_filter_and_missing_events_are_replayed_as_a_job_with_progress() {
    // One attempt each: a failure is final at once. Small batches: several per job.
    let service = Service::start_with(|c| {
        c.delivery.retry.schedule = Vec::new();
        c.replay.batch = 1;
    })
    .await;
    let Some(browser) = Browser::start(&service.url, "replay").await else {
        return;
    };
    let key = service.account("Acme").await;
    let receiver = Receiver::answering(|_| Reply::Status(500)).await;
    let hook = service
        .webhook(&key, json!({"url": receiver.url, "events": ["order.paid"]}))
        .await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let since = (service.clock.now() - chrono::Duration::minutes(1))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    for n in 0..2 {
        service
            .send_event(&key, json!({"type": "order.paid", "data": {"n": n}}))
            .await;
    }
    service.settled_calls(&key, &hook, &receiver).await;
    receiver.set_answer(|_| Reply::Status(200));
    browser.sign_in(&key).await;

    // The filter's count, a confirmation, then the job's page.
    browser
        .visit(&format!("/ui/webhooks/{hook_id}/log?status=failed"))
        .await;
    browser.text_of("#replay-open", "Resend 2 deliveries").await;
    browser.click("#replay-open").await;
    browser.text_of("#replay-ask", "2 deliveries").await;
    browser.click("#replay-confirm").await;
    browser.text_of("#flash", "Replay started: 2").await;
    let location = browser.location().await;
    let job = location.rsplit('/').next().unwrap().to_owned();
    assert!(job.starts_with("job_"), "{location}");
    let (_, shown) = service.call("GET", &format!("/v1/jobs/{job}"), &key, None).await;
    assert_eq!(shown["total"], 2, "{shown}");
    browser.text_of("#job-status", "done").await;
    assert_eq!(browser.text_of("#job-done", "of").await, "2 of 2");
    assert_eq!(browser.text_of("#job-resent", "2").await, "2");
    eventually("the two to be delivered", || async {
        (service.deliveries(&key, &hook_id, "status=delivered").await.len() == 2).then_some(())
    })
    .await;
    // A search names single deliveries: no replay of it.
    browser
        .visit(&format!("/ui/webhooks/{hook_id}/log?q=evt_unknown"))
        .await;
    browser.find("#replay-search").await;

    // A webhook made later gets the events it never had, from its page.
    let late_receiver = Receiver::start().await;
    let late = service
        .webhook(&key, json!({"url": late_receiver.url, "events": ["order.paid"]}))
        .await;
    let late_id = late["id"].as_str().unwrap();
    browser.visit(&format!("/ui/webhooks/{late_id}")).await;
    browser.click("#replay-missing-open").await;
    browser.set_value("#replay_since", &since).await;
    browser.click("#replay-missing").await;
    browser.text_of("#job-status", "done").await;
    assert_eq!(browser.text_of("#job-created", "2").await, "2");
    late_receiver.wait_for(2).await;
    // The webhook's page lists the job.
    browser.visit(&format!("/ui/webhooks/{late_id}")).await;
    browser.text_of("#replay-jobs", "done: 2 of 2").await;
    browser.stop().await;
}
