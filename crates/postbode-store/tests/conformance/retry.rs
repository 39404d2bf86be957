//! Resend and recover: what they pick, and how the statistics count a delivery sent again.

use crate::results::result;
use crate::routing::hour_of;
use crate::{Fixture, conformance};
use postbode_store::*;
use serde_json::json;

conformance!(
    resend_makes_any_delivery_due_and_moves_its_count,
    recover_picks_the_failed_and_the_waiting_but_not_the_delivered,
    retries_stay_in_their_account,
);

async fn resend_makes_any_delivery_due_and_moves_its_count(f: Fixture) {
    let webhook = f.webhook(json!({})).await;
    f.event("x", f.at(0)).await;
    let claimed = f.claim_all(f.at(0)).await.deliveries.remove(0);
    f.store
        .record_attempt(result(&claimed, f.at(1), Some(200), AttemptOutcome::Delivered))
        .await
        .unwrap();
    let picked = f
        .store
        .retry(RetryRequest {
            account_id: f.account.clone(),
            selection: RetrySelection::Delivery(claimed.delivery_id.clone()),
            now: f.at(2),
        })
        .await
        .unwrap();
    assert_eq!(picked, std::slice::from_ref(&claimed.delivery_id));
    assert_eq!(
        hour_of(&f, &webhook.id).await.delivered,
        0,
        "no longer counted as delivered"
    );
    let again = f.claim_all(f.at(2)).await.deliveries.remove(0);
    assert_eq!(again.delivery_id, claimed.delivery_id);
    assert_eq!(again.trigger, Trigger::Resend);
    assert_eq!(again.attempts, 1);
    f.store
        .record_attempt(result(&again, f.at(3), Some(200), AttemptOutcome::Delivered))
        .await
        .unwrap();
    let stats = hour_of(&f, &webhook.id).await;
    assert_eq!((stats.delivered, stats.attempts), (1, 2), "one delivery, two attempts");
}

async fn recover_picks_the_failed_and_the_waiting_but_not_the_delivered(f: Fixture) {
    let webhook = f.webhook(json!({})).await;
    for n in 0..4 {
        f.event("x", f.at(n)).await;
    }
    let claim = f.claim_all(f.at(10)).await.deliveries;
    let mut by_event = claim.clone();
    by_event.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    let outcomes = [
        (Some(500), AttemptOutcome::Failed),
        (Some(503), AttemptOutcome::RetryAt(f.at(3600))),
        (Some(200), AttemptOutcome::Delivered),
    ];
    for (delivery, (status, outcome)) in by_event.iter().zip(outcomes) {
        f.store
            .record_attempt(result(delivery, f.at(11), status, outcome))
            .await
            .unwrap();
    }
    // The fourth is still leased (in flight): recover leaves it alone.
    let mut picked = f
        .store
        .retry(RetryRequest {
            account_id: f.account.clone(),
            selection: RetrySelection::Webhook {
                webhook_id: webhook.id.clone(),
                since: f.at(0),
                until: f.at(100),
            },
            now: f.at(20),
        })
        .await
        .unwrap();
    picked.sort();
    let mut expected = vec![by_event[0].delivery_id.clone(), by_event[1].delivery_id.clone()];
    expected.sort();
    assert_eq!(picked, expected);
    let stats = hour_of(&f, &webhook.id).await;
    assert_eq!((stats.delivered, stats.failed), (1, 0));
    let due = f.claim_all(f.at(20)).await.deliveries;
    assert_eq!(due.len(), 2);
    assert!(due.iter().all(|d| d.trigger == Trigger::Recover));
}

async fn retries_stay_in_their_account(f: Fixture) {
    f.webhook(json!({})).await;
    f.event("x", f.at(0)).await;
    let claimed = f.claim_all(f.at(0)).await.deliveries.remove(0);
    let other = crate::new_account(f.store.as_ref(), "Other", f.t0).await;
    let picked = f
        .store
        .retry(RetryRequest {
            account_id: other,
            selection: RetrySelection::Delivery(claimed.delivery_id.clone()),
            now: f.at(1),
        })
        .await
        .unwrap();
    assert!(picked.is_empty());
    assert!(
        f.claim_all(f.at(1)).await.deliveries.is_empty(),
        "still leased, not made due"
    );
}
