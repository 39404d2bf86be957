//! The delivery log's reads: a delivery found by its id, its event's id or the
//! idempotency key its event was sent with; pages towards older and newer deliveries;
//! counts for a filter, stopped at a cap; each delivery's latest attempt.

use crate::{Fixture, conformance, custom};
use chrono::Duration;
use postbode_core::page::PageRequest;
use postbode_store::*;
use serde_json::json;

conformance!(
    a_delivery_is_found_by_its_id_its_events_id_or_its_idempotency_key,
    a_delivery_is_found_by_the_words_of_its_events_body,
    the_log_pages_both_ways_and_counts_up_to_a_cap,
);

fn page(after: Option<&str>, limit: u32) -> PageRequest {
    PageRequest {
        after: after.map(str::to_owned),
        limit,
    }
}

async fn a_delivery_is_found_by_its_id_its_events_id_or_its_idempotency_key(f: Fixture) {
    let webhook = f.webhook(json!({})).await;
    let other = f.webhook(json!({})).await;
    let mut keyed = custom("order.paid", f.at(0));
    keyed.idempotency = Some(IdempotencyKey {
        key: "order-4711".into(),
        request_hash: vec![1; 32],
        expires_at: f.at(0) + Duration::hours(24),
    });
    let event = f
        .store
        .ingest(&f.account, vec![keyed], f.at(0), true)
        .await
        .unwrap()
        .remove(0);
    f.event("order.paid", f.at(1)).await;
    let search = |term: &str| DeliveryQuery {
        webhook_id: webhook.id.clone(),
        search: Some(term.to_owned()),
        page: page(None, 10),
        ..DeliveryQuery::default()
    };
    let (found, _) = f.store.get_event(&f.account, &event.event_id).await.unwrap().unwrap();
    let mine = f
        .store
        .list_deliveries(&f.account, &search(&event.event_id))
        .await
        .unwrap()
        .data;
    assert_eq!(mine.len(), 1, "{found:?}");
    assert_eq!(
        mine[0].webhook_id, webhook.id,
        "only this webhook's delivery of the event"
    );
    let id = mine[0].id.clone();
    for term in [id.as_str(), "order-4711"] {
        let listed = f.store.list_deliveries(&f.account, &search(term)).await.unwrap().data;
        assert_eq!(
            listed.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            [id.as_str()],
            "{term}"
        );
        assert_eq!(
            f.store.count_deliveries(&f.account, &search(term), 100).await.unwrap(),
            (1, true)
        );
    }
    for nothing in ["order-4712", "dlv_01NOTHING", ""] {
        assert!(
            f.store
                .list_deliveries(&f.account, &search(nothing))
                .await
                .unwrap()
                .data
                .is_empty()
        );
    }
    // Filters still hold beside the search, and another account finds nothing.
    let mut delivered_only = search(&event.event_id);
    delivered_only.status = Some(DeliveryStatus::Delivered);
    assert!(
        f.store
            .list_deliveries(&f.account, &delivered_only)
            .await
            .unwrap()
            .data
            .is_empty()
    );
    let stranger = crate::new_account(f.store.as_ref(), "Other", f.t0).await;
    assert!(
        f.store
            .list_deliveries(&stranger, &search("order-4711"))
            .await
            .unwrap()
            .data
            .is_empty()
    );
    let theirs = DeliveryQuery {
        webhook_id: other.id.clone(),
        ..search("order-4711")
    };
    assert_eq!(
        f.store.list_deliveries(&f.account, &theirs).await.unwrap().data.len(),
        1
    );
}

