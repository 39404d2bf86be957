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
    statistics_add_up_by_day,
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
    f.store
        .save_signing_keys(std::slice::from_ref(&key), &[])
        .await
        .unwrap();
    let later = KeySchedule {
        retires_at: f.at(50),
        ..schedule
    };
    f.store.save_signing_keys(&[], &[("sk_1".into(), later)]).await.unwrap();
    let stored = f.store.list_signing_keys().await.unwrap();
    assert_eq!(stored, [SigningKeyRecord { schedule: later, ..key }]);
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
