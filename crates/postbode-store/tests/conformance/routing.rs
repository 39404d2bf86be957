//! Which webhooks get an event.

use crate::{Fixture, claim_request, conformance, custom};
use postbode_core::webhook::VerificationStatus;
use postbode_store::*;
use serde_json::json;

conformance!(
    an_event_goes_to_each_enabled_webhook_that_wants_its_type,
    a_disabled_webhook_holds_its_events_until_it_is_enabled_again,
    a_held_backlog_does_not_stand_in_the_way_of_other_webhooks,
    the_answer_says_what_was_skipped_and_why,
    an_unverified_webhook_gets_nothing_and_the_skip_is_counted,
    a_condition_filters_and_its_errors_are_counted,
    another_accounts_webhooks_never_get_the_event,
);

async fn an_event_goes_to_each_enabled_webhook_that_wants_its_type(f: Fixture) {
    let paid = f.webhook(json!({ "events": ["order.paid"] })).await;
    let all = f.webhook(json!({ "events": ["all"] })).await;
    f.webhook(json!({ "events": ["order.created"] })).await;
    let disabled = f.webhook(json!({ "events": ["all"], "enabled": false })).await;
    let ingested = f.event("order.paid", f.at(0)).await;
    // The disabled webhook's delivery is made, and held.
    assert_eq!(ingested.deliveries, 3);
    assert_eq!(ingested.skipped.disabled_held, 1);
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
    assert_eq!(deliveries.len(), 3);
    assert!(deliveries.iter().all(|d| d.status == DeliveryStatus::Pending));
    assert!(deliveries.iter().any(|d| d.webhook_id == disabled.id));
}

async fn a_disabled_webhook_holds_its_events_until_it_is_enabled_again(f: Fixture) {
    let mut webhook = f.webhook(json!({ "enabled": false })).await;
    let mut events = Vec::new();
    for n in 0..3 {
        let ingested = f.event("order.paid", f.at(n)).await;
        assert_eq!((ingested.deliveries, ingested.skipped.disabled_held), (1, 1));
        events.push(ingested.event_id);
    }
    assert!(f.claim_all(f.at(10)).await.deliveries.is_empty(), "held, not claimed");
    assert_eq!(hour_of(&f, &webhook.id).await.held, 3);
    let undelivered = f.store.undelivered(&f.account, &[&webhook.id], f.t0).await.unwrap();
    assert_eq!(undelivered[&webhook.id].held, 3);

    webhook.settings.enabled = true;
    assert!(f.store.update_webhook(&webhook).await.unwrap());
    let claim = f.claim_all(f.at(20)).await;
    let mut claimed: Vec<String> = claim.deliveries.iter().map(|d| d.event_id.clone()).collect();
    claimed.sort();
    events.sort();
    assert_eq!(claimed, events, "every held event goes out once the webhook is enabled");
    assert!(
        claim.deliveries.iter().all(|d| d.attempts == 0),
        "holding spent no attempts"
    );
    let undelivered = f.store.undelivered(&f.account, &[&webhook.id], f.t0).await.unwrap();
    assert!(undelivered.is_empty(), "{undelivered:?}");
}

async fn a_held_backlog_does_not_stand_in_the_way_of_other_webhooks(f: Fixture) {
    f.webhook(json!({ "events": ["old"], "enabled": false })).await;
    let live = f.webhook(json!({ "events": ["new"] })).await;
    for n in 0..20 {
        f.event("old", f.at(n)).await;
    }
    let new = f.event("new", f.at(100)).await;
    // The held deliveries are older and more than the claim reads ahead.
    let claim = f.store.claim(claim_request(f.at(200), 1, 100)).await.unwrap();
    assert_eq!(claim.deliveries.len(), 1);
    assert_eq!(claim.deliveries[0].event_id, new.event_id);
    assert_eq!(claim.deliveries[0].webhook_id, live.id);
}

async fn the_answer_says_what_was_skipped_and_why(f: Fixture) {
    let mut unverified = f.webhook(json!({})).await;
    unverified.verification.status = VerificationStatus::Pending;
    assert!(f.store.update_webhook(&unverified).await.unwrap());
    f.webhook(json!({ "enabled": false })).await;
    f.webhook(json!({ "condition": "type == 'other'" })).await;
    f.webhook(json!({ "condition": "fields.name == 'piet'" })).await;
    f.webhook(json!({ "events": ["other"] })).await;
    f.webhook(json!({})).await;
    let ingested = f.event("x", f.at(0)).await;
    assert_eq!(ingested.deliveries, 2, "the held one and the plain one");
    assert_eq!(
        ingested.skipped,
        Skipped {
            unverified: 1,
            disabled_held: 1,
            condition: 1,
            condition_error: 1,
        }
    );
    assert_eq!(
        serde_json::to_value(Skipped {
            unverified: 1,
            ..Skipped::default()
        })
        .unwrap(),
        json!({ "unverified": 1 }),
        "only the reasons that happened are named"
    );
    let undelivered = f.store.undelivered(&f.account, &[&unverified.id], f.t0).await.unwrap();
    assert_eq!(undelivered[&unverified.id].skipped_unverified, 1);
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
