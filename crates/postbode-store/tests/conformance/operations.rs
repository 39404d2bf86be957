//! Validated domains and the verifications they set, erasure, the queue's gauges, and
//! field triggers in routing.

use crate::profiles::{bodies, change, create, database, values};
use crate::{Fixture, claim_request, conformance, custom, new_account};
use chrono::Duration;
use postbode_core::domain::{Domain, DomainStatus};
use postbode_core::event::EventScope;
use postbode_core::ids;
use postbode_core::mail::Mailing;
use postbode_core::page::PageRequest;
use postbode_core::profile::Edit;
use postbode_core::webhook::{Source, VerificationStatus};
use postbode_store::*;
use serde_json::json;

conformance!(
    domains_belong_to_one_account_and_only_validated_ones_are_listed_as_such,
    verifications_are_saved_unless_the_url_moved_meanwhile,
    an_erasure_removes_the_profiles_events_in_batches_and_nothing_else,
    the_result_of_an_erased_delivery_leaves_nothing_behind,
    queue_gauges_count_pending_due_and_leased_deliveries,
    fields_changed_limits_updates_to_those_that_change_a_listed_field,
);

fn domain(account: &str, name: &str, f: &Fixture) -> Domain {
    Domain {
        id: ids::new_id(ids::DOMAIN),
        account_id: account.to_owned(),
        domain: name.to_owned(),
        token: "token".into(),
        status: DomainStatus::Pending,
        checked_at: None,
        outcome: None,
        created_at: f.t0,
    }
}

fn first_page() -> PageRequest {
    PageRequest { after: None, limit: 50 }
}

async fn domains_belong_to_one_account_and_only_validated_ones_are_listed_as_such(f: Fixture) {
    let other = new_account(f.store.as_ref(), "Other", f.t0).await;
    let mut mine = domain(&f.account, "example.com", &f);
    assert!(f.store.create_domain(&mine).await.unwrap());
    assert!(
        !f.store
            .create_domain(&domain(&f.account, "example.com", &f))
            .await
            .unwrap(),
        "once per account"
    );
    let theirs = domain(&other, "example.com", &f);
    assert!(
        f.store.create_domain(&theirs).await.unwrap(),
        "another account may claim it too"
    );
    assert!(f.store.get_domain(&other, &mine.id).await.unwrap().is_none());
    assert!(!f.store.delete_domain(&other, &mine.id).await.unwrap());
    mine.status = DomainStatus::Validated;
    mine.checked_at = Some(f.at(5));
    mine.outcome = Some("found".into());
    assert!(
        !f.store
            .update_domain(&Domain {
                account_id: other.clone(),
                ..mine.clone()
            })
            .await
            .unwrap()
    );
    assert!(f.store.update_domain(&mine).await.unwrap());
    assert_eq!(
        f.store.get_domain(&f.account, &mine.id).await.unwrap(),
        Some(mine.clone())
    );
    assert_eq!(f.store.validated_domains(&f.account).await.unwrap(), ["example.com"]);
    assert!(f.store.validated_domains(&other).await.unwrap().is_empty());
    let listed = f.store.list_domains(&f.account, &first_page()).await.unwrap();
    assert_eq!(listed.data, [mine.clone()]);
    assert!(f.store.delete_domain(&f.account, &mine.id).await.unwrap());
    assert!(f.store.validated_domains(&f.account).await.unwrap().is_empty());
}

async fn verifications_are_saved_unless_the_url_moved_meanwhile(f: Fixture) {
    let stored = f.webhook(json!({"url": "https://hooks.example.com/a"})).await;
    let mut settled = stored.clone();
    settled.verification.status = VerificationStatus::Pending;
    settled.verification.domain = Some("example.com".into());
    f.store.save_verifications(&[&settled]).await.unwrap();
    let read = f.store.get_webhook(&f.account, &stored.id).await.unwrap().unwrap();
    assert_eq!(read.verification, settled.verification);

    // The URL moved after the verification was decided: that decision is dropped.
    let mut moved = read.clone();
    moved.settings.url = "https://elsewhere.example.net/".into();
    assert!(f.store.update_webhook(&moved).await.unwrap());
    let mut stale = settled.clone();
    stale.verification.status = VerificationStatus::Verified;
    f.store.save_verifications(&[&stale]).await.unwrap();
    let read = f.store.get_webhook(&f.account, &stored.id).await.unwrap().unwrap();
    assert_eq!(read.verification.status, VerificationStatus::Pending);
}

