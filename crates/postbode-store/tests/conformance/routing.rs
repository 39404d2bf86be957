//! Which webhooks get an event.

use crate::{Fixture, claim_request, conformance, custom};
use postbode_core::webhook::VerificationStatus;
use postbode_store::*;
use serde_json::json;

conformance!(
    an_event_goes_to_each_enabled_webhook_that_wants_its_type,
    an_unverified_webhook_gets_nothing_and_the_skip_is_counted,
    a_condition_filters_and_its_errors_are_counted,
    another_accounts_webhooks_never_get_the_event,
);

async fn an_event_goes_to_each_enabled_webhook_that_wants_its_type(f: Fixture) {
    let paid = f.webhook(json!({ "events": ["order.paid"] })).await;
    let all = f.webhook(json!({ "events": ["all"] })).await;
    f.webhook(json!({ "events": ["order.created"] })).await;
    f.webhook(json!({ "events": ["all"], "enabled": false })).await;
    let ingested = f.event("order.paid", f.at(0)).await;
    assert_eq!(ingested.deliveries, 2);
    assert!(!ingested.duplicate);
    let claim = f.claim_all(f.at(0)).await;
    let mut targets: Vec<&str> = claim.deliveries.iter().map(|d| d.webhook_id.as_str()).collect();
    targets.sort();
    let mut expected = vec![paid.id.as_str(), all.id.as_str()];
    expected.sort();
    assert_eq!(targets, expected);
    assert!(
        claim
            .deliveries
            .iter()
            .all(|d| d.event_id == ingested.event_id && d.event_type == "order.paid")
    );
    assert_eq!(claim.webhooks.len(), 2);
    let (event, deliveries) = f
        .store
        .get_event(&f.account, &ingested.event_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.event_type, "order.paid");
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries.iter().all(|d| d.status == DeliveryStatus::Pending));
}

async fn an_unverified_webhook_gets_nothing_and_the_skip_is_counted(f: Fixture) {
    let mut webhook = f.webhook(json!({})).await;
    webhook.verification.status = VerificationStatus::Pending;
    assert!(f.store.update_webhook(&webhook).await.unwrap());
    assert_eq!(f.event("x", f.at(0)).await.deliveries, 0);
    assert_eq!(f.event("x", f.at(1)).await.deliveries, 0);
    let stats = hour_of(&f, &webhook.id).await;
    assert_eq!(stats.skipped_unverified, 2);
    // Without the requirement it is delivered to, and deliveries of unverified webhooks
    // are claimed only when verification is not required.
    let ingested = f
        .store
        .ingest(&f.account, vec![custom("x", f.at(2))], f.at(2), false)
        .await
        .unwrap();
    assert_eq!(ingested[0].deliveries, 1);
    assert!(
        f.store
            .claim(claim_request(f.at(3), 100, 100))
            .await
            .unwrap()
            .deliveries
            .is_empty()
    );
    let mut open = claim_request(f.at(3), 100, 100);
    open.require_verification = false;
    assert_eq!(f.store.claim(open).await.unwrap().deliveries.len(), 1);
}

async fn a_condition_filters_and_its_errors_are_counted(f: Fixture) {
    let by_type = f
        .webhook(json!({ "condition": "type == 'order.paid' || type.startsWith('refund.')" }))
        .await;
    // Custom events carry no profile fields, so this cannot be evaluated for them.
    let failing = f.webhook(json!({ "condition": "fields.name == 'piet'" })).await;
    for (n, event_type) in ["order.paid", "order.created", "refund.issued"].into_iter().enumerate() {
        f.event(event_type, f.at(n as i64)).await;
    }
    let claim = f.claim_all(f.at(10)).await;
    let mut types: Vec<&str> = claim.deliveries.iter().map(|d| d.event_type.as_str()).collect();
    types.sort();
    assert_eq!(types, ["order.paid", "refund.issued"]);
    assert!(claim.deliveries.iter().all(|d| d.webhook_id == by_type.id));
    assert_eq!(hour_of(&f, &failing.id).await.condition_errors, 3);
}

async fn another_accounts_webhooks_never_get_the_event(f: Fixture) {
    let other = crate::new_account(f.store.as_ref(), "Other", f.t0).await;
    f.webhook_in(&other, json!({})).await;
    assert_eq!(f.event("x", f.at(0)).await.deliveries, 0);
    assert!(f.claim_all(f.at(0)).await.deliveries.is_empty());
}

/// The statistics of the fixture's first hour for a webhook.
pub async fn hour_of(f: &Fixture, webhook_id: &str) -> StatsBucket {
    let stats = f
        .store
        .webhook_stats(
            &f.account,
            webhook_id,
            &StatsQuery {
                since: f.t0,
                until: f.at(3600),
                bucket: Bucket::Hour,
            },
        )
        .await
        .unwrap();
    stats.into_iter().next().unwrap_or_default()
}
