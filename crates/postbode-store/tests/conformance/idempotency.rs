//! Idempotency keys: a repeat answers the first event, a reuse with another request is
//! refused (and leaves nothing behind), an expired key is free again.

use crate::{Fixture, conformance, custom};
use chrono::{DateTime, Duration, Utc};
use postbode_store::*;
use serde_json::json;

conformance!(
    a_repeated_key_answers_the_first_event,
    a_key_reused_with_another_request_is_refused_and_leaves_nothing,
    an_expired_key_makes_a_new_event,
    the_same_key_at_once_makes_one_event,
);

fn keyed(key: &str, hash: u8, at: DateTime<Utc>) -> NewEvent {
    let mut event = custom("order.paid", at);
    event.idempotency = Some(IdempotencyKey {
        key: key.into(),
        request_hash: vec![hash; 32],
        expires_at: at + Duration::hours(24),
    });
    event
}

async fn ingest(f: &Fixture, events: Vec<NewEvent>, at: DateTime<Utc>) -> Result<Vec<Ingested>> {
    f.store.ingest(&f.account, events, at, true).await
}

async fn a_repeated_key_answers_the_first_event(f: Fixture) {
    f.webhook(json!({})).await;
    let first = ingest(&f, vec![keyed("k1", 1, f.at(0))], f.at(0))
        .await
        .unwrap()
        .remove(0);
    assert!(!first.duplicate);
    assert_eq!(first.deliveries, 1);
    let again = ingest(&f, vec![keyed("k1", 1, f.at(5))], f.at(5))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(again.event_id, first.event_id);
    assert_eq!(again.deliveries, 1);
    assert!(again.duplicate);
    // Twice in one batch: the second repeats the first.
    let batch = ingest(&f, vec![keyed("k2", 2, f.at(6)), keyed("k2", 2, f.at(6))], f.at(6))
        .await
        .unwrap();
    assert_eq!(batch[0].event_id, batch[1].event_id);
    assert!(!batch[0].duplicate && batch[1].duplicate);
    assert_eq!(
        f.claim_all(f.at(10)).await.deliveries.len(),
        2,
        "one delivery per event, not per request"
    );
}

async fn a_key_reused_with_another_request_is_refused_and_leaves_nothing(f: Fixture) {
    f.webhook(json!({})).await;
    ingest(&f, vec![keyed("k1", 1, f.at(0))], f.at(0)).await.unwrap();
    let refused = ingest(&f, vec![keyed("fresh", 3, f.at(1)), keyed("k1", 2, f.at(1))], f.at(1)).await;
    assert!(matches!(refused, Err(StoreError::IdempotencyConflict { key }) if key == "k1"));
    // The batch was all or nothing: `fresh` was not kept, so it makes an event now.
    let fresh = ingest(&f, vec![keyed("fresh", 4, f.at(2))], f.at(2))
        .await
        .unwrap()
        .remove(0);
    assert!(!fresh.duplicate);
    assert_eq!(f.claim_all(f.at(10)).await.deliveries.len(), 2);
}

async fn an_expired_key_makes_a_new_event(f: Fixture) {
    let first = ingest(&f, vec![keyed("k1", 1, f.at(0))], f.at(0))
        .await
        .unwrap()
        .remove(0);
    let later = f.at(0) + Duration::hours(24) + Duration::seconds(1);
    let second = ingest(&f, vec![keyed("k1", 2, later)], later).await.unwrap().remove(0);
    assert_ne!(second.event_id, first.event_id);
    assert!(!second.duplicate);
    // And the key now belongs to the new event.
    let third = ingest(&f, vec![keyed("k1", 2, later)], later).await.unwrap().remove(0);
    assert_eq!(third.event_id, second.event_id);
}

async fn the_same_key_at_once_makes_one_event(f: Fixture) {
    f.webhook(json!({})).await;
    let tries = (0..8).map(|_| ingest(&f, vec![keyed("k1", 1, f.at(0))], f.at(0)));
    let outcomes: Vec<Ingested> = futures_util::future::join_all(tries)
        .await
        .into_iter()
        .map(|r| r.unwrap().remove(0))
        .collect();
    assert!(outcomes.iter().all(|o| o.event_id == outcomes[0].event_id));
    assert_eq!(outcomes.iter().filter(|o| !o.duplicate).count(), 1);
    assert_eq!(f.claim_all(f.at(1)).await.deliveries.len(), 1);
}