fn about(profile: &str, event_type: &str, at: chrono::DateTime<chrono::Utc>) -> NewEvent {
    NewEvent {
        scope: EventScope {
            profile_id: Some(profile.to_owned()),
            ..EventScope::default()
        },
        ..custom(event_type, at)
    }
}

async fn an_erasure_removes_the_profiles_events_in_batches_and_nothing_else(f: Fixture) {
    f.webhook(json!({})).await;
    let events = vec![
        about("prf_gone", "a", f.at(0)),
        about("prf_gone", "b", f.at(0)),
        about("prf_gone", "c", f.at(0)),
        about("prf_kept", "d", f.at(0)),
        custom("e", f.at(0)),
    ];
    f.store.ingest(&f.account, events, f.at(0), true).await.unwrap();
    // One delivery has been attempted (and is waiting for a retry).
    let claim = f.store.claim(claim_request(f.at(0), 1, 100)).await.unwrap();
    let claimed = &claim.deliveries[0];
    f.store.record_attempt(failed_attempt(&f, claimed, 1)).await.unwrap();
    let message = Message {
        id: ids::new_id(ids::MESSAGE),
        account_id: f.account.clone(),
        mailing: Mailing {
            id: "m".into(),
            name: None,
            tags: vec![],
        },
        email: "gone@example.com".into(),
        profile_id: Some("prf_gone".into()),
        subprofile_id: None,
        created_at: f.t0,
    };
    f.store.create_message(&message).await.unwrap();
    // Made after the erasure began: kept.
    let before = ids::new_id(ids::EVENT);
    let later = f
        .store
        .ingest(&f.account, vec![about("prf_gone", "f", f.at(1))], f.at(1), true)
        .await
        .unwrap();

    let other = new_account(f.store.as_ref(), "Other", f.t0).await;
    let nothing = f
        .store
        .erase_profile_batch(&other, "prf_gone", &before, 2)
        .await
        .unwrap();
    assert!(nothing.is_empty(), "another account's erasure touches nothing");

    let first = f
        .store
        .erase_profile_batch(&f.account, "prf_gone", &before, 2)
        .await
        .unwrap();
    assert_eq!((first.events, first.deliveries, first.messages), (2, 2, 1));
    let mut total = first;
    loop {
        let batch = f
            .store
            .erase_profile_batch(&f.account, "prf_gone", &before, 2)
            .await
            .unwrap();
        if batch.is_empty() {
            break;
        }
        total.add(batch);
    }
    assert_eq!(
        total,
        Erased {
            events: 3,
            deliveries: 3,
            attempts: u64::from(claimed_is_about_gone(&f, claimed).await),
            messages: 1,
        }
    );
    assert!(f.store.message_context(&message.id).await.unwrap().is_none());
    assert!(
        f.store
            .get_event(&f.account, &later[0].event_id)
            .await
            .unwrap()
            .is_some()
    );
    // What is left: d, e and f.
    let left = f.claim_all(f.at(100_000)).await;
    let mut types: Vec<&str> = left.deliveries.iter().map(|d| d.event_type.as_str()).collect();
    types.sort();
    assert!(types.iter().all(|t| ["d", "e", "f"].contains(t)), "{types:?}");
}

/// Whether the claimed delivery was one of the erased profile's (its attempt goes too).
async fn claimed_is_about_gone(f: &Fixture, claimed: &ClaimedDelivery) -> bool {
    f.store
        .get_event(&f.account, &claimed.event_id)
        .await
        .unwrap()
        .is_none()
}

