//! What an attempt's result does to the delivery, the webhook and the statistics.

use crate::routing::hour_of;
use crate::{Fixture, conformance};
use chrono::{DateTime, Duration, Utc};
use postbode_store::*;
use serde_json::json;

conformance!(
    a_delivered_attempt_ends_the_delivery_and_counts,
    a_failed_attempt_waits_for_its_retry_then_fails_for_good,
    a_run_of_failures_disables_the_webhook_after_the_limit,
    a_gone_receiver_disables_at_once_and_its_deliveries_wait,
    a_test_call_is_logged_but_not_counted,
);

pub fn result(
    delivery: &ClaimedDelivery,
    at: DateTime<Utc>,
    status: Option<u16>,
    outcome: AttemptOutcome,
) -> AttemptResult {
    AttemptResult {
        account_id: delivery.account_id.clone(),
        attempt: Attempt {
            id: postbode_core::ids::new_id(postbode_core::ids::ATTEMPT),
            delivery_id: Some(delivery.delivery_id.clone()),
            webhook_id: delivery.webhook_id.clone(),
            event_id: Some(delivery.event_id.clone()),
            number: delivery.attempts + 1,
            trigger: delivery.trigger,
            started_at: at,
            duration_ms: 12,
            status_code: status,
            error_kind: status.is_none().then(|| "connect".to_owned()),
            error: None,
            response_body: Some("ok".into()),
        },
        outcome,
        disable_webhook: None,
        disable_if_failing_since: at - Duration::days(5),
    }
}

async fn a_delivered_attempt_ends_the_delivery_and_counts(f: Fixture) {
    let webhook = f.webhook(json!({})).await;
    f.event("x", f.at(0)).await;
    let claimed = f.claim_all(f.at(0)).await.deliveries.remove(0);
    f.store
        .record_attempt(result(&claimed, f.at(1), Some(200), AttemptOutcome::Delivered))
        .await
        .unwrap();
    let delivery = f
        .store
        .get_delivery(&f.account, &claimed.delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.status, DeliveryStatus::Delivered);
    assert_eq!(delivery.attempts, 1);
    assert_eq!(delivery.last_status_code, Some(200));
    assert_eq!(delivery.delivered_at, Some(f.at(1) + Duration::milliseconds(12)));
    assert!(f.claim_all(f.at(600)).await.deliveries.is_empty());
    let stats = hour_of(&f, &webhook.id).await;
    assert_eq!((stats.delivered, stats.failed, stats.attempts), (1, 0, 1));
    assert_eq!(stats.latency_p50_ms, Some(12));
    let attempts = f
        .store
        .list_attempts(
            &f.account,
            &AttemptQuery {
                webhook_id: webhook.id.clone(),
                status: None,
                since: None,
                until: None,
                page: postbode_core::page::PageRequest { after: None, limit: 10 },
            },
        )
        .await
        .unwrap();
    assert_eq!(attempts.data.len(), 1);
    assert_eq!(attempts.data[0].status_code, Some(200));
    assert_eq!(attempts.data[0].response_body.as_deref(), Some("ok"));
}

async fn a_failed_attempt_waits_for_its_retry_then_fails_for_good(f: Fixture) {
    let webhook = f.webhook(json!({})).await;
    f.event("x", f.at(0)).await;
    let first = f.claim_all(f.at(0)).await.deliveries.remove(0);
    f.store
        .record_attempt(result(&first, f.at(1), Some(500), AttemptOutcome::RetryAt(f.at(60))))
        .await
        .unwrap();
    assert!(
        f.claim_all(f.at(59)).await.deliveries.is_empty(),
        "not before its retry is due"
    );
    let second = f.claim_all(f.at(60)).await.deliveries.remove(0);
    assert_eq!(second.attempts, 1);
    f.store
        .record_attempt(result(&second, f.at(61), None, AttemptOutcome::Failed))
        .await
        .unwrap();
    let delivery = f
        .store
        .get_delivery(&f.account, &first.delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.status, DeliveryStatus::Failed);
    assert_eq!(delivery.attempts, 2);
    let stats = hour_of(&f, &webhook.id).await;
    assert_eq!((stats.delivered, stats.failed, stats.attempts), (0, 1, 2));
    let health = f.store.get_webhook(&f.account, &webhook.id).await.unwrap().unwrap();
    assert_eq!(health.failing_since, Some(f.at(1)));
}

