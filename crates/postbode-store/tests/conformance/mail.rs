//! Mail events: enriched in the commit, limited to the message's account, and an
//! unsubscribe with what its behaviour does.

use crate::profiles::{bodies, change, create, database, values};
use crate::{Fixture, conformance};
use postbode_core::mail::{MailEvent, Mailing, Visit};
use postbode_core::profile::{Edit, UnsubscribeBehaviour};
use postbode_core::webhook::Source;
use postbode_store::*;
use serde_json::json;

conformance!(
    an_open_carries_the_profile_as_it_is_when_committed,
    a_message_of_another_account_or_none_makes_no_event,
    an_unsubscribe_commits_with_what_its_behaviour_does,
);

async fn message(f: &Fixture, profile_id: Option<String>) -> Message {
    let message = Message {
        id: postbode_core::ids::new_id(postbode_core::ids::MESSAGE),
        account_id: f.account.clone(),
        mailing: Mailing {
            id: "m1".into(),
            name: None,
            tags: vec!["spring".into()],
        },
        email: "piet@example.com".into(),
        profile_id,
        subprofile_id: None,
        created_at: f.t0,
    };
    f.store.create_message(&message).await.unwrap();
    message
}

fn open(account: Option<&str>, message: &Message, f: &Fixture, at: i64) -> MailRequest {
    MailRequest {
        account_id: account.map(str::to_owned),
        message_id: message.id.clone(),
        event: MailEvent::Open(Visit {
            ip: "192.0.2.1".into(),
            useragent: Some("agent".into()),
            referer: None,
        }),
        now: f.at(at),
        require_verification: true,
    }
}

async fn an_open_carries_the_profile_as_it_is_when_committed(f: Fixture) {
    let database = database(&f).await;
    f.webhook(json!({ "events": ["open"], "database_id": database.id }))
        .await;
    let (id, create) = create(&database, json!({"email": "piet@example.com", "name": "Piet"}));
    change(&f, Source::Api, vec![create], 0).await;
    let message = message(&f, Some(id.clone())).await;
    let edit = Change::EditProfile {
        id: id.clone(),
        edit: Edit::Merge,
        values: values(json!({"city": "Delft"})),
        interests: None,
    };
    change(&f, Source::Api, vec![edit], 1).await;
    let ingested = f.store.mail_event(open(None, &message, &f, 2)).await.unwrap().unwrap();
    assert_eq!(ingested.deliveries, 1);
    let body = &bodies(&f, 3).await[0];
    assert_eq!(body["type"], "open");
    assert_eq!(body["id"], message.id);
    assert_eq!(body["recipient"], "piet@example.com");
    assert_eq!(body["profile"], id);
    assert_eq!(body["database"], database.id);
    assert_eq!(
        body["fields"],
        json!({"email": "piet@example.com", "name": "Piet", "city": "Delft"})
    );
    assert_eq!(body["tags"], json!(["spring"]));
    assert_eq!(body["ip"], "192.0.2.1");
}

async fn a_message_of_another_account_or_none_makes_no_event(f: Fixture) {
    f.webhook(json!({})).await;
    let message = message(&f, None).await;
    let other = crate::new_account(f.store.as_ref(), "Other", f.t0).await;
    assert_eq!(
        f.store.mail_event(open(Some(&other), &message, &f, 0)).await.unwrap(),
        None
    );
    let mut nowhere = open(None, &message, &f, 0);
    nowhere.message_id = "msg_01jdq0000000000000000000".into();
    assert_eq!(f.store.mail_event(nowhere).await.unwrap(), None);
    assert!(f.claim_all(f.at(1)).await.deliveries.is_empty());
    let mine = f
        .store
        .mail_event(open(Some(&f.account), &message, &f, 2))
        .await
        .unwrap();
    assert_eq!(mine.map(|i| i.deliveries), Some(1));
}

async fn an_unsubscribe_commits_with_what_its_behaviour_does(f: Fixture) {
    let mut database = database(&f).await;
    database.unsubscribe = UnsubscribeBehaviour::Update {
        fields: values(json!({"city": "gone"})),
    };
    assert!(f.store.update_database(&database).await.unwrap());
    f.webhook(json!({ "events": ["unsubscribe", "update"] })).await;
    let (id, create) = create(&database, json!({"name": "Piet"}));
    change(&f, Source::Api, vec![create], 0).await;
    let message = message(&f, Some(id.clone())).await;
    let mut request = open(Some(&f.account), &message, &f, 1);
    request.event = MailEvent::Unsubscribe;
    assert!(f.store.mail_event(request).await.unwrap().is_some());
    let bodies = bodies(&f, 2).await;
    let mut kinds: Vec<(&str, Option<&str>)> = bodies
        .iter()
        .map(|b| (b["type"].as_str().unwrap(), b["source"].as_str()))
        .collect();
    kinds.sort();
    assert_eq!(kinds, [("unsubscribe", None), ("update", Some("unsubscribe"))]);
    let profile = f.store.get_profile(&f.account, &id).await.unwrap().unwrap();
    assert_eq!(profile.state.values["city"], "gone");
}
