//! The event-type catalogue: an account's types are its own, a name is taken once, and
//! a type of which events exist is archived rather than deleted.

use crate::{Fixture, conformance};
use postbode_store::*;
use serde_json::json;

conformance!(
    a_type_is_kept_changed_and_listed_in_its_account_only,
    a_used_type_is_archived_and_an_unused_one_deleted,
);

fn order_paid(f: &Fixture) -> EventTypeRecord {
    EventTypeRecord {
        account_id: f.account.clone(),
        name: "order.paid".into(),
        description: Some("An order was paid.".into()),
        schema: Some(json!({"type": "object", "required": ["total"]})),
        example: Some(json!({"total": 19.95})),
        archived: false,
        created_at: f.t0,
        updated_at: f.t0,
    }
}

async fn a_type_is_kept_changed_and_listed_in_its_account_only(f: Fixture) {
    let t = order_paid(&f);
    assert!(f.store.create_event_type(&t).await.unwrap());
    assert!(!f.store.create_event_type(&t).await.unwrap(), "a name is taken once");
    assert_eq!(
        f.store.get_event_type(&f.account, "order.paid").await.unwrap(),
        Some(t.clone())
    );

    let changed = EventTypeRecord {
        description: None,
        schema: None,
        updated_at: f.at(60),
        ..t.clone()
    };
    assert!(f.store.update_event_type(&changed).await.unwrap());
    assert_eq!(
        f.store.list_event_types(&f.account).await.unwrap(),
        vec![changed.clone()]
    );

    let other = crate::new_account(&*f.store, "other", f.t0).await;
    assert!(f.store.list_event_types(&other).await.unwrap().is_empty());
    assert_eq!(f.store.get_event_type(&other, "order.paid").await.unwrap(), None);
    let theirs = EventTypeRecord {
        account_id: other.clone(),
        ..changed.clone()
    };
    assert!(
        f.store.create_event_type(&theirs).await.unwrap(),
        "another account's name is free"
    );
    assert_eq!(
        f.store.remove_event_type(&other, "order.paid", f.at(1)).await.unwrap(),
        Some(Removal::Deleted)
    );
    assert_eq!(
        f.store.get_event_type(&f.account, "order.paid").await.unwrap(),
        Some(changed)
    );
}

async fn a_used_type_is_archived_and_an_unused_one_deleted(f: Fixture) {
    f.store.create_event_type(&order_paid(&f)).await.unwrap();
    let unused = EventTypeRecord {
        name: "order.refunded".into(),
        ..order_paid(&f)
    };
    f.store.create_event_type(&unused).await.unwrap();
    f.event("order.paid", f.at(0)).await;

    let removed = f
        .store
        .remove_event_type(&f.account, "order.paid", f.at(5))
        .await
        .unwrap();
    assert_eq!(removed, Some(Removal::Archived));
    let kept = f.store.get_event_type(&f.account, "order.paid").await.unwrap().unwrap();
    assert!(kept.archived);
    assert_eq!(kept.updated_at, f.at(5));

    let removed = f
        .store
        .remove_event_type(&f.account, "order.refunded", f.at(5))
        .await
        .unwrap();
    assert_eq!(removed, Some(Removal::Deleted));
    assert_eq!(
        f.store.get_event_type(&f.account, "order.refunded").await.unwrap(),
        None
    );
    assert_eq!(
        f.store.remove_event_type(&f.account, "nothing", f.at(5)).await.unwrap(),
        None
    );
}
