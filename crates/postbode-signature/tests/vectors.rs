//! The shared signature test vectors (`clients/testdata/signature-vectors.json`): signed
//! calls with their keys and the outcome a receiver must reach. The client libraries
//! check the same file, so the Rust crate and every language agree on each case.
//!
//! The file is written by this crate's signers:
//! `POSTBODE_WRITE_VECTORS=1 cargo test -p postbode-signature --test vectors -- --ignored`
//! (new keys each time; the cases stay the same).

mod common;

use common::Call;
use postbode_signature::http_signature::{self, Policy as HttpPolicy};
use postbode_signature::key_set::{KeySet, KeyState};
use postbode_signature::keys::{Ed25519Key, PublicKey, RsaKey};
use postbode_signature::nonce::NonceCache;
use postbode_signature::standard_webhooks::{self, Secret};
use postbode_signature::{Error, Request, dkim, rfc9421};
use serde_json::{Value, json};
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

/// Writes the vectors file anew from this crate's signers.
#[test]
#[ignore = "writes clients/testdata/signature-vectors.json; run with POSTBODE_WRITE_VECTORS=1"]
fn write_the_shared_vectors() {
    if std::env::var("POSTBODE_WRITE_VECTORS").as_deref() != Ok("1") {
        return;
    }
    let file = Vectors::new().file();
    let text = serde_json::to_string_pretty(&file).unwrap() + "\n";
    std::fs::write(vectors_path(), text).unwrap();
}

struct Vectors {
    rsa: RsaKey,
    other_rsa: RsaKey,
    ed25519: Ed25519Key,
    other_ed25519: Ed25519Key,
    secret: Secret,
    old_secret: Secret,
    cases: Vec<Value>,
}

fn rsa_id() -> String {
    dkim::key_id("pb202605rsa1", KEY_DOMAIN)
}

fn ed25519_id() -> String {
    dkim::key_id("pb202605ed01", KEY_DOMAIN)
}

const JSON_BODY: &str = r#"{"id":"evt_01jd5m8k3q4w7e9r2t6y8u0i1q","type":"order.paid","timestamp":"2026-05-17 06:40:00","time":1779000000,"data":{"order":42,"paid":true,"tags":["a","b"]}}"#;
const FORM_BODY: &str = "id=evt_01jd5m8k3q4w7e9r2t6y8u0i1q&type=order.paid&timestamp=2026-05-17+06%3A40%3A00&time=1779000000&data%5Border%5D=42&data%5Bpaid%5D=1&data%5Btags%5D%5B%5D=a&data%5Btags%5D%5B%5D=b";
const XML_BODY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<event><id>evt_01jd5m8k3q4w7e9r2t6y8u0i1q</id><type>order.paid</type><timestamp>2026-05-17 06:40:00</timestamp><time>1779000000</time><data><order>42</order><paid>1</paid><tags><item>a</item><item>b</item></tags></data></event>";

/// A call as Postbode sends it before signing: `Host`, `Content-Type`, `Content-Length`,
/// its own headers.
fn unsigned(content_type: &str, body: &str) -> Call {
    Call {
        method: "POST".into(),
        target: TARGET.into(),
        headers: vec![
            ("Host".into(), "receiver.example:8443".into()),
            ("User-Agent".into(), "Postbode/0.1.0".into()),
            ("Content-Type".into(), content_type.into()),
            ("Content-Length".into(), body.len().to_string()),
            ("X-Postbode-Delivery".into(), DELIVERY.into()),
            ("X-Postbode-Event".into(), "order.paid".into()),
        ],
        body: body.as_bytes().to_vec(),
    }
}

fn json_call() -> Call {
    unsigned("application/json", JSON_BODY)
}

impl Vectors {
    fn new() -> Self {
        Self {
            rsa: RsaKey::generate().unwrap(),
            other_rsa: RsaKey::generate().unwrap(),
            ed25519: Ed25519Key::generate().unwrap(),
            other_ed25519: Ed25519Key::generate().unwrap(),
            secret: Secret::generate().unwrap(),
            old_secret: Secret::generate().unwrap(),
            cases: Vec::new(),
        }
    }

