//! `http-signature` end to end: our signer, our verifier, and every tampering refused with
//! its own error.

mod common;

use common::{ACCOUNT, ACCOUNT_HEADER, Call, KEY_DOMAIN, NOW, key_id, other_rsa_key, rsa_key};
use postbode_signature::http_signature::{self, Policy, Signer, Verifier};
use postbode_signature::key_set::{KeySet, KeyState};
use postbode_signature::keys::RsaKey;
use postbode_signature::{Error, dkim};
use proptest::prelude::*;

fn published() -> KeySet {
    let mut keys = KeySet::default();
    keys.push(
        key_id("pb202605aaaa"),
        rsa_key().public_key().unwrap(),
        KeyState::Active,
    );
    // Published, but under a domain the receiver does not trust.
    keys.push(
        dkim::key_id("pb202605aaaa", "evil.example"),
        other_rsa_key().public_key().unwrap(),
        KeyState::Active,
    );
    keys
}

fn verifier() -> Verifier<KeySet> {
    Verifier::new(Policy::new(KEY_DOMAIN, ACCOUNT_HEADER, ACCOUNT), published())
}

fn sign_with(key: &RsaKey, key_id: &str, mut call: Call, now: i64) -> Call {
    let signer = Signer {
        key,
        key_id,
        account_header: ACCOUNT_HEADER,
        account_value: ACCOUNT,
    };
    let pairs = call.pairs();
    let added = signer.sign(&call.request(&pairs), now).unwrap();
    call.add(added.pairs());
    call
}

