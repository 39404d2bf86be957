//! Retention: old attempts, expired idempotency keys and old events whose deliveries all
//! ended go, a batch per transaction until none is left; recent data, and any event
//! with a pending delivery, stays.

use crate::results::result;
use crate::{Fixture, conformance, custom, new_account};
use chrono::{DateTime, Duration, Utc};
use postbode_store::*;
use serde_json::json;

conformance!(
    old_ended_data_goes_and_recent_or_pending_data_stays,
    a_held_delivery_ends_with_its_event_at_retention,
    two_prunes_at_once_share_the_work,
    a_pruned_events_words_are_not_found_again,
);

fn keyed(key: &str, at: DateTime<Utc>, expires_at: DateTime<Utc>) -> NewEvent {
    let mut event = custom("keyed", at);
    event.idempotency = Some(IdempotencyKey {
        key: key.into(),
        request_hash: vec![1; 32],
        expires_at,
    });
    event
}

fn request(now: DateTime<Utc>, batch: u32) -> PruneRequest {
    PruneRequest {
        now,
        attempts_before: now - Duration::days(30),
        events_before: now - Duration::days(30),
        batch,
    }
}

/// Claims the one due delivery at `at` and records an attempt with `outcome`.
async fn attempt(f: &Fixture, at: DateTime<Utc>, status: Option<u16>, outcome: AttemptOutcome) -> ClaimedDelivery {
    let mut claimed = f.claim_all(at).await.deliveries;
    assert_eq!(claimed.len(), 1);
    let claimed = claimed.remove(0);
    f.store
        .record_attempt(result(&claimed, at, status, outcome))
        .await
        .unwrap();
    claimed
}

async fn event_exists(f: &Fixture, id: &str) -> bool {
    f.store.get_event(&f.account, id).await.unwrap().is_some()
}