    fn file(mut self) -> Value {
        self.standard_webhooks_cases();
        self.http_signature_cases();
        self.rfc9421_cases();
        let mut key_set = KeySet::default();
        key_set.push(rsa_id(), self.rsa.public_key().unwrap(), KeyState::Active);
        key_set.push(ed25519_id(), self.ed25519.public_key().unwrap(), KeyState::Active);
        let mut dns = serde_json::Map::new();
        for (id, key) in [
            (rsa_id(), self.rsa.public_key().unwrap()),
            (ed25519_id(), self.ed25519.public_key().unwrap()),
        ] {
            let text = dkim::record(&key);
            dns.insert(id, json!(dkim::split_txt(&text)));
        }
        json!({
            "about": [
                "Signed calls and the outcome a receiver must reach, for every signature scheme.",
                "Written by crates/postbode-signature/tests/vectors.rs from Postbode's own signers; checked there and by each client library in clients/.",
                "policy: what the receiver accepts (a case's own policy overrides it); max_age in seconds; scheme is what the receiver was reached at (rfc9421's @target-uri).",
                "keys: where a case's public keys come from: key_set (the JSON of GET /.well-known/postbode/keys) or dns (TXT records by name, each a list of strings a resolver joins).",
                "now: the receiver's clock, Unix seconds. body: the raw body as UTF-8 text.",
                "expect: one outcome per time the same call is presented to the same verifier: ok, missing_header, malformed, not_covered, untrusted_key_domain, stale, wrong_account, digest_mismatch, unknown_key, bad_signature, replayed_nonce."
            ],
            "policy": {
                "key_domain": KEY_DOMAIN,
                "account_header": ACCOUNT_HEADER,
                "account": ACCOUNT,
                "max_age": http_signature::DEFAULT_MAX_AGE_SECONDS,
                "scheme": "https",
            },
            "key_set": serde_json::from_str::<Value>(&key_set.to_json()).unwrap(),
            "dns": dns,
            "cases": self.cases,
        })
    }

    fn case(&mut self, scheme: &str, name: &str, call: &Call, now: i64, expect: &[&str], extra: Value) {
        let mut case = json!({
            "name": format!("{scheme}: {name}"),
            "scheme": scheme,
            "now": now,
            "request": {
                "method": call.method,
                "target": call.target,
                "headers": call.headers.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>(),
                "body": String::from_utf8(call.body.clone()).unwrap(),
            },
            "expect": expect,
        });
        for (key, value) in extra.as_object().unwrap() {
            case[key] = value.clone();
        }
        self.cases.push(case);
    }

    fn standard_webhooks_signed(&self, mut call: Call, secrets: &[Secret], timestamp: i64) -> Call {
        let body = call.body.clone();
        call.add(vec![
            ("webhook-id".into(), DELIVERY.into()),
            ("webhook-timestamp".into(), timestamp.to_string()),
            (
                "webhook-signature".into(),
                standard_webhooks::sign_all(secrets, DELIVERY, timestamp, &body),
            ),
        ]);
        call
    }

