//! Dashboard sessions: found by their id's hash until they expire or are ended, and
//! ended with the API key they were made with.

use crate::{Fixture, conformance};
use postbode_core::ids;
use postbode_store::*;

conformance!(
    a_session_is_found_by_its_hash_until_it_expires_or_ends,
    deleting_its_key_ends_a_session,
);

fn session(f: &Fixture, id: u8, account_id: Option<&str>, key_id: Option<&str>, expires_in: i64) -> DashboardSession {
    DashboardSession {
        id_hash: vec![id; 32],
        account_id: account_id.map(str::to_owned),
        key_id: key_id.map(str::to_owned),
        role: SessionRole::Manage,
        created_at: f.t0,
        expires_at: f.at(expires_in),
    }
}

async fn a_key(f: &Fixture) -> String {
    let key = ApiKey {
        id: ids::new_id(ids::API_KEY),
        account_id: f.account.clone(),
        secret_hash: vec![1; 32],
        name: None,
        scopes: Default::default(),
        created_at: f.t0,
        last_used_at: None,
    };
    f.store.create_api_key(&key).await.unwrap();
    key.id
}

async fn a_session_is_found_by_its_hash_until_it_expires_or_ends(f: Fixture) {
    let key = a_key(&f).await;
    let account = session(&f, 1, Some(&f.account), Some(&key), 3600);
    let operator = DashboardSession {
        role: SessionRole::View,
        ..session(&f, 2, None, None, 60)
    };
    f.store.create_session(&account).await.unwrap();
    f.store.create_session(&operator).await.unwrap();
    // With its account, in the same look-up.
    let (found, with) = f.store.find_session(&[1; 32], f.at(0)).await.unwrap().unwrap();
    assert_eq!(found, account);
    assert_eq!(
        with.map(|a| (a.id, a.name)),
        Some((f.account.clone(), "Acme".to_owned()))
    );
    assert_eq!(
        f.store.find_session(&[2; 32], f.at(59)).await.unwrap(),
        Some((operator, None))
    );
    assert_eq!(f.store.find_session(&[3; 32], f.at(0)).await.unwrap(), None);
    // Expired at its expiry, and deleted with the others that have.
    assert_eq!(f.store.find_session(&[2; 32], f.at(60)).await.unwrap(), None);
    assert_eq!(f.store.delete_expired_sessions(f.at(60)).await.unwrap(), 1);
    assert_eq!(f.store.delete_expired_sessions(f.at(60)).await.unwrap(), 0);
    assert!(f.store.delete_session(&[1; 32]).await.unwrap());
    assert!(!f.store.delete_session(&[1; 32]).await.unwrap());
    assert_eq!(f.store.find_session(&[1; 32], f.at(0)).await.unwrap(), None);
}

async fn deleting_its_key_ends_a_session(f: Fixture) {
    let (key, other) = (a_key(&f).await, a_key(&f).await);
    f.store
        .create_session(&session(&f, 1, Some(&f.account), Some(&key), 3600))
        .await
        .unwrap();
    f.store
        .create_session(&session(&f, 2, Some(&f.account), Some(&other), 3600))
        .await
        .unwrap();
    assert!(f.store.delete_api_key(&f.account, &key).await.unwrap());
    assert_eq!(f.store.find_session(&[1; 32], f.at(0)).await.unwrap(), None);
    assert!(f.store.find_session(&[2; 32], f.at(0)).await.unwrap().is_some());
}