async fn the_log_pages_both_ways_and_counts_up_to_a_cap(f: Fixture) {
    let webhook = f.webhook(json!({})).await;
    for n in 0..5 {
        f.event(if n % 2 == 0 { "order.paid" } else { "order.sent" }, f.at(n))
            .await;
    }
    let query = |page, newer_than: Option<&str>| DeliveryQuery {
        webhook_id: webhook.id.clone(),
        newer_than: newer_than.map(str::to_owned),
        page,
        ..DeliveryQuery::default()
    };
    let all = f
        .store
        .list_deliveries(&f.account, &query(page(None, 10), None))
        .await
        .unwrap()
        .data;
    let ids: Vec<&str> = all.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids.len(), 5);
    let first = f
        .store
        .list_deliveries(&f.account, &query(page(None, 2), None))
        .await
        .unwrap();
    assert_eq!(first.data.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ids[..2]);
    let older = f
        .store
        .list_deliveries(&f.account, &query(page(first.next_cursor.as_deref(), 2), None))
        .await
        .unwrap();
    assert_eq!(older.data.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ids[2..4]);
    // Back towards newer ones: still newest first, and a cursor while newer ones remain.
    let newer = f
        .store
        .list_deliveries(&f.account, &query(page(None, 2), Some(ids[4])))
        .await
        .unwrap();
    assert_eq!(newer.data.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ids[2..4]);
    assert_eq!(newer.next_cursor.as_deref(), Some(ids[2]));
    let newest = f
        .store
        .list_deliveries(&f.account, &query(page(None, 2), newer.next_cursor.as_deref()))
        .await
        .unwrap();
    assert_eq!(newest.data.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ids[..2]);
    assert_eq!(newest.next_cursor, None, "nothing newer");

    // A filtered page reads a bounded window: fewer rows than asked, and a cursor past
    // the window while older deliveries remain. ids[0], ids[2], ids[4] are order.paid.
    let windowed = |after: Option<&str>| DeliveryQuery {
        event_type: Some("order.paid".to_owned()),
        scan: Some(2),
        ..query(page(after, 10), None)
    };
    let first_window = f.store.list_deliveries(&f.account, &windowed(None)).await.unwrap();
    assert_eq!(
        first_window.data.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        [ids[0]]
    );
    assert_eq!(first_window.next_cursor.as_deref(), Some(ids[1]), "past the window");
    let second = f
        .store
        .list_deliveries(&f.account, &windowed(first_window.next_cursor.as_deref()))
        .await
        .unwrap();
    assert_eq!(second.data.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), [ids[2]]);
    let last = f
        .store
        .list_deliveries(&f.account, &windowed(second.next_cursor.as_deref()))
        .await
        .unwrap();
    assert_eq!(last.data.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), [ids[4]]);
    assert_eq!(last.next_cursor, None, "the window was not full: nothing older");

    let count = |event_type: Option<&str>, cap| {
        let q = DeliveryQuery {
            event_type: event_type.map(str::to_owned),
            ..query(page(None, 2), None)
        };
        let store = f.store.clone();
        let account = f.account.clone();
        async move { store.count_deliveries(&account, &q, cap).await.unwrap() }
    };
    assert_eq!(count(None, 100).await, (5, true));
    assert_eq!(count(Some("order.paid"), 100).await, (3, true));
    assert_eq!(count(None, 4).await, (4, false), "the newest 4 only");
    assert_eq!(
        count(Some("order.paid"), 4).await,
        (2, false),
        "of the newest 4 (n = 4, 3, 2, 1)"
    );
    let window = DeliveryQuery {
        since: Some(f.at(1)),
        until: Some(f.at(3)),
        ..query(page(None, 10), None)
    };
    assert_eq!(
        f.store.count_deliveries(&f.account, &window, 100).await.unwrap(),
        (2, true)
    );
    let pending = DeliveryQuery {
        status: Some(DeliveryStatus::Pending),
        ..window
    };
    assert_eq!(
        f.store.count_deliveries(&f.account, &pending, 100).await.unwrap(),
        (2, true)
    );

    // Each delivery's latest attempt, read for a page at once.
    let claim = f.claim_all(f.at(10)).await;
    for (n, delivery) in claim.deliveries.iter().enumerate() {
        f.store
            .record_attempt(crate::results::result(
                delivery,
                f.at(11 + n as i64),
                Some(500),
                AttemptOutcome::Failed,
            ))
            .await
            .unwrap();
    }
    let events: Vec<&str> = all.iter().map(|d| d.event_id.as_str()).collect();
    let types = f.store.event_types(&f.account, &events).await.unwrap();
    assert_eq!(types[events[0]], "order.paid", "the newest, n = 4");
    assert_eq!(types[events[1]], "order.sent");
    let stranger_types = crate::new_account(f.store.as_ref(), "Nobody", f.t0).await;
    assert!(f.store.event_types(&stranger_types, &events).await.unwrap().is_empty());
    let latest = f.store.latest_delivery_attempts(&f.account, &ids).await.unwrap();
    assert_eq!(latest.len(), 5);
    assert_eq!(latest[ids[0]].status_code, Some(500));
    assert!(
        f.store
            .latest_delivery_attempts(&f.account, &[])
            .await
            .unwrap()
            .is_empty()
    );
    let stranger = crate::new_account(f.store.as_ref(), "Other", f.t0).await;
    assert!(
        f.store
            .latest_delivery_attempts(&stranger, &ids)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A custom event with `data` as its body.
fn with_body(data: serde_json::Value, at: chrono::DateTime<chrono::Utc>) -> NewEvent {
    NewEvent {
        body: data.to_string().into_bytes(),
        ..custom("order.paid", at)
    }
}

async fn a_delivery_is_found_by_the_words_of_its_events_body(f: Fixture) {
    let webhook = f.webhook(json!({})).await;
    let other_webhook = f.webhook(json!({})).await;
    let events = vec![
        with_body(json!({"customer": "Piet Jansen", "city": "Zürich"}), f.at(0)),
        with_body(json!({"customer": "Jan Piet", "note": "refund"}), f.at(1)),
        with_body(json!({"customer": "Klaas"}), f.at(2)),
    ];
    let ingested = f.store.ingest(&f.account, events, f.at(2), true).await.unwrap();
    let stranger = crate::new_account(&*f.store, "stranger", f.t0).await;
    f.store
        .ingest(
            &stranger,
            vec![with_body(json!({"customer": "Piet"}), f.at(3))],
            f.at(3),
            true,
        )
        .await
        .unwrap();
    let search = |webhook_id: &str, term: &str| DeliveryQuery {
        webhook_id: webhook_id.to_owned(),
        search: Some(term.to_owned()),
        page: page(None, 10),
        ..DeliveryQuery::default()
    };
    let found = |query: DeliveryQuery| {
        let store = f.store.clone();
        let account = f.account.clone();
        async move {
            let mut events: Vec<String> = store
                .list_deliveries(&account, &query)
                .await
                .unwrap()
                .data
                .into_iter()
                .map(|d| d.event_id)
                .collect();
            events.sort();
            events
        }
    };
    let ids = |n: &[usize]| {
        let mut ids: Vec<String> = n.iter().map(|&i| ingested[i].event_id.clone()).collect();
        ids.sort();
        ids
    };
    // Every word must occur, whatever its case or the punctuation around it.
    assert_eq!(found(search(&webhook.id, "piet")).await, ids(&[0, 1]));
    assert_eq!(found(search(&webhook.id, "PIET, zürich")).await, ids(&[0]));
    assert_eq!(found(search(&webhook.id, "refund piet")).await, ids(&[1]));
    assert!(found(search(&webhook.id, "amsterdam")).await.is_empty());
    // Only this webhook's deliveries, and never another account's events.
    let on_other = f
        .store
        .list_deliveries(&f.account, &search(&other_webhook.id, "piet"))
        .await
        .unwrap()
        .data;
    assert!(on_other.iter().all(|d| d.webhook_id == other_webhook.id));
    assert_eq!(on_other.len(), 2);
    // The count of a search counts what the search finds.
    let (n, exact) = f
        .store
        .count_deliveries(&f.account, &search(&webhook.id, "piet"), 1000)
        .await
        .unwrap();
    assert_eq!((n, exact), (2, true));
    // Combined with a filter.
    let delivered_only = DeliveryQuery {
        status: Some(DeliveryStatus::Delivered),
        ..search(&webhook.id, "piet")
    };
    assert!(found(delivered_only).await.is_empty());
}
