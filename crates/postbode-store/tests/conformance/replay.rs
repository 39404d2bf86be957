//! Replay jobs: what they match, that they are bounded and alone per webhook, that they
//! work in batches whose cursor survives a restart, and that they stay in their account.

use crate::results::result;
use crate::{Fixture, conformance};
use chrono::{DateTime, Utc};
use postbode_store::*;
use serde_json::json;

conformance!(
    a_replay_resends_the_matching_deliveries_in_batches,
    replay_missing_gives_a_new_webhook_the_events_it_wants_and_never_had,
    a_replay_is_bounded_and_alone_per_webhook,
    a_job_goes_on_from_its_cursor_after_a_restart,
    replays_stay_in_their_account,
);

fn selection(f: &Fixture, resend: bool, statuses: Vec<DeliveryStatus>, missing: bool) -> ReplaySelection {
    ReplaySelection {
        since: f.at(0),
        until: f.at(1000),
        resend,
        statuses,
        event_types: Vec::new(),
        missing,
    }
}

async fn start(f: &Fixture, webhook_id: &str, selection: ReplaySelection, max: u64) -> ReplayStart {
    f.store
        .start_replay(ReplayRequest {
            account_id: f.account.clone(),
            webhook_id: webhook_id.to_owned(),
            selection,
            now: f.at(500),
            max,
        })
        .await
        .unwrap()
}

async fn started(f: &Fixture, webhook_id: &str, selection: ReplaySelection) -> ReplayJob {
    match start(f, webhook_id, selection, 1000).await {
        ReplayStart::Started(job) => *job,
        other => panic!("not started: {other:?}"),
    }
}

/// Runs the job to its end in batches of `batch`; returns it and how many batches ran.
async fn run(f: &Fixture, job: ReplayJob, batch: u32, now: DateTime<Utc>) -> (ReplayJob, u32) {
    let mut job = job;
    let mut batches = 0;
    while job.status == JobStatus::Running {
        job = f.store.advance_replay(&job, batch, now, true).await.unwrap().unwrap();
        batches += 1;
        assert!(batches < 100, "the job never ends: {job:?}");
    }
    (job, batches)
}

async fn a_replay_resends_the_matching_deliveries_in_batches(f: Fixture) {
    let webhook = f.webhook(json!({})).await;
    for n in 0..5 {
        f.event(if n < 4 { "order.paid" } else { "order.refunded" }, f.at(n))
            .await;
    }
    let claimed = f.claim_all(f.at(10)).await.deliveries;
    // Of the paid ones one is delivered and three failed; the refund stays in flight.
    let paid: Vec<&ClaimedDelivery> = claimed.iter().filter(|d| d.event_type == "order.paid").collect();
    assert_eq!(paid.len(), 4);
    for (n, delivery) in paid.iter().enumerate() {
        let (status, outcome) = match n {
            0 => (Some(200), AttemptOutcome::Delivered),
            _ => (Some(500), AttemptOutcome::Failed),
        };
        f.store
            .record_attempt(result(delivery, f.at(11), status, outcome))
            .await
            .unwrap();
    }
    let failed = started(
        &f,
        &webhook.id,
        selection(&f, true, vec![DeliveryStatus::Failed], false),
    )
    .await;
    assert_eq!((failed.total, failed.done, failed.status), (3, 0, JobStatus::Running));
    let (failed, batches) = run(&f, failed, 2, f.at(20)).await;
    assert_eq!((failed.status, failed.done, failed.resent), (JobStatus::Done, 3, 3));
    assert_eq!(batches, 2, "two batches of two for three deliveries");
    let due = f.claim_all(f.at(20)).await.deliveries;
    assert_eq!(due.len(), 3);
    assert!(due.iter().all(|d| d.trigger == Trigger::Replay));

    // Every status and one type: the delivered one goes again; those in flight do not.
    let mut only_paid = selection(&f, true, Vec::new(), false);
    only_paid.event_types = vec!["order.paid".into()];
    let job = started(&f, &webhook.id, only_paid).await;
    assert_eq!(job.total, 4);
    let (job, _) = run(&f, job, 10, f.at(21)).await;
    assert_eq!((job.done, job.resent), (4, 1), "three are leased by the claim above");
}

