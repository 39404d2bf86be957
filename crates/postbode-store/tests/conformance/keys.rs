//! API keys: what a key may do and when it was last used are kept with it, and the
//! listing never shows its hash.

use crate::{Fixture, conformance};
use postbode_core::ids;
use postbode_core::scope::{Scope, Scopes};
use postbode_store::*;

conformance!(a_key_keeps_its_name_scopes_and_last_use,);

async fn a_key_keeps_its_name_scopes_and_last_use(f: Fixture) {
    let key = ApiKey {
        id: ids::new_id(ids::API_KEY),
        account_id: f.account.clone(),
        secret_hash: vec![3; 32],
        name: Some("billing backend".into()),
        scopes: Scopes::new(vec![Scope::EventsWrite, Scope::DataRead]),
        created_at: f.t0,
        last_used_at: None,
    };
    f.store.create_api_key(&key).await.unwrap();
    assert_eq!(f.store.find_api_key(&key.id).await.unwrap().as_ref(), Some(&key));

    f.store.touch_api_key(&key.id, f.at(90)).await.unwrap();
    let found = f.store.find_api_key(&key.id).await.unwrap().unwrap();
    assert_eq!(found.last_used_at, Some(f.at(90)));

    let listed = f.store.list_api_keys(&f.account).await.unwrap();
    let info = listed.iter().find(|k| k.id == key.id).unwrap();
    assert_eq!(info.name.as_deref(), Some("billing backend"));
    assert_eq!(info.scopes, vec![Scope::EventsWrite, Scope::DataRead]);
    assert_eq!(info.last_used_at, Some(f.at(90)));
    // Another account's listing does not have it.
    let other = crate::new_account(&*f.store, "other", f.t0).await;
    assert!(
        f.store
            .list_api_keys(&other)
            .await
            .unwrap()
            .iter()
            .all(|k| k.id != key.id)
    );
}
