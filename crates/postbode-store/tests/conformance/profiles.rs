//! What a profile change fires, and finding profiles by key.

use crate::{Fixture, conformance};
use postbode_core::profile::{Edit, UnsubscribeBehaviour, Values};
use postbode_core::webhook::Source;
use postbode_store::*;
use serde_json::{Value, json};

conformance!(
    changes_fire_with_sequence_previous_and_parameters,
    a_change_that_changes_nothing_fires_nothing,
    deleting_a_profile_deletes_its_subprofiles_each_with_an_event,
    imports_find_profiles_by_key_made_before_and_after,
);

pub fn values(v: Value) -> Values {
    v.as_object().unwrap().clone()
}

pub async fn database(f: &Fixture) -> Database {
    let database = Database {
        id: postbode_core::ids::new_id(postbode_core::ids::DATABASE),
        account_id: f.account.clone(),
        name: "Customers".into(),
        fields: serde_json::from_value(json!([
            {"name": "email", "type": "email"},
            {"name": "name", "type": "text"},
            {"name": "city", "type": "text"},
        ]))
        .unwrap(),
        unsubscribe: UnsubscribeBehaviour::Nothing,
        created_at: f.t0,
        updated_at: f.t0,
    };
    f.store.create_database(&database).await.unwrap();
    database
}

pub async fn change(f: &Fixture, source: Source, changes: Vec<Change>, at: i64) -> Vec<ChangeOutcome> {
    f.store
        .change_profiles(ChangeRequest {
            account_id: f.account.clone(),
            source,
            changes,
            now: f.at(at),
            require_verification: true,
        })
        .await
        .unwrap()
}

pub fn create(database: &Database, fields: Value) -> (String, Change) {
    let id = postbode_core::ids::new_id(postbode_core::ids::PROFILE);
    let change = Change::CreateProfile {
        id: id.clone(),
        database_id: database.id.clone(),
        values: values(fields),
        interests: vec![],
    };
    (id, change)
}

/// The bodies of every delivery claimable now, oldest first.
pub async fn bodies(f: &Fixture, at: i64) -> Vec<Value> {
    f.claim_all(f.at(at))
        .await
        .deliveries
        .iter()
        .map(|d| serde_json::from_slice(&d.body).unwrap())
        .collect()
}

async fn changes_fire_with_sequence_previous_and_parameters(f: Fixture) {
    let database = database(&f).await;
    f.webhook(json!({ "events": ["create", "update", "delete"], "database_id": database.id }))
        .await;
    let (id, create) = create(&database, json!({"email": "piet@example.com", "name": "Piet"}));
    change(&f, Source::Api, vec![create], 0).await;
    let update = Change::EditProfile {
        id: id.clone(),
        edit: Edit::Merge,
        values: values(json!({"city": "Delft"})),
        interests: None,
    };
    change(&f, Source::Import, vec![update], 1).await;
    change(&f, Source::Api, vec![Change::DeleteProfile { id: id.clone() }], 2).await;
    let bodies = bodies(&f, 3).await;
    let kinds: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["create", "update", "delete"]);
    let sequences: Vec<i64> = bodies.iter().map(|b| b["sequence"].as_i64().unwrap()).collect();
    assert_eq!(sequences, [1, 2, 3]);
    assert_eq!(bodies[1]["parameters"], json!({"city": "Delft"}));
    assert_eq!(bodies[1]["previous"], json!({"city": null}));
    assert_eq!(bodies[1]["fields"]["city"], "Delft");
    assert_eq!(bodies[1]["source"], "import");
    assert_eq!(bodies[2]["fields"]["name"], "Piet");
    assert!(f.store.get_profile(&f.account, &id).await.unwrap().is_none());
}

async fn a_change_that_changes_nothing_fires_nothing(f: Fixture) {
    let database = database(&f).await;
    f.webhook(json!({ "events": ["all"] })).await;
    let (id, create) = create(&database, json!({"name": "Piet"}));
    change(&f, Source::Api, vec![create], 0).await;
    let same = Change::EditProfile {
        id: id.clone(),
        edit: Edit::Merge,
        values: values(json!({"name": "Piet"})),
        interests: None,
    };
    let outcome = change(&f, Source::Api, vec![same], 1).await;
    assert!(matches!(&outcome[0], ChangeOutcome::Unchanged(Record::Profile(p)) if p.sequence == 1));
    assert_eq!(bodies(&f, 2).await.len(), 1, "only the create");
    let gone = change(
        &f,
        Source::Api,
        vec![Change::DeleteProfile { id: "prf_nope".into() }],
        3,
    )
    .await;
    assert_eq!(gone, [ChangeOutcome::NotFound]);
}