async fn a_run_of_failures_disables_the_webhook_after_the_limit(f: Fixture) {
    let webhook = f.webhook(json!({})).await;
    f.event("x", f.at(0)).await;
    let claimed = f.claim_all(f.at(0)).await.deliveries.remove(0);
    f.store
        .record_attempt(result(&claimed, f.at(1), Some(503), AttemptOutcome::RetryAt(f.at(10))))
        .await
        .unwrap();
    // A success ends the run.
    let retried = f.claim_all(f.at(10)).await.deliveries.remove(0);
    f.store
        .record_attempt(result(&retried, f.at(11), Some(200), AttemptOutcome::Delivered))
        .await
        .unwrap();
    assert_eq!(
        f.store
            .get_webhook(&f.account, &webhook.id)
            .await
            .unwrap()
            .unwrap()
            .failing_since,
        None
    );
    // A new run that lasts past the limit (five days here) disables the webhook.
    f.event("x", f.at(20)).await;
    let claimed = f.claim_all(f.at(20)).await.deliveries.remove(0);
    let start = f.at(21);
    f.store
        .record_attempt(result(
            &claimed,
            start,
            None,
            AttemptOutcome::RetryAt(start + Duration::days(6)),
        ))
        .await
        .unwrap();
    let stored = f.store.get_webhook(&f.account, &webhook.id).await.unwrap().unwrap();
    assert!(stored.settings.enabled);
    assert_eq!(stored.failing_since, Some(start));
    let later = start + Duration::days(6);
    let claimed = f.claim_all(later).await.deliveries.remove(0);
    f.store
        .record_attempt(result(
            &claimed,
            later,
            None,
            AttemptOutcome::RetryAt(later + Duration::hours(1)),
        ))
        .await
        .unwrap();
    let stored = f.store.get_webhook(&f.account, &webhook.id).await.unwrap().unwrap();
    assert!(!stored.settings.enabled);
    assert_eq!(
        stored.disabled_reason.as_deref(),
        Some("every call has failed since 2026-11-20T10:00:21Z")
    );
}

async fn a_gone_receiver_disables_at_once_and_its_deliveries_wait(f: Fixture) {
    let mut webhook = f.webhook(json!({})).await;
    f.event("x", f.at(0)).await;
    f.event("y", f.at(0)).await;
    let mut claim = f.claim_all(f.at(0)).await;
    let first = claim.deliveries.remove(0);
    let mut gone = result(&first, f.at(1), Some(410), AttemptOutcome::RetryAt(f.at(2)));
    gone.disable_webhook = Some("the receiver answered 410 Gone".into());
    f.store.record_attempt(gone).await.unwrap();
    f.store
        .release(vec![claim.deliveries.remove(0).delivery_id])
        .await
        .unwrap();
    let stored = f.store.get_webhook(&f.account, &webhook.id).await.unwrap().unwrap();
    assert!(!stored.settings.enabled);
    assert_eq!(
        stored.disabled_reason.as_deref(),
        Some("the receiver answered 410 Gone")
    );
    assert!(
        f.claim_all(f.at(10)).await.deliveries.is_empty(),
        "a disabled webhook's deliveries wait"
    );
    // Enabled again, both go, and no attempt was spent on the one that waited.
    webhook.settings.enabled = true;
    webhook.disabled_reason = None;
    f.store.update_webhook(&webhook).await.unwrap();
    let again = f.claim_all(f.at(10)).await;
    let mut attempts: Vec<u32> = again.deliveries.iter().map(|d| d.attempts).collect();
    attempts.sort();
    assert_eq!(attempts, [0, 1]);
}

async fn a_test_call_is_logged_but_not_counted(f: Fixture) {
    let webhook = f.webhook(json!({})).await;
    f.event("x", f.at(0)).await;
    let claimed = f.claim_all(f.at(0)).await.deliveries.remove(0);
    let mut test = result(&claimed, f.at(1), Some(500), AttemptOutcome::Failed);
    test.attempt.trigger = Trigger::Test;
    test.attempt.delivery_id = None;
    f.store.record_attempt(test).await.unwrap();
    let stats = hour_of(&f, &webhook.id).await;
    assert_eq!((stats.failed, stats.attempts), (0, 0));
    assert_eq!(
        f.store
            .get_webhook(&f.account, &webhook.id)
            .await
            .unwrap()
            .unwrap()
            .failing_since,
        None
    );
    let delivery = f
        .store
        .get_delivery(&f.account, &claimed.delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.status, DeliveryStatus::Pending);
}