fn signed_call() -> Call {
    let call = Call::json("/hooks/postbode?src=pb", br#"{"hello": "world"}"#);
    sign_with(rsa_key(), &key_id("pb202605aaaa"), call, NOW)
}

fn check(verifier: &Verifier<KeySet>, call: &Call, now: i64) -> Result<(), Error> {
    let pairs = call.pairs();
    verifier.verify(&call.request(&pairs), now).map(|_| ())
}

#[test]
fn a_signed_call_has_the_headers_of_payloads_md_and_verifies() {
    let call = signed_call();
    assert_eq!(
        call.header("Digest"),
        Some("sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=")
    );
    assert_eq!(call.header("X-Postbode-Account"), Some("acc_42"));
    assert_eq!(call.header("Date"), Some("Sun, 17 May 2026 06:40:00 GMT"));
    let nonce = call.header("X-Nonce").unwrap();
    assert!(nonce.len() >= 16);
    assert!(
        nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let signature = call.header("Signature").unwrap();
    let expected_start = r#"keyId="pb202605aaaa._domainkey.webhooks.example.com",algorithm="rsa-sha256",headers="(request-target) host date content-length content-type x-postbode-account digest x-nonce",signature=""#;
    assert!(signature.starts_with(expected_start), "{signature}");
    assert!(!signature[expected_start.len()..].contains(' '));

    let pairs = call.pairs();
    let verified = verifier().verify(&call.request(&pairs), NOW + 5).unwrap();
    assert_eq!(verified.key_id, key_id("pb202605aaaa"));
    assert_eq!(verified.covered, http_signature::covered_headers(ACCOUNT_HEADER));
}

#[test]
fn the_body_changed() {
    let mut call = signed_call();
    call.body = br#"{"hello": "moon"}"#.to_vec();
    assert_eq!(check(&verifier(), &call, NOW), Err(Error::DigestMismatch));
}

#[test]
fn the_digest_changed() {
    let mut call = signed_call();
    call.set_header("Digest", &http_signature::digest_header(b"{}"));
    assert_eq!(check(&verifier(), &call, NOW), Err(Error::DigestMismatch));
    // Body and digest changed together: the digest is signed.
    call.body = b"{}".to_vec();
    call.set_header("Content-Length", "2");
    assert_eq!(check(&verifier(), &call, NOW), Err(Error::BadSignature));
}

#[test]
fn the_date_is_two_minutes_old_or_in_the_future() {
    let call = signed_call();
    assert_eq!(
        check(&verifier(), &call, NOW + 120),
        Err(Error::StaleDate { age_seconds: 120 })
    );
    assert_eq!(
        check(&verifier(), &call, NOW - 60),
        Err(Error::FutureDate { ahead_seconds: 60 })
    );
    // Re-dating it breaks the signature.
    let mut redated = call.clone();
    redated.set_header("Date", "Sun, 17 May 2026 06:42:00 GMT");
    assert_eq!(check(&verifier(), &redated, NOW + 120), Err(Error::BadSignature));
}

#[test]
fn x_nonce_is_not_covered() {
    let mut call = signed_call();
    let signer = Signer {
        key: rsa_key(),
        key_id: &key_id("pb202605aaaa"),
        account_header: ACCOUNT_HEADER,
        account_value: ACCOUNT,
    };
    let covered = [
        "(request-target)",
        "host",
        "date",
        "content-length",
        "content-type",
        "x-postbode-account",
        "digest",
    ];
    let pairs = call.pairs();
    let signature = signer.signature_header(&call.request(&pairs), &covered).unwrap();
    call.set_header("Signature", &signature);
    assert_eq!(
        check(&verifier(), &call, NOW),
        Err(Error::HeaderNotCovered("x-nonce".into()))
    );
}

#[test]
fn the_account_header_changed() {
    let call = signed_call();
    // A call for account 42 delivered to account 7.
    let other = Verifier::new(Policy::new(KEY_DOMAIN, ACCOUNT_HEADER, "acc_7"), published());
    assert_eq!(check(&other, &call, NOW), Err(Error::WrongAccount));
    // Rewritten to account 7: the header is signed.
    let mut rewritten = call.clone();
    rewritten.set_header("x-postbode-account", "acc_7");
    assert_eq!(check(&other, &rewritten, NOW), Err(Error::BadSignature));
    // Dropped altogether.
    let mut dropped = call;
    dropped.remove_header("X-Postbode-Account");
    assert_eq!(
        check(&verifier(), &dropped, NOW),
        Err(Error::MissingHeader("x-postbode-account".into()))
    );
}

#[test]
fn the_key_is_from_another_domain() {
    let evil_id = dkim::key_id("pb202605aaaa", "evil.example");
    let call = sign_with(
        other_rsa_key(),
        &evil_id,
        Call::json("/hooks/postbode", br#"{"hello": "world"}"#),
        NOW,
    );
    assert_eq!(check(&verifier(), &call, NOW), Err(Error::UntrustedKeyDomain(evil_id)));
}

#[test]
fn the_nonce_is_replayed() {
    let verifier = verifier();
    let call = signed_call();
    check(&verifier, &call, NOW).unwrap();
    assert_eq!(check(&verifier, &call, NOW + 30), Err(Error::ReplayedNonce));
    // A genuine new call (new nonce) still passes.
    check(&verifier, &signed_call(), NOW + 30).unwrap();
}

#[test]
fn the_signature_is_of_another_key() {
    let call = sign_with(
        other_rsa_key(),
        &key_id("pb202605aaaa"),
        Call::json("/hooks/postbode", b"{}"),
        NOW,
    );
    assert_eq!(check(&verifier(), &call, NOW), Err(Error::BadSignature));
}

#[test]
fn the_key_is_unknown() {
    let unknown = key_id("pb202604zzzz");
    let call = sign_with(rsa_key(), &unknown, Call::json("/hooks/postbode", b"{}"), NOW);
    assert_eq!(check(&verifier(), &call, NOW), Err(Error::UnknownKey(unknown)));
}

#[test]
fn the_method_or_target_changed() {
    let mut call = signed_call();
    call.method = "PUT".into();
    assert_eq!(check(&verifier(), &call, NOW), Err(Error::BadSignature));
    let mut call = signed_call();
    call.target = "/hooks/other?src=pb".into();
    assert_eq!(check(&verifier(), &call, NOW), Err(Error::BadSignature));
}

#[test]
fn a_failed_call_does_not_spend_its_nonce() {
    let verifier = verifier();
    let call = signed_call();
    let mut tampered = call.clone();
    tampered.body = b"x".to_vec();
    assert_eq!(check(&verifier, &tampered, NOW), Err(Error::DigestMismatch));
    check(&verifier, &call, NOW).unwrap();
}

#[test]
fn the_signer_refuses_a_request_that_already_has_its_headers() {
    let call = signed_call();
    let signer = Signer {
        key: rsa_key(),
        key_id: "k",
        account_header: ACCOUNT_HEADER,
        account_value: ACCOUNT,
    };
    let pairs = call.pairs();
    assert!(matches!(
        signer.sign(&call.request(&pairs), NOW),
        Err(Error::Malformed(_))
    ));
    let mut no_host = Call::json("/", b"");
    no_host.remove_header("host");
    let pairs = no_host.pairs();
    assert_eq!(
        signer.sign(&no_host.request(&pairs), NOW),
        Err(Error::MissingHeader("host".into()))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_signed_call_verifies_and_a_flipped_body_byte_does_not(
        body in proptest::collection::vec(any::<u8>(), 1..2048),
        path in "/[a-zA-Z0-9/_.~-]{0,40}(\\?[a-z0-9=&%]{0,20})?",
        account_id in "[a-zA-Z0-9_-]{1,24}",
        flip in any::<proptest::sample::Index>(),
    ) {
        let account = http_signature::account_value(http_signature::DEFAULT_ACCOUNT_PREFIX, &account_id);
        let signer = Signer {
            key: rsa_key(),
            key_id: &key_id("pb202605aaaa"),
            account_header: ACCOUNT_HEADER,
            account_value: &account,
        };
        let mut call = Call::json(&path, &body);
        let pairs = call.pairs();
        let added = signer.sign(&call.request(&pairs), NOW).unwrap();
        call.add(added.pairs());
        let verifier = Verifier::new(Policy::new(KEY_DOMAIN, ACCOUNT_HEADER, &account), published());
        prop_assert_eq!(check(&verifier, &call, NOW + 59), Ok(()));

        let fresh = Verifier::new(Policy::new(KEY_DOMAIN, ACCOUNT_HEADER, &account), published());
        let i = flip.index(call.body.len());
        call.body[i] ^= 0x01;
        prop_assert_eq!(check(&fresh, &call, NOW), Err(Error::DigestMismatch));
    }
}