async fn replay_missing_gives_a_new_webhook_the_events_it_wants_and_never_had(f: Fixture) {
    let old = f.webhook(json!({"events": ["order.paid"]})).await;
    for n in 0..3 {
        f.event("order.paid", f.at(n)).await;
    }
    f.event("order.refunded", f.at(3)).await;
    f.event("other.thing", f.at(4)).await;
    // Made afterwards: it wants two of the types; one event of them it got already.
    let new = f.webhook(json!({"events": ["order.paid", "order.refunded"]})).await;
    f.event("order.paid", f.at(5)).await;
    let scoped = f.webhook(json!({"events": ["all"], "database_id": "db_x"})).await;

    let job = started(&f, &new.id, selection(&f, false, Vec::new(), true)).await;
    assert_eq!(job.total, 4, "three paid and one refund it never had");
    let (job, _) = run(&f, job, 3, f.at(30)).await;
    assert_eq!(
        (job.status, job.done, job.created, job.resent),
        (JobStatus::Done, 4, 4, 0)
    );
    let due = f.claim_all(f.at(30)).await.deliveries;
    let to_new = due.iter().filter(|d| d.webhook_id == new.id).count();
    assert_eq!(to_new, 5, "the four replayed and the one it had");
    assert!(due.iter().all(|d| d.webhook_id != scoped.id));
    // Nothing is missing any more: a second replay finds nothing.
    let again = started(&f, &new.id, selection(&f, false, Vec::new(), true)).await;
    assert_eq!(again.total, 0);
    let (again, _) = run(&f, again, 3, f.at(31)).await;
    assert_eq!((again.status, again.created), (JobStatus::Done, 0));
    // The old webhook had every event it wants; a webhook scoped to a database gets
    // no missing events (their scope is not kept).
    let none = started(&f, &old.id, selection(&f, false, Vec::new(), true)).await;
    assert_eq!(none.total, 0);
    let scoped_job = started(&f, &scoped.id, selection(&f, false, Vec::new(), true)).await;
    assert_eq!(scoped_job.total, 0);
}

async fn a_replay_is_bounded_and_alone_per_webhook(f: Fixture) {
    let webhook = f.webhook(json!({})).await;
    for n in 0..3 {
        f.event("x", f.at(n)).await;
    }
    let everything = selection(&f, true, Vec::new(), true);
    assert_eq!(
        start(&f, &webhook.id, everything.clone(), 2).await,
        ReplayStart::TooMany { matched: 3, max: 2 }
    );
    let job = started(&f, &webhook.id, everything.clone()).await;
    assert_eq!(
        start(&f, &webhook.id, everything.clone(), 10).await,
        ReplayStart::Busy(job.id.clone())
    );
    run(&f, job, 10, f.at(20)).await;
    assert!(matches!(
        start(&f, &webhook.id, everything, 10).await,
        ReplayStart::Started(_)
    ));
}

async fn a_job_goes_on_from_its_cursor_after_a_restart(f: Fixture) {
    let webhook = f.webhook(json!({"events": ["x"]})).await;
    for n in 0..5 {
        f.event("x", f.at(n)).await;
    }
    let late = f.webhook(json!({"events": ["x"]})).await;
    let job = started(&f, &late.id, selection(&f, false, Vec::new(), true)).await;
    let after_one = f.store.advance_replay(&job, 2, f.at(20), true).await.unwrap().unwrap();
    assert_eq!((after_one.done, after_one.created), (2, 2));
    // A batch read before another node moved the cursor does nothing.
    let stale = f.store.advance_replay(&job, 2, f.at(20), true).await.unwrap().unwrap();
    assert_eq!((stale.done, stale.created), (2, 2), "done once");
    // What a restarted node finds, and finishes.
    let running = f.store.running_replays().await.unwrap();
    let found = running
        .into_iter()
        .find(|j| j.id == job.id)
        .expect("the job is still running");
    let (done, _) = run(&f, found, 2, f.at(21)).await;
    assert_eq!((done.status, done.done, done.created), (JobStatus::Done, 5, 5));
    let due = f.claim_all(f.at(30)).await.deliveries;
    assert_eq!(
        due.iter().filter(|d| d.webhook_id == late.id).count(),
        5,
        "each event once"
    );
    assert_eq!(due.iter().filter(|d| d.webhook_id == webhook.id).count(), 5);
    assert!(f.store.running_replays().await.unwrap().iter().all(|j| j.id != job.id));
}

async fn replays_stay_in_their_account(f: Fixture) {
    let other = crate::new_account(f.store.as_ref(), "Other", f.t0).await;
    let theirs = f.webhook_in(&other, json!({})).await;
    assert_eq!(
        start(&f, &theirs.id, selection(&f, true, Vec::new(), true), 10).await,
        ReplayStart::NoWebhook
    );
    let mine = f.webhook(json!({})).await;
    let job = started(&f, &mine.id, selection(&f, true, Vec::new(), true)).await;
    assert!(f.store.replay_job(&other, &job.id).await.unwrap().is_none());
    assert!(f.store.replay_jobs(&other, &mine.id, 10).await.unwrap().is_empty());
    assert_eq!(
        f.store.replay_job(&f.account, &job.id).await.unwrap().unwrap().id,
        job.id
    );
}
