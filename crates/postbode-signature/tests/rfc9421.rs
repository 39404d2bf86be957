//! `rfc9421` end to end: our signer, our verifier, tampering refused.

mod common;

use common::{ACCOUNT, ACCOUNT_HEADER, Call, KEY_DOMAIN, NOW, ed25519_key, key_id, rsa_key};
use postbode_signature::Error;
use postbode_signature::key_set::{KeySet, KeyState};
use postbode_signature::keys::{Ed25519Key, KeyAlgorithm};
use postbode_signature::rfc9421::{self, Policy, Signer, verify};
use proptest::prelude::*;

fn published() -> KeySet {
    let mut keys = KeySet::default();
    keys.push(
        key_id("pb202605eeee"),
        ed25519_key().public_key().unwrap(),
        KeyState::Active,
    );
    keys.push(
        key_id("pb202605rrrr"),
        rsa_key().public_key().unwrap(),
        KeyState::Active,
    );
    keys
}

fn policy() -> Policy {
    Policy::new(KEY_DOMAIN, ACCOUNT_HEADER, ACCOUNT)
}

fn sign_with(key: &Ed25519Key, key_id: &str, mut call: Call, created: i64) -> Call {
    let signer = Signer {
        key,
        key_id,
        account_header: ACCOUNT_HEADER,
        account_value: ACCOUNT,
    };
    let pairs = call.pairs();
    let added = signer.sign(&call.request(&pairs), "https", created).unwrap();
    call.add(added.pairs());
    call
}

