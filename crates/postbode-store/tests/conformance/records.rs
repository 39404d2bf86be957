//! Plain records: tenant isolation, paging, signing keys, statistics by day.

use crate::{Fixture, conformance};
use postbode_core::page::PageRequest;
use postbode_core::signing_keys::KeySchedule;
use postbode_store::*;
use serde_json::json;

conformance!(
    another_accounts_records_are_out_of_reach,
    lists_page_by_cursor,
    signing_keys_are_saved_and_rescheduled,
    signing_keys_decided_from_the_same_keys_are_added_once,
    statistics_add_up_by_day,
    the_delivery_log_is_read_newest_first_and_filtered,
    api_keys_are_listed_without_their_hashes,
);

fn page(after: Option<String>, limit: u32) -> PageRequest {
    PageRequest { after, limit }
}

async fn another_accounts_records_are_out_of_reach(f: Fixture) {
    let webhook = f.webhook(json!({})).await;
    let event = f.event("x", f.at(0)).await;
    let other = crate::new_account(f.store.as_ref(), "Other", f.t0).await;
    assert!(f.store.get_webhook(&other, &webhook.id).await.unwrap().is_none());
    assert!(!f.store.delete_webhook(&other, &webhook.id).await.unwrap());
    assert!(f.store.get_event(&other, &event.event_id).await.unwrap().is_none());
    let list = f
        .store
        .list_webhooks(&other, &WebhookFilter::default(), &page(None, 10))
        .await
        .unwrap();
    assert!(list.data.is_empty());
    let mut moved = webhook.clone();
    moved.account_id = other.clone();
    assert!(!f.store.update_webhook(&moved).await.unwrap());
    assert!(f.store.get_webhook(&f.account, &webhook.id).await.unwrap().is_some());
}

async fn lists_page_by_cursor(f: Fixture) {
    let mut made = Vec::new();
    for n in 0..5 {
        made.push(f.webhook(json!({ "description": format!("hook {n}") })).await.id);
    }
    made.sort();
    let first = f
        .store
        .list_webhooks(&f.account, &WebhookFilter::default(), &page(None, 2))
        .await
        .unwrap();
    assert_eq!(
        first.data.iter().map(|w| &w.id).collect::<Vec<_>>(),
        [&made[0], &made[1]]
    );
    let rest = f
        .store
        .list_webhooks(&f.account, &WebhookFilter::default(), &page(first.next_cursor, 10))
        .await
        .unwrap();
    assert_eq!(rest.data.len(), 3);
    assert_eq!(rest.next_cursor, None);
}

async fn signing_keys_are_saved_and_rescheduled(f: Fixture) {
    let schedule = KeySchedule {
        activates_at: f.at(0),
        retires_at: f.at(100),
        expires_at: f.at(200),
    };
    let key = SigningKeyRecord {
        id: "sk_1".into(),
        algorithm: "rsa".into(),
        selector: "pb1".into(),
        sealed_private_key: "sealed".into(),
        public_key: vec![1, 2, 3],
        schedule,
        created_at: f.t0,
    };
    assert!(
        f.store
            .save_signing_keys(std::slice::from_ref(&key), &[], &[])
            .await
            .unwrap()
    );
    let later = KeySchedule {
        retires_at: f.at(50),
        ..schedule
    };
    assert!(
        f.store
            .save_signing_keys(&[], &[("sk_1".into(), later)], &["sk_1"])
            .await
            .unwrap()
    );
    let stored = f.store.list_signing_keys().await.unwrap();
    assert_eq!(stored, [SigningKeyRecord { schedule: later, ..key }]);
}

/// Two nodes that decided a rotation from the same keys, at once: one key is added,
/// the other node is told the keys changed under it and adds nothing.
async fn signing_keys_decided_from_the_same_keys_are_added_once(f: Fixture) {
    let key = |id: &str| SigningKeyRecord {
        id: id.into(),
        algorithm: "ed25519".into(),
        selector: format!("pb{id}"),
        sealed_private_key: "sealed".into(),
        public_key: vec![1, 2, 3],
        schedule: KeySchedule {
            activates_at: f.at(0),
            retires_at: f.at(100),
            expires_at: f.at(200),
        },
        created_at: f.t0,
    };
    let (a, b) = (key("sk_a"), key("sk_b"));
    let (saved_a, saved_b) = tokio::join!(
        f.store.save_signing_keys(std::slice::from_ref(&a), &[], &[]),
        f.store.save_signing_keys(std::slice::from_ref(&b), &[], &[]),
    );
    let (saved_a, saved_b) = (saved_a.unwrap(), saved_b.unwrap());
    assert!(saved_a != saved_b, "exactly one saved: {saved_a} {saved_b}");
    let stored = f.store.list_signing_keys().await.unwrap();
    assert_eq!(stored.len(), 1);
    let winner = stored[0].id.clone();
    // Decided again from what is stored now, it goes in.
    let c = key("sk_c");
    assert!(
        f.store
            .save_signing_keys(std::slice::from_ref(&c), &[], &[winner.as_str()])
            .await
            .unwrap()
    );
    assert!(
        !f.store
            .save_signing_keys(&[key("sk_d")], &[], &[winner.as_str()])
            .await
            .unwrap(),
        "a decision from keys since changed is refused"
    );
    assert_eq!(f.store.list_signing_keys().await.unwrap().len(), 2);
}