async fn deleting_a_profile_deletes_its_subprofiles_each_with_an_event(f: Fixture) {
    let database = database(&f).await;
    let collection = Collection {
        id: postbode_core::ids::new_id(postbode_core::ids::COLLECTION),
        account_id: f.account.clone(),
        database_id: database.id.clone(),
        name: "Orders".into(),
        fields: serde_json::from_value(json!([{"name": "total", "type": "integer"}])).unwrap(),
        unsubscribe: UnsubscribeBehaviour::Nothing,
        created_at: f.t0,
        updated_at: f.t0,
    };
    f.store.create_collection(&collection).await.unwrap();
    f.webhook(json!({ "events": ["delete"] })).await;
    let (id, create) = create(&database, json!({"name": "Piet"}));
    let subs: Vec<Change> = (0..2)
        .map(|n| Change::CreateSubprofile {
            id: format!("sub_{n}"),
            profile_id: id.clone(),
            collection_id: collection.id.clone(),
            values: values(json!({"total": n})),
        })
        .collect();
    change(&f, Source::Api, std::iter::once(create).chain(subs).collect(), 0).await;
    change(&f, Source::Api, vec![Change::DeleteProfile { id: id.clone() }], 1).await;
    let bodies = bodies(&f, 2).await;
    let mut subjects: Vec<(&str, Option<&str>)> = bodies
        .iter()
        .map(|b| (b["profile"].as_str().unwrap(), b["subprofile"].as_str()))
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            (id.as_str(), None),
            (id.as_str(), Some("sub_0")),
            (id.as_str(), Some("sub_1"))
        ]
    );
    assert!(f.store.get_subprofile(&f.account, "sub_0").await.unwrap().is_none());
}

async fn imports_find_profiles_by_key_made_before_and_after(f: Fixture) {
    let database = database(&f).await;
    // Made through the API before `email` was ever an import key.
    let (piet, create) = create(&database, json!({"email": "piet@example.com", "name": "Piet"}));
    change(&f, Source::Api, vec![create], 0).await;
    let upsert = |email: &str, name: &str| Change::Upsert {
        database_id: database.id.clone(),
        key: "email".into(),
        values: values(json!({"email": email, "name": name})),
        interests: None,
    };
    let outcomes = change(
        &f,
        Source::Import,
        vec![
            upsert("piet@example.com", "Pieter"),
            upsert("kees@example.com", "Kees"),
            upsert("kees@example.com", "Kees2"),
        ],
        1,
    )
    .await;
    assert!(matches!(&outcomes[0], ChangeOutcome::Updated(Record::Profile(p)) if p.id == piet));
    let ChangeOutcome::Created(Record::Profile(kees)) = &outcomes[1] else {
        panic!("{outcomes:?}")
    };
    assert!(matches!(&outcomes[2], ChangeOutcome::Updated(Record::Profile(p)) if p.id == kees.id));
    // The key follows a change of the field made outside an import.
    let moved = Change::EditProfile {
        id: piet.clone(),
        edit: Edit::Merge,
        values: values(json!({"email": "pieter@example.com"})),
        interests: None,
    };
    change(&f, Source::Api, vec![moved], 2).await;
    let outcomes = change(
        &f,
        Source::Import,
        vec![upsert("pieter@example.com", "P"), upsert("piet@example.com", "New")],
        3,
    )
    .await;
    assert!(matches!(&outcomes[0], ChangeOutcome::Updated(Record::Profile(p)) if p.id == piet));
    assert!(matches!(&outcomes[1], ChangeOutcome::Created(_)));
    let all = f
        .store
        .list_profiles(
            &f.account,
            &database.id,
            &ProfileQuery {
                field: None,
                page: postbode_core::page::PageRequest { after: None, limit: 10 },
            },
        )
        .await
        .unwrap();
    assert_eq!(all.data.len(), 3);
}