    fn standard_webhooks_cases(&mut self) {
        let scheme = "standard-webhooks";
        let secret = [self.secret.clone()];
        let secrets = json!({ "secrets": [self.secret.as_str()] });
        let genuine = self.standard_webhooks_signed(json_call(), &secret, NOW);
        self.case(
            scheme,
            "a genuine json call",
            &genuine,
            NOW + 3,
            &["ok"],
            secrets.clone(),
        );
        let form =
            self.standard_webhooks_signed(unsigned("application/x-www-form-urlencoded", FORM_BODY), &secret, NOW);
        self.case(scheme, "a genuine form call", &form, NOW, &["ok"], secrets.clone());
        let xml = self.standard_webhooks_signed(unsigned("application/xml", XML_BODY), &secret, NOW);
        self.case(scheme, "a genuine xml call", &xml, NOW, &["ok"], secrets.clone());
        let rotating = self.standard_webhooks_signed(json_call(), &[self.secret.clone(), self.old_secret.clone()], NOW);
        self.case(
            scheme,
            "during a rotation, a receiver that still holds the old secret",
            &rotating,
            NOW,
            &["ok"],
            json!({ "secrets": [self.old_secret.as_str()] }),
        );
        self.case(
            scheme,
            "a timestamp 300 s old is still accepted",
            &genuine,
            NOW + 300,
            &["ok"],
            secrets.clone(),
        );

        let mut changed = genuine.clone();
        changed.body = JSON_BODY.replace("42", "43").into_bytes();
        self.case(
            scheme,
            "a changed body",
            &changed,
            NOW,
            &["bad_signature"],
            secrets.clone(),
        );
        let mut other_id = genuine.clone();
        other_id.set_header("webhook-id", "dlv_01jd5m8k3q4w7e9r2t6y8u0i1z");
        self.case(
            scheme,
            "a changed webhook-id",
            &other_id,
            NOW,
            &["bad_signature"],
            secrets.clone(),
        );
        self.case(
            scheme,
            "a timestamp 301 s old",
            &genuine,
            NOW + 301,
            &["stale"],
            secrets.clone(),
        );
        self.case(
            scheme,
            "a timestamp 301 s ahead",
            &genuine,
            NOW - 301,
            &["stale"],
            secrets.clone(),
        );
        self.case(
            scheme,
            "another webhook's secret",
            &genuine,
            NOW,
            &["bad_signature"],
            json!({ "secrets": [self.old_secret.as_str()] }),
        );
        let mut unsigned_call = genuine.clone();
        unsigned_call.remove_header("webhook-signature");
        self.case(
            scheme,
            "no webhook-signature header",
            &unsigned_call,
            NOW,
            &["missing_header"],
            secrets.clone(),
        );
        let mut other_version = genuine.clone();
        let signature = genuine.header("webhook-signature").unwrap().replace("v1,", "v1a,");
        other_version.set_header("webhook-signature", &signature);
        self.case(
            scheme,
            "only a signature of an unknown version",
            &other_version,
            NOW,
            &["bad_signature"],
            secrets.clone(),
        );
        let mut bad_timestamp = genuine.clone();
        bad_timestamp.set_header("webhook-timestamp", "yesterday");
        self.case(
            scheme,
            "a timestamp that is not a number",
            &bad_timestamp,
            NOW,
            &["malformed"],
            secrets,
        );
    }

    fn http_signed(&self, key: &RsaKey, key_id: &str, mut call: Call, now: i64, nonce: &str) -> Call {
        let signer = http_signature::Signer {
            key,
            key_id,
            account_header: ACCOUNT_HEADER,
            account_value: ACCOUNT,
        };
        let pairs = call.pairs();
        let added = signer.sign_with_nonce(&call.request(&pairs), now, nonce).unwrap();
        call.add(added.pairs());
        call
    }