async fn statistics_add_up_by_day(f: Fixture) {
    let webhook = f.webhook(json!({})).await;
    let mut claimed = Vec::new();
    for hours in [0, 1, 30] {
        let at = f.at(hours * 3600);
        f.event("x", at).await;
        claimed.push((at, f.claim_all(at).await.deliveries.remove(0)));
    }
    for (at, delivery) in &claimed {
        f.store
            .record_attempt(crate::results::result(
                delivery,
                *at,
                Some(200),
                AttemptOutcome::Delivered,
            ))
            .await
            .unwrap();
    }
    let query = |bucket| StatsQuery {
        since: f.t0,
        until: f.at(3 * 86400),
        bucket,
    };
    let hours = f
        .store
        .webhook_stats(&f.account, &webhook.id, &query(Bucket::Hour))
        .await
        .unwrap();
    assert_eq!(hours.len(), 3);
    let days = f
        .store
        .webhook_stats(&f.account, &webhook.id, &query(Bucket::Day))
        .await
        .unwrap();
    assert_eq!(days.iter().map(|d| d.delivered).collect::<Vec<_>>(), [2, 1]);
    let other = crate::new_account(f.store.as_ref(), "Other", f.t0).await;
    assert!(
        f.store
            .webhook_stats(&other, &webhook.id, &query(Bucket::Day))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn the_delivery_log_is_read_newest_first_and_filtered(f: Fixture) {
    let webhook = f.webhook(json!({})).await;
    let other = f.webhook(json!({})).await;
    f.event("order.paid", f.at(0)).await;
    f.event("order.sent", f.at(1)).await;
    let claim = f.claim_all(f.at(2)).await;
    let mine: Vec<&ClaimedDelivery> = claim.deliveries.iter().filter(|d| d.webhook_id == webhook.id).collect();
    for (n, delivery) in claim.deliveries.iter().enumerate() {
        let outcome = if delivery.event_type == "order.paid" {
            AttemptOutcome::Delivered
        } else {
            AttemptOutcome::RetryAt(f.at(600))
        };
        let status = if outcome == AttemptOutcome::Delivered { 200 } else { 500 };
        f.store
            .record_attempt(crate::results::result(
                delivery,
                f.at(3 + n as i64),
                Some(status),
                outcome,
            ))
            .await
            .unwrap();
    }
    let query = |status, event_type: Option<&str>| DeliveryQuery {
        webhook_id: webhook.id.clone(),
        status,
        event_type: event_type.map(str::to_owned),
        since: None,
        until: None,
        page: page(None, 10),
        ..DeliveryQuery::default()
    };
    let all = f.store.list_deliveries(&f.account, &query(None, None)).await.unwrap();
    assert_eq!(all.data.len(), 2);
    assert!(all.data[0].id > all.data[1].id, "newest first");
    let pending = f
        .store
        .list_deliveries(&f.account, &query(Some(DeliveryStatus::Pending), None))
        .await
        .unwrap();
    assert_eq!(pending.data.len(), 1);
    let paid = f
        .store
        .list_deliveries(&f.account, &query(None, Some("order.paid")))
        .await
        .unwrap();
    assert_eq!(paid.data.len(), 1);
    assert_eq!(paid.data[0].status, DeliveryStatus::Delivered);
    let stranger = crate::new_account(f.store.as_ref(), "Other", f.t0).await;
    assert!(
        f.store
            .list_deliveries(&stranger, &query(None, None))
            .await
            .unwrap()
            .data
            .is_empty()
    );

    let attempts = f
        .store
        .delivery_attempts(&f.account, &mine[0].delivery_id)
        .await
        .unwrap();
    assert_eq!(attempts.len(), 1);
    let latest = f
        .store
        .latest_attempts(&f.account, &[&webhook.id, &other.id])
        .await
        .unwrap();
    assert_eq!(latest.len(), 2);
    assert!(latest[&webhook.id].started_at >= f.at(3));
    let stats = f
        .store
        .account_stats(
            &f.account,
            &StatsQuery {
                since: f.t0,
                until: f.at(3600),
                bucket: Bucket::Hour,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (stats[0].delivered, stats[0].attempts),
        (2, 4),
        "both webhooks added up"
    );
    assert_eq!(stats[0].latency_p50_ms, Some(12));
}

async fn api_keys_are_listed_without_their_hashes(f: Fixture) {
    let keys = f.store.list_api_keys(&f.account).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].id.starts_with("key_"));
    let other = crate::new_account(f.store.as_ref(), "Other", f.t0).await;
    assert_eq!(f.store.list_api_keys(&other).await.unwrap().len(), 1);
    assert_ne!(f.store.list_api_keys(&other).await.unwrap()[0].id, keys[0].id);
}
