//! Claims and leases: each webhook within its room, a leased delivery belongs to one
//! claimer until its lease runs out or it is released.

use crate::{Fixture, claim_request, conformance};
use chrono::Duration;
use serde_json::json;
use std::collections::HashSet;

conformance!(
    a_claim_keeps_each_webhook_within_its_room,
    a_leased_delivery_is_claimed_again_only_after_its_lease,
    a_released_delivery_is_claimable_at_once,
    claims_at_the_same_time_take_different_deliveries,
);

async fn a_claim_keeps_each_webhook_within_its_room(f: Fixture) {
    let small = f.webhook(json!({})).await;
    let big = f.webhook(json!({})).await;
    let full = f.webhook(json!({})).await;
    let mut made = Vec::new();
    for n in 0..10 {
        made.push(f.event("x", f.at(n)).await.event_id);
    }
    // The engine has room for one more of `small`, none of `full`, 50 of any other.
    let mut request = claim_request(f.at(20), 100, 50);
    request.room.insert(small.id.clone(), 1);
    request.room.insert(full.id.clone(), 0);
    let claim = f.store.claim(request).await.unwrap();
    let count = |id: &str| claim.deliveries.iter().filter(|d| d.webhook_id == id).count();
    assert_eq!(count(&small.id), 1);
    assert_eq!(count(&big.id), 10);
    assert_eq!(count(&full.id), 0);
    // Oldest due first.
    let due: Vec<&str> = claim
        .deliveries
        .iter()
        .filter(|d| d.webhook_id == big.id)
        .map(|d| d.event_id.as_str())
        .collect();
    assert_eq!(due, made);
    assert!(claim.webhooks.contains_key(&small.id) && claim.webhooks.contains_key(&big.id));
}

async fn a_leased_delivery_is_claimed_again_only_after_its_lease(f: Fixture) {
    f.webhook(json!({})).await;
    f.event("x", f.at(0)).await;
    let first = f.claim_all(f.at(0)).await;
    assert_eq!(first.deliveries.len(), 1);
    assert!(
        f.claim_all(f.at(60)).await.deliveries.is_empty(),
        "leased for two minutes"
    );
    // The claimer died: after the lease another claims it.
    let again = f.claim_all(f.at(0) + Duration::minutes(2)).await;
    assert_eq!(again.deliveries[0].delivery_id, first.deliveries[0].delivery_id);
}

async fn a_released_delivery_is_claimable_at_once(f: Fixture) {
    f.webhook(json!({})).await;
    f.event("x", f.at(0)).await;
    let first = f.claim_all(f.at(0)).await;
    f.store
        .release(vec![first.deliveries[0].delivery_id.clone()])
        .await
        .unwrap();
    assert_eq!(f.claim_all(f.at(1)).await.deliveries.len(), 1);
}

async fn claims_at_the_same_time_take_different_deliveries(f: Fixture) {
    f.webhook(json!({})).await;
    for n in 0..200 {
        f.event("x", f.at(n % 10)).await;
    }
    let mut seen = HashSet::new();
    // Four claimers at once, round after round, until nothing is left.
    loop {
        let claims = (0..4).map(|_| f.store.claim(claim_request(f.at(20), 60, 1000)));
        let mut taken = 0;
        for claim in futures_util::future::join_all(claims).await {
            for delivery in claim.unwrap().deliveries {
                taken += 1;
                assert!(seen.insert(delivery.delivery_id), "a delivery was claimed twice");
            }
        }
        if taken == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 200);
}