    fn http_signature_cases(&mut self) {
        let scheme = "http-signature";
        let nonce = "q1w2e3r4t5y6u7i8o9p0as";
        let set = json!({ "keys": "key_set" });
        let genuine = self.http_signed(&self.rsa, &rsa_id(), json_call(), NOW, nonce);
        self.case(
            scheme,
            "a genuine json call, then the same call again",
            &genuine,
            NOW + 2,
            &["ok", "replayed_nonce"],
            set.clone(),
        );
        self.case(
            scheme,
            "a genuine json call, the key from its DKIM record",
            &genuine,
            NOW + 2,
            &["ok"],
            json!({ "keys": "dns" }),
        );
        let form = self.http_signed(
            &self.rsa,
            &rsa_id(),
            unsigned("application/x-www-form-urlencoded", FORM_BODY),
            NOW,
            nonce,
        );
        self.case(scheme, "a genuine form call", &form, NOW, &["ok"], set.clone());
        let xml = self.http_signed(&self.rsa, &rsa_id(), unsigned("application/xml", XML_BODY), NOW, nonce);
        self.case(
            scheme,
            "a genuine xml call",
            &xml,
            NOW,
            &["ok"],
            json!({ "keys": "dns" }),
        );
        self.case(
            scheme,
            "a Date 60 s old is still accepted",
            &genuine,
            NOW + 60,
            &["ok"],
            set.clone(),
        );
        let mut lower = genuine.clone();
        lower.headers = lower
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), format!(" {v} ")))
            .collect();
        self.case(
            scheme,
            "header names in lower case, values with spaces around",
            &lower,
            NOW,
            &["ok"],
            set.clone(),
        );

        let mut changed = genuine.clone();
        changed.body = JSON_BODY.replace("42", "43").into_bytes();
        self.case(
            scheme,
            "a changed body",
            &changed,
            NOW,
            &["digest_mismatch"],
            set.clone(),
        );
        let mut content_type = genuine.clone();
        content_type.set_header("Content-Type", "text/plain");
        self.case(
            scheme,
            "a changed Content-Type",
            &content_type,
            NOW,
            &["bad_signature"],
            set.clone(),
        );
        let mut host = genuine.clone();
        host.set_header("Host", "attacker.example");
        self.case(scheme, "a changed Host", &host, NOW, &["bad_signature"], set.clone());
        let mut target = genuine.clone();
        target.target = "/hooks/other.php?src=pb".into();
        self.case(
            scheme,
            "a changed request target",
            &target,
            NOW,
            &["bad_signature"],
            set.clone(),
        );
        self.case(scheme, "a Date 61 s old", &genuine, NOW + 61, &["stale"], set.clone());
        self.case(scheme, "a Date 11 s ahead", &genuine, NOW - 11, &["stale"], set.clone());
        let forged = self.http_signed(&self.other_rsa, &rsa_id(), json_call(), NOW, nonce);
        self.case(
            scheme,
            "signed by another key under the published key id",
            &forged,
            NOW,
            &["bad_signature"],
            set.clone(),
        );
        self.case(
            scheme,
            "signed by another key, the key from its DKIM record",
            &forged,
            NOW,
            &["bad_signature"],
            json!({ "keys": "dns" }),
        );
        let unknown = self.http_signed(
            &self.rsa,
            &dkim::key_id("pb202605none", KEY_DOMAIN),
            json_call(),
            NOW,
            nonce,
        );
        self.case(
            scheme,
            "a key id that is not published",
            &unknown,
            NOW,
            &["unknown_key"],
            set.clone(),
        );
        self.case(
            scheme,
            "a key id without a DKIM record",
            &unknown,
            NOW,
            &["unknown_key"],
            json!({ "keys": "dns" }),
        );
        let untrusted = self.http_signed(
            &self.rsa,
            &dkim::key_id("pb202605rsa1", "evil.example"),
            json_call(),
            NOW,
            nonce,
        );
        self.case(
            scheme,
            "a key under a domain the receiver does not trust",
            &untrusted,
            NOW,
            &["untrusted_key_domain"],
            set.clone(),
        );
        self.case(
            scheme,
            "a call for another account",
            &genuine,
            NOW,
            &["wrong_account"],
            json!({ "keys": "key_set", "policy": { "account": "acc_01jd5m8k3q4w7e9r2t6y8u0i9z" } }),
        );
        let mut uncovered = json_call();
        let covered: Vec<String> = http_signature::covered_headers(ACCOUNT_HEADER)
            .into_iter()
            .filter(|h| h != "x-nonce")
            .collect();
        let covered: Vec<&str> = covered.iter().map(String::as_str).collect();
        let date = httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(NOW as u64));
        uncovered.add(vec![
            ("Date".into(), date),
            (ACCOUNT_HEADER.into(), ACCOUNT.into()),
            ("Digest".into(), http_signature::digest_header(JSON_BODY.as_bytes())),
            ("X-Nonce".into(), nonce.into()),
        ]);
        let signature = {
            let signer = http_signature::Signer {
                key: &self.rsa,
                key_id: &rsa_id(),
                account_header: ACCOUNT_HEADER,
                account_value: ACCOUNT,
            };
            let pairs = uncovered.pairs();
            signer.signature_header(&uncovered.request(&pairs), &covered).unwrap()
        };
        uncovered.add(vec![("Signature".into(), signature)]);
        self.case(
            scheme,
            "a signature that does not cover x-nonce",
            &uncovered,
            NOW,
            &["not_covered"],
            set.clone(),
        );
        let mut upper = json_call();
        upper.add(vec![
            (
                "Date".into(),
                httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(NOW as u64)),
            ),
            (ACCOUNT_HEADER.into(), ACCOUNT.into()),
            (
                "Digest".into(),
                http_signature::digest_header(JSON_BODY.as_bytes()).replace("sha-256", "SHA-256"),
            ),
            ("X-Nonce".into(), nonce.into()),
        ]);
        let signature = {
            let signer = http_signature::Signer {
                key: &self.rsa,
                key_id: &rsa_id(),
                account_header: ACCOUNT_HEADER,
                account_value: ACCOUNT,
            };
            let covered = http_signature::covered_headers(ACCOUNT_HEADER);
            let covered: Vec<&str> = covered.iter().map(String::as_str).collect();
            let pairs = upper.pairs();
            signer.signature_header(&upper.request(&pairs), &covered).unwrap()
        };
        upper.add(vec![("Signature".into(), signature)]);
        self.case(
            scheme,
            "the Digest algorithm in upper case",
            &upper,
            NOW,
            &["ok"],
            set.clone(),
        );
        let mut no_signature = genuine.clone();
        no_signature.remove_header("Signature");
        self.case(
            scheme,
            "no Signature header",
            &no_signature,
            NOW,
            &["missing_header"],
            set.clone(),
        );
        let short = self.http_signed(&self.rsa, &rsa_id(), json_call(), NOW, "short-nonce");
        self.case(
            scheme,
            "a nonce shorter than 16 characters",
            &short,
            NOW,
            &["malformed"],
            set,
        );
    }

    fn rfc9421_signed(&self, key: &Ed25519Key, key_id: &str, mut call: Call, scheme: &str, created: i64) -> Call {
        let signer = rfc9421::Signer {
            key,
            key_id,
            account_header: ACCOUNT_HEADER,
            account_value: ACCOUNT,
        };
        let pairs = call.pairs();
        let added = signer.sign(&call.request(&pairs), scheme, created).unwrap();
        call.add(added.pairs());
        call
    }

    fn rfc9421_cases(&mut self) {
        let scheme = "rfc9421";
        let set = json!({ "keys": "key_set" });
        let genuine = self.rfc9421_signed(&self.ed25519, &ed25519_id(), json_call(), "https", NOW);
        self.case(scheme, "a genuine json call", &genuine, NOW + 2, &["ok"], set.clone());
        self.case(
            scheme,
            "a genuine json call, the key from its DKIM record",
            &genuine,
            NOW,
            &["ok"],
            json!({ "keys": "dns" }),
        );
        let form = self.rfc9421_signed(
            &self.ed25519,
            &ed25519_id(),
            unsigned("application/x-www-form-urlencoded", FORM_BODY),
            "https",
            NOW,
        );
        self.case(scheme, "a genuine form call", &form, NOW, &["ok"], set.clone());
        let xml = self.rfc9421_signed(
            &self.ed25519,
            &ed25519_id(),
            unsigned("application/xml", XML_BODY),
            "https",
            NOW,
        );
        self.case(
            scheme,
            "a genuine xml call",
            &xml,
            NOW,
            &["ok"],
            json!({ "keys": "dns" }),
        );
        let plain = self.rfc9421_signed(&self.ed25519, &ed25519_id(), json_call(), "http", NOW);
        self.case(
            scheme,
            "a call to an http URL, the receiver reached at http",
            &plain,
            NOW,
            &["ok"],
            json!({ "keys": "key_set", "policy": { "scheme": "http" } }),
        );
        self.case(
            scheme,
            "a call to an http URL, the receiver expecting https",
            &plain,
            NOW,
            &["bad_signature"],
            set.clone(),
        );

        let mut changed = genuine.clone();
        changed.body = JSON_BODY.replace("42", "43").into_bytes();
        self.case(
            scheme,
            "a changed body",
            &changed,
            NOW,
            &["digest_mismatch"],
            set.clone(),
        );
        let mut content_type = genuine.clone();
        content_type.set_header("Content-Type", "text/plain");
        self.case(
            scheme,
            "a changed Content-Type",
            &content_type,
            NOW,
            &["bad_signature"],
            set.clone(),
        );
        let mut target = genuine.clone();
        target.target = "/hooks/other.php?src=pb".into();
        self.case(
            scheme,
            "a changed request target",
            &target,
            NOW,
            &["bad_signature"],
            set.clone(),
        );
        self.case(scheme, "created 61 s ago", &genuine, NOW + 61, &["stale"], set.clone());
        self.case(
            scheme,
            "created 11 s ahead",
            &genuine,
            NOW - 11,
            &["stale"],
            set.clone(),
        );
        let forged = self.rfc9421_signed(&self.other_ed25519, &ed25519_id(), json_call(), "https", NOW);
        self.case(
            scheme,
            "signed by another key under the published key id",
            &forged,
            NOW,
            &["bad_signature"],
            set.clone(),
        );
        self.case(
            scheme,
            "signed by another key, the key from its DKIM record",
            &forged,
            NOW,
            &["bad_signature"],
            json!({ "keys": "dns" }),
        );
        let with_rsa_id = self.rfc9421_signed(&self.ed25519, &rsa_id(), json_call(), "https", NOW);
        self.case(
            scheme,
            "a key id that names the RSA key",
            &with_rsa_id,
            NOW,
            &["bad_signature"],
            set.clone(),
        );
        let unknown = self.rfc9421_signed(
            &self.ed25519,
            &dkim::key_id("pb202605none", KEY_DOMAIN),
            json_call(),
            "https",
            NOW,
        );
        self.case(
            scheme,
            "a key id that is not published",
            &unknown,
            NOW,
            &["unknown_key"],
            set.clone(),
        );
        let untrusted = self.rfc9421_signed(
            &self.ed25519,
            &dkim::key_id("pb202605ed01", "evil.example"),
            json_call(),
            "https",
            NOW,
        );
        self.case(
            scheme,
            "a key under a domain the receiver does not trust",
            &untrusted,
            NOW,
            &["untrusted_key_domain"],
            set.clone(),
        );
        self.case(
            scheme,
            "a call for another account",
            &genuine,
            NOW,
            &["wrong_account"],
            json!({ "keys": "key_set", "policy": { "account": "acc_01jd5m8k3q4w7e9r2t6y8u0i9z" } }),
        );
        let mut no_input = genuine.clone();
        no_input.remove_header("Signature-Input");
        self.case(
            scheme,
            "no Signature-Input header",
            &no_input,
            NOW,
            &["missing_header"],
            set.clone(),
        );
        let mut changed_account = genuine.clone();
        changed_account.set_header(ACCOUNT_HEADER, "acc_01jd5m8k3q4w7e9r2t6y8u0i9z");
        self.case(
            scheme,
            "the account header changed to the receiver's account",
            &changed_account,
            NOW,
            &["bad_signature"],
            json!({ "keys": "key_set", "policy": { "account": "acc_01jd5m8k3q4w7e9r2t6y8u0i9z" } }),
        );
        let mut digest_only = genuine.clone();
        digest_only.set_header("Content-Digest", &rfc9421::content_digest(b"{}"));
        digest_only.body = b"{}".to_vec();
        self.case(
            scheme,
            "a changed body with its Content-Digest changed to match",
            &digest_only,
            NOW,
            &["bad_signature"],
            set,
        );
    }
}
