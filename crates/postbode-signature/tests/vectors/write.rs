//! Writes the shared vectors from this crate's signers: for each scheme a genuine call
//! in every format, then one change at a time and the outcome it must lead to.

use super::common::Call;
use super::{ACCOUNT, ACCOUNT_HEADER, DELIVERY, KEY_DOMAIN, NOW, TARGET, vectors_path};
use postbode_signature::http_signature;
use postbode_signature::key_set::{KeySet, KeyState};
use postbode_signature::keys::{Ed25519Key, RsaKey};
use postbode_signature::standard_webhooks::{self, Secret};
use postbode_signature::{dkim, rfc9421};
use serde_json::{Value, json};

/// Writes the vectors file anew from this crate's signers.
#[test]
#[ignore = "writes clients/testdata/signature-vectors.json; run with POSTBODE_WRITE_VECTORS=1"]
fn write_the_shared_vectors() {
    if std::env::var("POSTBODE_WRITE_VECTORS").as_deref() != Ok("1") {
        return;
    }
    let text = serde_json::to_string_pretty(&Vectors::new().file()).unwrap() + "\n";
    std::fs::write(vectors_path(), text).unwrap();
}

const JSON_BODY: &str = r#"{"id":"evt_01jd5m8k3q4w7e9r2t6y8u0i1q","type":"order.paid","timestamp":"2026-05-17 06:40:00","time":1779000000,"data":{"order":42,"paid":true,"tags":["a","b"]}}"#;
const FORM_BODY: &str = "id=evt_01jd5m8k3q4w7e9r2t6y8u0i1q&type=order.paid&timestamp=2026-05-17+06%3A40%3A00&time=1779000000&data%5Border%5D=42&data%5Bpaid%5D=1&data%5Btags%5D%5B%5D=a&data%5Btags%5D%5B%5D=b";
const XML_BODY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<event><id>evt_01jd5m8k3q4w7e9r2t6y8u0i1q</id><type>order.paid</type><timestamp>2026-05-17 06:40:00</timestamp><time>1779000000</time><data><order>42</order><paid>1</paid><tags><item>a</item><item>b</item></tags></data></event>";
const FORM: &str = "application/x-www-form-urlencoded";
const XML: &str = "application/xml";
const OTHER_ACCOUNT: &str = "acc_01jd5m8k3q4w7e9r2t6y8u0i9z";
const NONCE: &str = "q1w2e3r4t5y6u7i8o9p0as";

fn rsa_id() -> String {
    dkim::key_id("pb202605rsa1", KEY_DOMAIN)
}

fn ed25519_id() -> String {
    dkim::key_id("pb202605ed01", KEY_DOMAIN)
}

fn unknown_id() -> String {
    dkim::key_id("pb202605none", KEY_DOMAIN)
}

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

/// `call` with one header set to `value`.
fn with_header(call: &Call, name: &str, value: &str) -> Call {
    let mut changed = call.clone();
    changed.set_header(name, value);
    changed
}

fn without_header(call: &Call, name: &str) -> Call {
    let mut changed = call.clone();
    changed.remove_header(name);
    changed
}

fn with_body(call: &Call, body: &str) -> Call {
    let mut changed = call.clone();
    changed.body = body.as_bytes().to_vec();
    changed
}

fn with_target(call: &Call, target: &str) -> Call {
    let mut changed = call.clone();
    changed.target = target.into();
    changed
}

fn date(unix: i64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix as u64))
}