fn failed_attempt(f: &Fixture, claimed: &ClaimedDelivery, number: u32) -> AttemptResult {
    AttemptResult {
        account_id: f.account.clone(),
        attempt: Attempt {
            id: ids::new_id(ids::ATTEMPT),
            delivery_id: Some(claimed.delivery_id.clone()),
            webhook_id: claimed.webhook_id.clone(),
            event_id: Some(claimed.event_id.clone()),
            number,
            trigger: Trigger::Scheduled,
            started_at: f.at(0),
            duration_ms: 5,
            status_code: Some(500),
            error_kind: None,
            error: None,
            response_body: Some("echo of the data".into()),
        },
        outcome: AttemptOutcome::RetryAt(f.at(60)),
        disable_webhook: None,
        disable_if_failing_since: f.at(0) - Duration::days(5),
    }
}

async fn the_result_of_an_erased_delivery_leaves_nothing_behind(f: Fixture) {
    let webhook = f.webhook(json!({})).await;
    f.store
        .ingest(
            &f.account,
            vec![about("prf_gone", "a", f.at(0)), custom("b", f.at(0))],
            f.at(0),
            true,
        )
        .await
        .unwrap();
    let claim = f.claim_all(f.at(0)).await;
    let gone = claim.deliveries.iter().find(|d| d.event_type == "a").unwrap();
    let kept = claim.deliveries.iter().find(|d| d.event_type == "b").unwrap();
    let erased = f
        .store
        .erase_profile_batch(&f.account, "prf_gone", &ids::new_id(ids::EVENT), 10)
        .await
        .unwrap();
    assert_eq!(erased.deliveries, 1);
    // The call was out while the delivery was erased; its result and another come back.
    f.store.record_attempt(failed_attempt(&f, gone, 1)).await.unwrap();
    f.store.record_attempt(failed_attempt(&f, kept, 1)).await.unwrap();
    let attempts = f
        .store
        .list_attempts(
            &f.account,
            &AttemptQuery {
                webhook_id: webhook.id.clone(),
                status: None,
                since: None,
                until: None,
                page: first_page(),
            },
        )
        .await
        .unwrap();
    let logged: Vec<Option<&str>> = attempts.data.iter().map(|a| a.delivery_id.as_deref()).collect();
    assert_eq!(logged, [Some(kept.delivery_id.as_str())]);
}

async fn queue_gauges_count_pending_due_and_leased_deliveries(f: Fixture) {
    assert_eq!(f.store.queue_gauges(f.at(0)).await.unwrap(), QueueGauges::default());
    f.webhook(json!({})).await;
    f.event("a", f.at(0)).await;
    f.event("b", f.at(10)).await;
    f.event("c", f.at(100)).await;
    // At 20 s: a and b are due, c is not yet.
    let gauges = f.store.queue_gauges(f.at(20)).await.unwrap();
    assert_eq!((gauges.pending, gauges.due, gauges.leased), (3, 2, 0));
    assert_eq!(gauges.oldest_due_at, Some(f.at(0)));
    let claim = f.store.claim(claim_request(f.at(20), 1, 100)).await.unwrap();
    assert_eq!(claim.deliveries[0].event_type, "a");
    let gauges = f.store.queue_gauges(f.at(20)).await.unwrap();
    assert_eq!((gauges.pending, gauges.due, gauges.leased), (3, 1, 1));
    assert_eq!(gauges.oldest_due_at, Some(f.at(10)));
}

async fn fields_changed_limits_updates_to_those_that_change_a_listed_field(f: Fixture) {
    let database = database(&f).await;
    f.webhook(json!({ "database_id": database.id, "fields_changed": ["email"] }))
        .await;
    let (id, created) = create(&database, json!({"email": "piet@example.com", "name": "Piet"}));
    change(&f, Source::Api, vec![created], 0).await;
    let edit = |fields: serde_json::Value| Change::EditProfile {
        id: id.clone(),
        edit: Edit::Merge,
        values: values(fields),
        interests: None,
    };
    change(&f, Source::Api, vec![edit(json!({"name": "Pieter"}))], 1).await;
    change(&f, Source::Api, vec![edit(json!({"email": "pieter@example.com"}))], 2).await;
    change(&f, Source::Api, vec![Change::DeleteProfile { id: id.clone() }], 3).await;
    let bodies = bodies(&f, 4).await;
    let fired: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(fired, ["create", "update", "delete"], "the name's update does not fire");
    assert_eq!(bodies[1]["previous"], json!({"email": "piet@example.com"}));
}
