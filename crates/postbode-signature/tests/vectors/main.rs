//! The shared signature test vectors (`clients/testdata/signature-vectors.json`): signed
//! calls with their keys and the outcome a receiver must reach. The client libraries
//! check the same file, so the Rust crate and every language agree on each case.
//!
//! The file is written by this crate's signers (`write.rs`):
//! `POSTBODE_WRITE_VECTORS=1 cargo test -p postbode-signature --test vectors -- --ignored`
//! (new keys each time; the cases stay the same).

#[path = "../common/mod.rs"]
mod common;
mod write;

use common::Call;
use postbode_signature::http_signature::{self, Policy as HttpPolicy};
use postbode_signature::key_set::KeySet;
use postbode_signature::keys::PublicKey;
use postbode_signature::nonce::NonceCache;
use postbode_signature::standard_webhooks::{self, Secret};
use postbode_signature::{Error, Request, dkim, rfc9421};
use serde_json::Value;
use std::path::PathBuf;

const KEY_DOMAIN: &str = "webhooks.example.com";
const ACCOUNT_HEADER: &str = "X-Postbode-Account";
const ACCOUNT: &str = "acc_01jd5m8k3q4w7e9r2t6y8u0i1o";
/// Sunday 17 May 2026, 06:40:00 UTC.
const NOW: i64 = 1_779_000_000;
const TARGET: &str = "/hooks/receive.php?src=pb";
const DELIVERY: &str = "dlv_01jd5m8k3q4w7e9r2t6y8u0i1p";

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../clients/testdata/signature-vectors.json")
}

/// The short name of why a call is refused, shared by every language's verifier.
fn outcome(result: Result<(), Error>) -> &'static str {
    match result {
        Ok(()) => "ok",
        Err(Error::MissingHeader(_)) => "missing_header",
        Err(Error::Malformed(_) | Error::MalformedTimestamp | Error::MalformedSecret) => "malformed",
        Err(Error::HeaderNotCovered(_)) => "not_covered",
        Err(Error::UntrustedKeyDomain(_)) => "untrusted_key_domain",
        Err(Error::StaleTimestamp { .. } | Error::StaleDate { .. } | Error::FutureDate { .. }) => "stale",
        Err(Error::WrongAccount) => "wrong_account",
        Err(Error::DigestMismatch) => "digest_mismatch",
        Err(Error::UnknownKey(_)) => "unknown_key",
        Err(Error::BadSignature) => "bad_signature",
        Err(Error::ReplayedNonce) => "replayed_nonce",
        Err(Error::InvalidKey(_)) => "invalid_key",
        Err(Error::Random | Error::Crypto) => "internal",
    }
}

/// The keys every case may use: the published key set, and the DNS TXT records.
struct Published {
    key_set: KeySet,
    dns: Value,
}

impl Published {
    fn from_file(file: &Value) -> Self {
        Self {
            key_set: KeySet::from_json(&file["key_set"].to_string()).unwrap(),
            dns: file["dns"].clone(),
        }
    }

    /// The key of a TXT record, its strings joined as resolvers join them.
    fn dns_key(&self, key_id: &str) -> Option<PublicKey> {
        let strings = self.dns.get(key_id.to_ascii_lowercase())?.as_array()?;
        let text: String = strings.iter().filter_map(Value::as_str).collect();
        match dkim::parse_record(&text).ok()? {
            dkim::DkimRecord::Key(key) => Some(key),
            dkim::DkimRecord::Revoked(_) => None,
        }
    }
}

#[test]
fn the_receiver_crate_reaches_every_outcome_of_the_shared_vectors() {
    let file: Value = serde_json::from_str(&std::fs::read_to_string(vectors_path()).unwrap()).unwrap();
    let published = Published::from_file(&file);
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() >= 40, "the vectors were read: {} cases", cases.len());
    for scheme in ["standard-webhooks", "http-signature", "rfc9421"] {
        assert!(cases.iter().any(|c| c["scheme"] == scheme), "no case of {scheme}");
    }
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let mut policy = file["policy"].clone();
        if let Some(overrides) = case["policy"].as_object() {
            for (key, value) in overrides {
                policy[key] = value.clone();
            }
        }
        let call = Call {
            method: case["request"]["method"].as_str().unwrap().to_owned(),
            target: case["request"]["target"].as_str().unwrap().to_owned(),
            headers: case["request"]["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|pair| {
                    (
                        pair[0].as_str().unwrap().to_owned(),
                        pair[1].as_str().unwrap().to_owned(),
                    )
                })
                .collect(),
            body: case["request"]["body"].as_str().unwrap().as_bytes().to_vec(),
        };
        let pairs = call.pairs();
        let request = call.request(&pairs);
        let now = case["now"].as_i64().unwrap();
        let from_dns = |key_id: &str| published.dns_key(key_id);
        let keys: &dyn postbode_signature::keys::KeyLookup = match case["keys"].as_str() {
            Some("dns") => &from_dns,
            _ => &published.key_set,
        };
        let text = |name: &str| policy[name].as_str().unwrap().to_owned();
        let expected: Vec<&str> = case["expect"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        let nonces = NonceCache::default();
        let got: Vec<&str> = expected
            .iter()
            .map(|_| {
                outcome(match case["scheme"].as_str().unwrap() {
                    "standard-webhooks" => standard_webhooks_outcome(case, &request, now),
                    "http-signature" => {
                        let mut rules = HttpPolicy::new(&text("key_domain"), &text("account_header"), &text("account"));
                        rules.max_age_seconds = policy["max_age"].as_i64().unwrap();
                        http_signature::verify(&request, &rules, keys, &nonces, now).map(|_| ())
                    }
                    "rfc9421" => {
                        let mut rules =
                            rfc9421::Policy::new(&text("key_domain"), &text("account_header"), &text("account"));
                        rules.max_age_seconds = policy["max_age"].as_i64().unwrap();
                        rules.scheme = text("scheme");
                        rfc9421::verify(&request, &rules, keys, now).map(|_| ())
                    }
                    other => panic!("{name}: unknown scheme {other}"),
                })
            })
            .collect();
        assert_eq!(got, expected, "{name}");
    }
}

fn standard_webhooks_outcome(case: &Value, request: &Request, now: i64) -> Result<(), Error> {
    let secrets: Vec<Secret> = case["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Secret::parse(s.as_str().unwrap()))
        .collect::<Result<_, _>>()?;
    let header = |name: &str| {
        request
            .header(name)
            .ok_or_else(|| Error::MissingHeader(name.to_owned()))
    };
    standard_webhooks::verify(
        &secrets,
        &header("webhook-id")?,
        &header("webhook-timestamp")?,
        &header("webhook-signature")?,
        request.body,
        now,
    )
}