struct Vectors {
    rsa: RsaKey,
    other_rsa: RsaKey,
    ed25519: Ed25519Key,
    other_ed25519: Ed25519Key,
    secret: Secret,
    old_secret: Secret,
    /// The scheme of the cases being written, and what each of them gets (its keys, its
    /// secrets) unless it says otherwise.
    scheme: &'static str,
    defaults: Value,
    cases: Vec<Value>,
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
            scheme: "",
            defaults: json!({}),
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
            dns.insert(id, json!(dkim::split_txt(&dkim::record(&key))));
        }
        json!({
            "about": [
                "Signed calls and the outcome a receiver must reach, for every signature scheme.",
                "Written by crates/postbode-signature/tests/vectors/write.rs from Postbode's own signers; checked there and by each client library in clients/.",
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

    /// The cases that follow are of `scheme`, each with `defaults`.
    fn scheme(&mut self, scheme: &'static str, defaults: Value) {
        self.scheme = scheme;
        self.defaults = defaults;
    }

    /// A case presented at `now`; `expect` lists its outcomes, separated by spaces.
    fn case(&mut self, name: &str, call: &Call, now: i64, expect: &str) {
        self.case_with(json!({}), name, call, now, expect);
    }

    /// A case with settings of its own (`keys`, `policy`, `secrets`) over the defaults.
    fn case_with(&mut self, settings: Value, name: &str, call: &Call, now: i64, expect: &str) {
        let mut case = json!({
            "name": format!("{}: {name}", self.scheme),
            "scheme": self.scheme,
            "now": now,
            "request": {
                "method": call.method,
                "target": call.target,
                "headers": call.headers.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>(),
                "body": String::from_utf8(call.body.clone()).unwrap(),
            },
            "expect": expect.split_whitespace().collect::<Vec<_>>(),
        });
        for layer in [&self.defaults, &settings] {
            for (key, value) in layer.as_object().unwrap() {
                case[key] = value.clone();
            }
        }
        self.cases.push(case);
    }

    fn standard_webhooks_signed(&self, mut call: Call, secrets: &[Secret], timestamp: i64) -> Call {
        let signature = standard_webhooks::sign_all(secrets, DELIVERY, timestamp, &call.body);
        call.add(vec![
            ("webhook-id".into(), DELIVERY.into()),
            ("webhook-timestamp".into(), timestamp.to_string()),
            ("webhook-signature".into(), signature),
        ]);
        call
    }

    fn standard_webhooks_cases(&mut self) {
        self.scheme("standard-webhooks", json!({ "secrets": [self.secret.as_str()] }));
        let secret = [self.secret.clone()];
        let genuine = self.standard_webhooks_signed(json_call(), &secret, NOW);
        self.case("a genuine json call", &genuine, NOW + 3, "ok");
        let form = self.standard_webhooks_signed(unsigned(FORM, FORM_BODY), &secret, NOW);
        self.case("a genuine form call", &form, NOW, "ok");
        let xml = self.standard_webhooks_signed(unsigned(XML, XML_BODY), &secret, NOW);
        self.case("a genuine xml call", &xml, NOW, "ok");
        let both = [self.secret.clone(), self.old_secret.clone()];
        let rotating = self.standard_webhooks_signed(json_call(), &both, NOW);
        let old = json!({ "secrets": [self.old_secret.as_str()] });
        let name = "during a rotation, a receiver that still holds the old secret";
        self.case_with(old.clone(), name, &rotating, NOW, "ok");
        self.case("a timestamp 300 s old is still accepted", &genuine, NOW + 300, "ok");

        let changed = with_body(&genuine, &JSON_BODY.replace("42", "43"));
        self.case("a changed body", &changed, NOW, "bad_signature");
        let other_id = with_header(&genuine, "webhook-id", "dlv_01jd5m8k3q4w7e9r2t6y8u0i1z");
        self.case("a changed webhook-id", &other_id, NOW, "bad_signature");
        self.case("a timestamp 301 s old", &genuine, NOW + 301, "stale");
        self.case("a timestamp 301 s ahead", &genuine, NOW - 301, "stale");
        self.case_with(old, "another webhook's secret", &genuine, NOW, "bad_signature");
        let unsigned_call = without_header(&genuine, "webhook-signature");
        self.case("no webhook-signature header", &unsigned_call, NOW, "missing_header");
        let v1a = genuine.header("webhook-signature").unwrap().replace("v1,", "v1a,");
        let other_version = with_header(&genuine, "webhook-signature", &v1a);
        self.case(
            "only a signature of an unknown version",
            &other_version,
            NOW,
            "bad_signature",
        );
        let bad_timestamp = with_header(&genuine, "webhook-timestamp", "yesterday");
        self.case("a timestamp that is not a number", &bad_timestamp, NOW, "malformed");
    }

    fn http_signer<'a>(key: &'a RsaKey, key_id: &'a str) -> http_signature::Signer<'a> {
        http_signature::Signer {
            key,
            key_id,
            account_header: ACCOUNT_HEADER,
            account_value: ACCOUNT,
        }
    }

    fn http_signed(&self, key: &RsaKey, key_id: &str, mut call: Call, nonce: &str) -> Call {
        let pairs = call.pairs();
        let added = Self::http_signer(key, key_id)
            .sign_with_nonce(&call.request(&pairs), NOW, nonce)
            .unwrap();
        call.add(added.pairs());
        call
    }

    /// A call whose headers the signer leaves alone (`digest` as given), signed over `covered`.
    fn http_signed_over(&self, digest: String, covered: &[String]) -> Call {
        let mut call = json_call();
        call.add(vec![
            ("Date".into(), date(NOW)),
            (ACCOUNT_HEADER.into(), ACCOUNT.into()),
            ("Digest".into(), digest),
            ("X-Nonce".into(), NONCE.into()),
        ]);
        let covered: Vec<&str> = covered.iter().map(String::as_str).collect();
        let pairs = call.pairs();
        let signature = Self::http_signer(&self.rsa, &rsa_id())
            .signature_header(&call.request(&pairs), &covered)
            .unwrap();
        call.add(vec![("Signature".into(), signature)]);
        call
    }

    fn http_signature_cases(&mut self) {
        self.scheme("http-signature", json!({ "keys": "key_set" }));
        let dns = json!({ "keys": "dns" });
        let genuine = self.http_signed(&self.rsa, &rsa_id(), json_call(), NONCE);
        self.case(
            "a genuine json call, then the same call again",
            &genuine,
            NOW + 2,
            "ok replayed_nonce",
        );
        let name = "a genuine json call, the key from its DKIM record";
        self.case_with(dns.clone(), name, &genuine, NOW + 2, "ok");
        let form = self.http_signed(&self.rsa, &rsa_id(), unsigned(FORM, FORM_BODY), NONCE);
        self.case("a genuine form call", &form, NOW, "ok");
        let xml = self.http_signed(&self.rsa, &rsa_id(), unsigned(XML, XML_BODY), NONCE);
        self.case_with(dns.clone(), "a genuine xml call", &xml, NOW, "ok");
        self.case("a Date 60 s old is still accepted", &genuine, NOW + 60, "ok");
        let mut lower = genuine.clone();
        lower.headers = lower
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), format!(" {v} ")))
            .collect();
        self.case(
            "header names in lower case, values with spaces around",
            &lower,
            NOW,
            "ok",
        );

        let changed = with_body(&genuine, &JSON_BODY.replace("42", "43"));
        self.case("a changed body", &changed, NOW, "digest_mismatch");
        let retyped = with_header(&genuine, "Content-Type", "text/plain");
        self.case("a changed Content-Type", &retyped, NOW, "bad_signature");
        let host = with_header(&genuine, "Host", "attacker.example");
        self.case("a changed Host", &host, NOW, "bad_signature");
        let target = with_target(&genuine, "/hooks/other.php?src=pb");
        self.case("a changed request target", &target, NOW, "bad_signature");
        self.case("a Date 61 s old", &genuine, NOW + 61, "stale");
        self.case("a Date 11 s ahead", &genuine, NOW - 11, "stale");
        let forged = self.http_signed(&self.other_rsa, &rsa_id(), json_call(), NONCE);
        self.case(
            "signed by another key under the published key id",
            &forged,
            NOW,
            "bad_signature",
        );
        let name = "signed by another key, the key from its DKIM record";
        self.case_with(dns.clone(), name, &forged, NOW, "bad_signature");
        let unknown = self.http_signed(&self.rsa, &unknown_id(), json_call(), NONCE);
        self.case("a key id that is not published", &unknown, NOW, "unknown_key");
        self.case_with(dns, "a key id without a DKIM record", &unknown, NOW, "unknown_key");
        let evil = dkim::key_id("pb202605rsa1", "evil.example");
        let untrusted = self.http_signed(&self.rsa, &evil, json_call(), NONCE);
        let name = "a key under a domain the receiver does not trust";
        self.case(name, &untrusted, NOW, "untrusted_key_domain");
        let other_account = json!({ "policy": { "account": OTHER_ACCOUNT } });
        self.case_with(
            other_account,
            "a call for another account",
            &genuine,
            NOW,
            "wrong_account",
        );

        let digest = http_signature::digest_header(JSON_BODY.as_bytes());
        let all = http_signature::covered_headers(ACCOUNT_HEADER);
        let fewer: Vec<String> = all.iter().filter(|h| *h != "x-nonce").cloned().collect();
        let uncovered = self.http_signed_over(digest.clone(), &fewer);
        self.case(
            "a signature that does not cover x-nonce",
            &uncovered,
            NOW,
            "not_covered",
        );
        let upper = self.http_signed_over(digest.replace("sha-256", "SHA-256"), &all);
        self.case("the Digest algorithm in upper case", &upper, NOW, "ok");
        let no_signature = without_header(&genuine, "Signature");
        self.case("no Signature header", &no_signature, NOW, "missing_header");
        let short = self.http_signed(&self.rsa, &rsa_id(), json_call(), "short-nonce");
        self.case("a nonce shorter than 16 characters", &short, NOW, "malformed");
    }

    fn rfc9421_signed(&self, key: &Ed25519Key, key_id: &str, mut call: Call, scheme: &str) -> Call {
        let signer = rfc9421::Signer {
            key,
            key_id,
            account_header: ACCOUNT_HEADER,
            account_value: ACCOUNT,
        };
        let pairs = call.pairs();
        let added = signer.sign(&call.request(&pairs), scheme, NOW).unwrap();
        call.add(added.pairs());
        call
    }

    fn rfc9421_cases(&mut self) {
        self.scheme("rfc9421", json!({ "keys": "key_set" }));
        let dns = json!({ "keys": "dns" });
        let genuine = self.rfc9421_signed(&self.ed25519, &ed25519_id(), json_call(), "https");
        self.case("a genuine json call", &genuine, NOW + 2, "ok");
        let name = "a genuine json call, the key from its DKIM record";
        self.case_with(dns.clone(), name, &genuine, NOW, "ok");
        let form = self.rfc9421_signed(&self.ed25519, &ed25519_id(), unsigned(FORM, FORM_BODY), "https");
        self.case("a genuine form call", &form, NOW, "ok");
        let xml = self.rfc9421_signed(&self.ed25519, &ed25519_id(), unsigned(XML, XML_BODY), "https");
        self.case_with(dns.clone(), "a genuine xml call", &xml, NOW, "ok");
        let plain = self.rfc9421_signed(&self.ed25519, &ed25519_id(), json_call(), "http");
        let reached_at_http = json!({ "policy": { "scheme": "http" } });
        let name = "a call to an http URL, the receiver reached at http";
        self.case_with(reached_at_http, name, &plain, NOW, "ok");
        let name = "a call to an http URL, the receiver expecting https";
        self.case(name, &plain, NOW, "bad_signature");

        let changed = with_body(&genuine, &JSON_BODY.replace("42", "43"));
        self.case("a changed body", &changed, NOW, "digest_mismatch");
        let retyped = with_header(&genuine, "Content-Type", "text/plain");
        self.case("a changed Content-Type", &retyped, NOW, "bad_signature");
        let target = with_target(&genuine, "/hooks/other.php?src=pb");
        self.case("a changed request target", &target, NOW, "bad_signature");
        self.case("created 61 s ago", &genuine, NOW + 61, "stale");
        self.case("created 11 s ahead", &genuine, NOW - 11, "stale");
        let forged = self.rfc9421_signed(&self.other_ed25519, &ed25519_id(), json_call(), "https");
        self.case(
            "signed by another key under the published key id",
            &forged,
            NOW,
            "bad_signature",
        );
        let name = "signed by another key, the key from its DKIM record";
        self.case_with(dns, name, &forged, NOW, "bad_signature");
        let with_rsa_id = self.rfc9421_signed(&self.ed25519, &rsa_id(), json_call(), "https");
        self.case("a key id that names the RSA key", &with_rsa_id, NOW, "bad_signature");
        let unknown = self.rfc9421_signed(&self.ed25519, &unknown_id(), json_call(), "https");
        self.case("a key id that is not published", &unknown, NOW, "unknown_key");
        let evil = dkim::key_id("pb202605ed01", "evil.example");
        let untrusted = self.rfc9421_signed(&self.ed25519, &evil, json_call(), "https");
        let name = "a key under a domain the receiver does not trust";
        self.case(name, &untrusted, NOW, "untrusted_key_domain");
        let other_account = json!({ "policy": { "account": OTHER_ACCOUNT } });
        let name = "a call for another account";
        self.case_with(other_account.clone(), name, &genuine, NOW, "wrong_account");
        let no_input = without_header(&genuine, "Signature-Input");
        self.case("no Signature-Input header", &no_input, NOW, "missing_header");
        let renamed = with_header(&genuine, ACCOUNT_HEADER, OTHER_ACCOUNT);
        let name = "the account header changed to the receiver's account";
        self.case_with(other_account, name, &renamed, NOW, "bad_signature");
        let empty = with_header(
            &with_body(&genuine, "{}"),
            "Content-Digest",
            &rfc9421::content_digest(b"{}"),
        );
        let name = "a changed body with its Content-Digest changed to match";
        self.case(name, &empty, NOW, "bad_signature");
    }
}