fn signed_call() -> Call {
    let call = Call::json("/hooks/postbode?src=pb", br#"{"hello": "world"}"#);
    sign_with(ed25519_key(), &key_id("pb202605eeee"), call, NOW)
}

fn check(call: &Call, policy: &Policy, now: i64) -> Result<(), Error> {
    let pairs = call.pairs();
    verify(&call.request(&pairs), policy, &published(), now).map(|_| ())
}

#[test]
fn a_signed_call_has_the_headers_of_payloads_md_and_verifies() {
    let call = signed_call();
    assert_eq!(
        call.header("Content-Digest"),
        Some("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:")
    );
    assert_eq!(
        call.header("Signature-Input"),
        Some(
            r#"sig1=("@method" "@target-uri" "content-digest" "content-type" "x-postbode-account");created=1779000000;keyid="pb202605eeee._domainkey.webhooks.example.com";alg="ed25519""#
        )
    );
    let signature = call.header("Signature").unwrap();
    assert!(
        signature.starts_with("sig1=:") && signature.ends_with(':'),
        "{signature}"
    );
    let pairs = call.pairs();
    let verified = verify(&call.request(&pairs), &policy(), &published(), NOW + 30).unwrap();
    assert_eq!(verified.algorithm, KeyAlgorithm::Ed25519);
    assert_eq!(verified.key_id, key_id("pb202605eeee"));
}

#[test]
fn the_body_changed() {
    let mut call = signed_call();
    call.body = br#"{"hello": "moon"}"#.to_vec();
    assert_eq!(check(&call, &policy(), NOW), Err(Error::DigestMismatch));
}

#[test]
fn the_content_digest_changed_with_the_body() {
    let mut call = signed_call();
    call.body = b"{}".to_vec();
    call.set_header("Content-Digest", &rfc9421::content_digest(b"{}"));
    assert_eq!(check(&call, &policy(), NOW), Err(Error::BadSignature));
}

#[test]
fn the_method_changed() {
    let mut call = signed_call();
    call.method = "PUT".into();
    assert_eq!(check(&call, &policy(), NOW), Err(Error::BadSignature));
}

#[test]
fn the_target_uri_changed() {
    for (target, host, scheme) in [
        ("/hooks/other?src=pb", "receiver.example:8443", "https"),
        ("/hooks/postbode?src=xx", "receiver.example:8443", "https"),
        ("/hooks/postbode?src=pb", "attacker.example", "https"),
        ("/hooks/postbode?src=pb", "receiver.example:8443", "http"),
    ] {
        let mut call = signed_call();
        call.target = target.into();
        call.set_header("Host", host);
        let policy = Policy {
            scheme: scheme.into(),
            ..policy()
        };
        assert_eq!(
            check(&call, &policy, NOW),
            Err(Error::BadSignature),
            "{scheme}://{host}{target}"
        );
    }
}

#[test]
fn created_too_old_or_in_the_future() {
    let call = signed_call();
    assert_eq!(
        check(&call, &policy(), NOW + 120),
        Err(Error::StaleDate { age_seconds: 120 })
    );
    assert_eq!(
        check(&call, &policy(), NOW - 30),
        Err(Error::FutureDate { ahead_seconds: 30 })
    );
}

#[test]
fn the_account_the_key_domain_and_the_key() {
    let call = signed_call();
    let other_account = Policy::new(KEY_DOMAIN, ACCOUNT_HEADER, "acc_7");
    assert_eq!(check(&call, &other_account, NOW), Err(Error::WrongAccount));

    let trusting_other = Policy::new("other.example", ACCOUNT_HEADER, ACCOUNT);
    assert_eq!(
        check(&call, &trusting_other, NOW),
        Err(Error::UntrustedKeyDomain(key_id("pb202605eeee")))
    );

    let stranger = Ed25519Key::generate().unwrap();
    let forged = sign_with(
        &stranger,
        &key_id("pb202605eeee"),
        Call::json("/hooks/postbode", b"{}"),
        NOW,
    );
    assert_eq!(check(&forged, &policy(), NOW), Err(Error::BadSignature));

    let unknown = sign_with(
        &stranger,
        &key_id("pb202605zzzz"),
        Call::json("/hooks/postbode", b"{}"),
        NOW,
    );
    assert_eq!(
        check(&unknown, &policy(), NOW),
        Err(Error::UnknownKey(key_id("pb202605zzzz")))
    );

    // An Ed25519 signature under the id of an RSA key.
    let confused = sign_with(
        ed25519_key(),
        &key_id("pb202605rrrr"),
        Call::json("/hooks/postbode", b"{}"),
        NOW,
    );
    assert_eq!(check(&confused, &policy(), NOW), Err(Error::BadSignature));
}

#[test]
fn a_component_not_covered() {
    let mut call = signed_call();
    let input = call
        .header("Signature-Input")
        .unwrap()
        .replace(r#" "x-postbode-account""#, "");
    call.set_header("Signature-Input", &input);
    assert_eq!(
        check(&call, &policy(), NOW),
        Err(Error::HeaderNotCovered("x-postbode-account".into()))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_signed_call_verifies_and_a_flipped_body_byte_does_not(
        body in proptest::collection::vec(any::<u8>(), 1..2048),
        path in "/[a-zA-Z0-9/_.~-]{0,40}(\\?[a-z0-9=&%]{0,20})?",
        account_id in "[a-zA-Z0-9_-]{1,24}",
        flip in any::<proptest::sample::Index>(),
    ) {
        let account = format!("account_{account_id}");
        let signer = Signer {
            key: ed25519_key(),
            key_id: &key_id("pb202605eeee"),
            account_header: ACCOUNT_HEADER,
            account_value: &account,
        };
        let mut call = Call::json(&path, &body);
        let pairs = call.pairs();
        let added = signer.sign(&call.request(&pairs), "https", NOW).unwrap();
        call.add(added.pairs());
        let policy = Policy::new(KEY_DOMAIN, ACCOUNT_HEADER, &account);
        prop_assert_eq!(check(&call, &policy, NOW + 59), Ok(()));

        let i = flip.index(call.body.len());
        call.body[i] ^= 0x80;
        prop_assert_eq!(check(&call, &policy, NOW), Err(Error::DigestMismatch));
    }
}