async fn old_ended_data_goes_and_recent_or_pending_data_stays(f: Fixture) {
    f.webhook(json!({})).await;
    // Old (day 0): delivered, failed, still retrying, never claimed, and one that went
    // to no webhook (another account has none).
    let delivered = f.event("delivered", f.at(0)).await;
    let delivered_claim = attempt(&f, f.at(1), Some(200), AttemptOutcome::Delivered).await;
    let failed = f.event("failed", f.at(2)).await;
    attempt(&f, f.at(3), Some(500), AttemptOutcome::Failed).await;
    let retrying = f.event("retrying", f.at(4)).await;
    let retrying_claim = attempt(&f, f.at(5), Some(503), AttemptOutcome::RetryAt(f.at(86_400 * 100))).await;
    let waiting = f.event("waiting", f.at(7)).await;
    let other = new_account(f.store.as_ref(), "Other", f.t0).await;
    let routed_nowhere = f
        .store
        .ingest(&other, vec![custom("nowhere", f.at(8))], f.at(8), true)
        .await
        .unwrap()
        .remove(0);
    let old_key = f
        .store
        .ingest(&f.account, vec![keyed("old", f.at(9), f.at(86_400))], f.at(9), true)
        .await
        .unwrap()
        .remove(0);
    // Recent (day 40): delivered, with a key still live.
    let day40 = f.at(86_400 * 40);
    let claimable = f.claim_all(f.at(10)).await.deliveries;
    assert_eq!(claimable.len(), 2, "waiting and the keyed event");
    f.store
        .release(claimable.iter().map(|d| d.delivery_id.clone()).collect())
        .await
        .unwrap();
    let recent = f
        .store
        .ingest(
            &f.account,
            vec![keyed("new", day40, day40 + Duration::days(1))],
            day40,
            true,
        )
        .await
        .unwrap()
        .remove(0);
    let now = day40 + Duration::hours(1);
    let recent_claim = f
        .claim_all(now)
        .await
        .deliveries
        .into_iter()
        .find(|d| d.event_id == recent.event_id)
        .unwrap();
    f.store
        .record_attempt(result(&recent_claim, now, Some(200), AttemptOutcome::Delivered))
        .await
        .unwrap();
    assert_eq!(routed_nowhere.deliveries, 0);

    let pruned = f.store.prune(request(now, 2)).await.unwrap();

    assert!(!event_exists(&f, &delivered.event_id).await);
    assert!(!event_exists(&f, &failed.event_id).await);
    assert!(
        f.store
            .get_event(&other, &routed_nowhere.event_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.store
            .get_delivery(&f.account, &delivered_claim.delivery_id)
            .await
            .unwrap()
            .is_none()
    );
    // Pending deliveries keep their events, however old; their old attempts go.
    assert!(event_exists(&f, &retrying.event_id).await);
    assert!(event_exists(&f, &waiting.event_id).await);
    assert!(event_exists(&f, &old_key.event_id).await, "its delivery is pending");
    assert!(
        f.store
            .delivery_attempts(&f.account, &retrying_claim.delivery_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(event_exists(&f, &recent.event_id).await);
    assert_eq!(
        f.store
            .delivery_attempts(&f.account, &recent_claim.delivery_id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        (
            pruned.events,
            pruned.deliveries,
            pruned.attempts,
            pruned.idempotency_keys
        ),
        (3, 2, 3, 1),
        "{pruned:?}"
    );
    assert!(pruned.batches > 4, "in batches of two: {pruned:?}");

    // The live key still answers its event; the expired one is free again.
    let again = f
        .store
        .ingest(&f.account, vec![keyed("new", now, now + Duration::days(1))], now, true)
        .await
        .unwrap()
        .remove(0);
    assert!(again.duplicate);
    assert_eq!(again.event_id, recent.event_id);
    let reused = f
        .store
        .ingest(&f.account, vec![keyed("old", now, now + Duration::days(1))], now, true)
        .await
        .unwrap()
        .remove(0);
    assert!(!reused.duplicate);

    // A second pass finds nothing more.
    assert_eq!(f.store.prune(request(now, 2)).await.unwrap().events, 0);
}

async fn a_held_delivery_ends_with_its_event_at_retention(f: Fixture) {
    // Both webhooks want the first event; only the disabled one the second.
    f.webhook(json!({ "enabled": false })).await;
    f.webhook(json!({ "events": ["live"] })).await;
    let shared = f.event("live", f.at(0)).await;
    let held_only = f.event("held", f.at(1)).await;
    let recent = f.event("held", f.at(86_400 * 29)).await;
    let pruned = f.store.prune(request(f.at(86_400 * 31), 100)).await.unwrap();
    assert!(
        event_exists(&f, &shared.event_id).await,
        "its live delivery is still going out"
    );
    assert!(
        !event_exists(&f, &held_only.event_id).await,
        "held past retention.events: it goes"
    );
    assert!(
        event_exists(&f, &recent.event_id).await,
        "held within retention.events: it stays"
    );
    assert_eq!((pruned.events, pruned.held), (1, 1));
}

async fn two_prunes_at_once_share_the_work(f: Fixture) {
    f.webhook(json!({})).await;
    let mut ended = Vec::new();
    for i in 0..30 {
        let event = f.event("old", f.at(i)).await;
        ended.push(event.event_id);
    }
    for claimed in f.claim_all(f.at(100)).await.deliveries {
        f.store
            .record_attempt(result(&claimed, f.at(101), Some(200), AttemptOutcome::Delivered))
            .await
            .unwrap();
    }
    let pending = f.event("pending", f.at(200)).await;
    let now = f.at(86_400 * 31);
    let (a, b) = tokio::join!(f.store.prune(request(now, 4)), f.store.prune(request(now, 4)));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.events + b.events, 30, "each event once: {a:?} {b:?}");
    assert_eq!(a.deliveries + b.deliveries, 30);
    assert_eq!(a.attempts + b.attempts, 30);
    for id in &ended {
        assert!(!event_exists(&f, id).await);
    }
    assert!(event_exists(&f, &pending.event_id).await);
}

/// The full-text index leaves with the event: the words of a pruned event are not found
/// in a later one (SQLite may give the later event the pruned one's rowid).
async fn a_pruned_events_words_are_not_found_again(f: Fixture) {
    let webhook = f.webhook(json!({})).await;
    let old = NewEvent {
        body: json!({"customer": "Piet"}).to_string().into_bytes(),
        ..custom("order.paid", f.at(0))
    };
    f.store.ingest(&f.account, vec![old], f.at(0), true).await.unwrap();
    attempt(&f, f.at(1), Some(200), AttemptOutcome::Delivered).await;
    let now = f.at(86_400 * 31);
    assert_eq!(f.store.prune(request(now, 100)).await.unwrap().events, 1);
    let new = NewEvent {
        body: json!({"customer": "Klaas"}).to_string().into_bytes(),
        ..custom("order.paid", now)
    };
    f.store.ingest(&f.account, vec![new], now, true).await.unwrap();
    let search = |term: &str| DeliveryQuery {
        webhook_id: webhook.id.clone(),
        search: Some(term.to_owned()),
        page: postbode_core::page::PageRequest { after: None, limit: 10 },
        ..DeliveryQuery::default()
    };
    assert!(
        f.store
            .list_deliveries(&f.account, &search("piet"))
            .await
            .unwrap()
            .data
            .is_empty()
    );
    assert_eq!(
        f.store
            .list_deliveries(&f.account, &search("klaas"))
            .await
            .unwrap()
            .data
            .len(),
        1
    );
}
