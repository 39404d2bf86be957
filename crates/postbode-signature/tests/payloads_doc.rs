//! The worked examples of docs/payloads.md, checked against this crate: a receiver
//! written from that page alone meets exactly what Postbode signs. Each block the page
//! marks `<!-- example: NAME -->` is read here; the signatures are made again from the
//! examples' private keys (kept here, not on the page) and must come out byte for byte
//! as printed, and the page's keys, signed strings and signatures must verify. OpenSSL,
//! when installed (always under `CI=true`), checks the page's PEM keys and signed
//! strings as a receiver's own tools would.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use postbode_signature::key_set::{KeySet, KeyState};
use postbode_signature::keys::{Ed25519Key, PublicKey, RsaKey};
use postbode_signature::{Error, Request, dkim, http_signature, rfc9421, standard_webhooks};
use std::collections::HashMap;

/// The examples' keys, PKCS#8 in base64: made for the page, signing nothing else.
const RSA_PKCS8: &[&str] = &[
    "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQC99AmN6uAmns8XCEeUVI6j7h8c",
    "CJSfruFu0DENn3Mic2CbjL7AYcGUO5CGGanM4Fal4BETNpX6NvB4GhdnIVm+jzIwSP46FKduaBky",
    "m+umS1mB4pt0e3V8GOGzhhMtfSVkovrd3oGTymjNwVj6g9xPol8oViqb8FA5vSyj/wUtX/jfL5Kh",
    "iOYaxwpiP9hUSF1BM/+xwZfEqWPrjtXDuZA3W6VnQVe6eb7F0A7vjgeD/JQP0NHRtFanE6LEradC",
    "fHr51yStxcPOSjufFB6shHPU26oV2AK15td6ToY/6uqVlfcXHt9J2KeLht/c7RqEkibA3KQUFAgi",
    "5WKOqpL89ZEDAgMBAAECggEAK4Sp3bQmV2LB0iaI86Atr7vhr7P9jNntdsxGuLbDk2x4gRqNJxke",
    "Vt4QndBqWPA6mbUMZGj4kkMc838SxoNbAq/e0TYf3GGX/FDoGPKk2cvgfUPT1qtkPqKartz0LtNB",
    "il1WeRc9e4T/XshBoN8tzabHA0A+ccxsLNY80HOgFYVGqPDzglBnZ6zVo98o/UgzTksQnWYt9P0l",
    "KAHwtFcbbfO6tF86+SAGkXzbPGyX46W8YLrMP2hYyeaPJe6kP6SLswKj/6VRpv5/bKZxg9nhEQtU",
    "RQFy35MwqgvSTynF8Syto2OJ0uwkL/B2k5pPjCJzDxJECQp7RHdek9BBsi/hFQKBgQDli1TR6H+3",
    "NO6Zm4Vmq75xRvynLj1B1qRZjk0ka++gMCtU0WXAy5vDXjwFXoozMf7Ue/7RfAMvsprM4rCjb65J",
    "I8tQjYwroysRd6i+ATbLvTot6bGm0MRjE2nSLAWOrg5AGxLWaoE23uuz85HmwUqYnRXGSvhmLFiK",
    "sDAbijXl3QKBgQDT2JRr8dtqsQUZHiXjWZfZrJST5m/lGxcRjo46N48EHucfy2etMc5guaAC5SKM",
    "aDJqewSQY2Pk+Z2ARiCuS317VqiSINVXv1yssjotLlyEaoWlMILOoBa6hnqlLRYPoZ0iDNAXUriD",
    "dCIj+Ttd7/fVc6jxA1El32tUkixRIQAUXwKBgGIvnCOBoQe704fPF1vYgMixhab5R2ifKIPKM8Mt",
    "jD1n/VD1lOHH9iO2blQZoWHOs+Mt+syekDpZ2o9jNA1k2xccAX6+XUPZMrXxCjPkDw1NLtKu0Le7",
    "OxXqGuy0udfTKfNP4VnoCsduyUGbIUCkU4U+RC8iqGgD9ge0348YKn/dAoGAX/Itdp45lB7Mgk3H",
    "NyryvWGOgVXSw977GbaI8BENsv4UC7BiKmzuXZx0vhrtBM6EVvmUXZjGO4RaMyiP0KDcGiprepNo",
    "TK+c15J5CtF+kXJ1SRWpiM+0u5IApiK/ZSD7O9q1vHp4mwDUHZrZqnfutTwG/fFUpWSFBe6WJ8Bc",
    "et0CgYAgVYWIyBUwvqjivR8DKalW++MV8IEktk1cc3xCs5nJoXc2miIswMYa8jnc6vSHOD7g772o",
    "4d/Pwyzw1u0GIbPZeftGjNS7pJ31PWqCtj0bdiQwgqn/68GfkxMz/e4ySgafo5GODfhxDFCKYXfq",
    "G5WukyY2lcWQ66kLtmJkg+ZsLA==",
];
const ED25519_PKCS8: &str = "MC4CAQAwBQYDK2VwBCIEIChke82cdTpDywBpZ9wVlpUImJa1P9TnlONc3gCT6jrM";

const NOW: i64 = 1_795_439_172;
const ACCOUNT: &str = "acc_01kdn2g7v8x4q3m9t6w2r5y8zc";
const KEY_DOMAIN: &str = "webhooks.example.com";

/// The page's example blocks by name.
fn examples() -> HashMap<String, String> {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/payloads.md")).unwrap();
    let mut found = HashMap::new();
    let mut lines = page.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.strip_prefix("<!-- example: ").and_then(|l| l.strip_suffix(" -->")) else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert!(fence.starts_with("```"), "{name}: a fenced block follows its marker");
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        assert!(
            found.insert(name.to_owned(), block.join("\n")).is_none(),
            "{name} twice"
        );
    }
    found
}

/// A call as the page prints it: request line, headers, a blank line, the body.
struct Call {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Call {
    fn parse(text: &str) -> Self {
        let (head, body) = text.split_once("\n\n").expect("a blank line before the body");
        let mut lines = head.lines();
        let request_line: Vec<&str> = lines.next().unwrap().split(' ').collect();
        let headers = lines
            .map(|line| {
                let (name, value) = line.split_once(": ").expect("a header line");
                (name.to_owned(), value.to_owned())
            })
            .collect();
        Self {
            method: request_line[0].to_owned(),
            target: request_line[1].to_owned(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
    }

    /// The call as the crate's verifiers take it, with `headers` from [`Call::header_refs`].
    fn request<'a>(&'a self, headers: &'a [(&'a str, &'a str)]) -> Request<'a> {
        Request {
            method: &self.method,
            target: &self.target,
            headers,
            body: &self.body,
        }
    }

    /// The headers Postbode sets before signing: those the signers take as given.
    fn unsigned(&self) -> [(&'static str, &str); 3] {
        [
            ("Host", self.header("Host")),
            ("Content-Type", self.header("Content-Type")),
            ("Content-Length", self.header("Content-Length")),
        ]
    }
}

fn rsa_key() -> RsaKey {
    RsaKey::from_pkcs8(&STANDARD.decode(RSA_PKCS8.concat()).unwrap()).unwrap()
}

fn ed25519_key() -> Ed25519Key {
    Ed25519Key::from_pkcs8(&STANDARD.decode(ED25519_PKCS8).unwrap()).unwrap()
}

fn published(examples: &HashMap<String, String>) -> KeySet {
    KeySet::from_json(&examples["key-set"]).unwrap()
}

fn key_id(selector: &str) -> String {
    dkim::key_id(selector, KEY_DOMAIN)
}

#[test]
fn every_call_carries_the_same_body_with_its_length() {
    let examples = examples();
    let body = examples["body"].as_bytes();
    for scheme in ["standard-webhooks", "http-signature", "rfc9421"] {
        let call = Call::parse(&examples[&format!("request.{scheme}")]);
        assert_eq!(call.body, body, "{scheme}");
        assert_eq!(call.header("Content-Length"), body.len().to_string(), "{scheme}");
        assert_eq!(
            (call.method.as_str(), call.target.as_str()),
            ("POST", "/hooks/postbode.php?src=pb")
        );
    }
}

#[test]
fn the_standard_webhooks_example() {
    let examples = examples();
    let secret = standard_webhooks::Secret::parse(&examples["secret"]).unwrap();
    let call = Call::parse(&examples["request.standard-webhooks"]);
    let (id, timestamp) = (call.header("webhook-id"), call.header("webhook-timestamp"));
    assert_eq!(id, call.header("X-Postbode-Delivery"));
    assert_eq!(timestamp, NOW.to_string());
    let mut content = format!("{id}.{timestamp}.").into_bytes();
    content.extend_from_slice(&call.body);
    assert_eq!(examples["signed-content.standard-webhooks"].as_bytes(), content);
    let signature = standard_webhooks::sign(&secret, id, NOW, &call.body);
    assert_eq!(call.header("webhook-signature"), signature);
    standard_webhooks::verify(
        std::slice::from_ref(&secret),
        id,
        timestamp,
        &signature,
        &call.body,
        NOW,
    )
    .unwrap();
    let mut changed = call.body.clone();
    changed[0] = b' ';
    assert_eq!(
        standard_webhooks::verify(&[secret], id, timestamp, &signature, &changed, NOW),
        Err(Error::BadSignature)
    );
}

#[test]
fn the_published_keys_are_the_examples_keys_in_each_form() {
    let examples = examples();
    let (rsa, ed25519) = (rsa_key().public_key().unwrap(), ed25519_key().public_key().unwrap());
    let mut expected = KeySet::default();
    expected.push(key_id("pb202611r5a1"), rsa.clone(), KeyState::Active);
    expected.push(key_id("pb202611k3q9"), ed25519.clone(), KeyState::Active);
    let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
    assert_eq!(json(&examples["key-set"]), json(&expected.to_json()));
    assert_eq!(examples["pem.rsa"], rsa.to_pem().trim_end());
    assert_eq!(examples["pem.ed25519"], ed25519.to_pem().trim_end());
    assert_eq!(examples["dns.rsa"], dkim::record(&rsa));
    assert_eq!(examples["dns.ed25519"], dkim::record(&ed25519));
    // The page says how to get the PEM from the key set: wrap `public_key` in lines of 64.
    for (entry, pem) in [(0, "pem.rsa"), (1, "pem.ed25519")] {
        let listed = json(&examples["key-set"])["keys"][entry]["public_key"]
            .as_str()
            .unwrap()
            .to_owned();
        let wrapped: Vec<String> = listed
            .as_bytes()
            .chunks(64)
            .map(|line| String::from_utf8(line.to_vec()).unwrap())
            .collect();
        let made = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----",
            wrapped.join("\n")
        );
        assert_eq!(examples[pem], made, "{pem}");
    }
}

#[test]
fn the_http_signature_example() {
    let examples = examples();
    let call = Call::parse(&examples["request.http-signature"]);
    let headers = call.header_refs();
    let request = call.request(&headers);
    let policy = http_signature::Policy::new(KEY_DOMAIN, http_signature::DEFAULT_ACCOUNT_HEADER, ACCOUNT);
    let verifier = http_signature::Verifier::new(policy, published(&examples));
    let verified = verifier.verify(&request, NOW).unwrap();
    assert_eq!(verified.key_id, key_id("pb202611r5a1"));
    assert_eq!(verifier.verify(&request, NOW), Err(Error::ReplayedNonce));

    // Signed again from the same inputs, the headers come out as printed.
    let (key, id) = (rsa_key(), key_id("pb202611r5a1"));
    let signer = http_signature::Signer {
        key: &key,
        key_id: &id,
        account_header: http_signature::DEFAULT_ACCOUNT_HEADER,
        account_value: ACCOUNT,
    };
    let unsigned = call.unsigned();
    let outgoing = Request {
        headers: &unsigned,
        ..request
    };
    let signed = signer.sign_with_nonce(&outgoing, NOW, call.header("X-Nonce")).unwrap();
    for (name, value) in signed.pairs() {
        assert_eq!(call.header(&name), value, "{name}");
    }

    // The printed signing string is what the signature covers.
    let params = http_signature::SignatureParams::parse(call.header("Signature")).unwrap();
    let signing_string = &examples["signing-string.http-signature"];
    let public = published(&examples).get(&id).unwrap().key.clone();
    public.verify(signing_string.as_bytes(), &params.signature).unwrap();
    openssl_verifies(
        &examples["pem.rsa"],
        signing_string,
        &params.signature,
        &["dgst", "-sha256", "-verify"],
    );
}

#[test]
fn the_rfc9421_example() {
    let examples = examples();
    let call = Call::parse(&examples["request.rfc9421"]);
    let headers = call.header_refs();
    let request = call.request(&headers);
    let policy = rfc9421::Policy::new(KEY_DOMAIN, http_signature::DEFAULT_ACCOUNT_HEADER, ACCOUNT);
    let verified = rfc9421::verify(&request, &policy, &published(&examples), NOW).unwrap();
    assert_eq!(verified.key_id, key_id("pb202611k3q9"));

    let (key, id) = (ed25519_key(), key_id("pb202611k3q9"));
    let signer = rfc9421::Signer {
        key: &key,
        key_id: &id,
        account_header: http_signature::DEFAULT_ACCOUNT_HEADER,
        account_value: ACCOUNT,
    };
    let unsigned = call.unsigned();
    let outgoing = Request {
        headers: &unsigned,
        ..request
    };
    let signed = signer.sign(&outgoing, rfc9421::DEFAULT_SCHEME, NOW).unwrap();
    for (name, value) in signed.pairs() {
        assert_eq!(call.header(&name), value, "{name}");
    }

    let input = &rfc9421::parse_signature_input(call.header("Signature-Input")).unwrap()[0];
    let base = rfc9421::signature_base(&request, rfc9421::DEFAULT_SCHEME, input).unwrap();
    assert_eq!(examples["signature-base.rfc9421"], base);
    let (_, signature) = &rfc9421::parse_signature(call.header("Signature")).unwrap()[0];
    let public: PublicKey = published(&examples).get(&id).unwrap().key.clone();
    public.verify(base.as_bytes(), signature).unwrap();
    openssl_verifies(
        &examples["pem.ed25519"],
        &base,
        signature,
        &["pkeyutl", "-verify", "-pubin", "-rawin", "-inkey"],
    );
}

/// Runs `openssl <args> <pem file>` over `message` and `signature`, as a receiver's own
/// tools would; skipped when OpenSSL is not installed, except under `CI=true`.
fn openssl_verifies(pem: &str, message: &str, signature: &[u8], args: &[&str]) {
    if std::process::Command::new("openssl").arg("version").output().is_err() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI must have openssl");
        eprintln!("skipped: openssl is not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("payloads-doc-{}-{}", std::process::id(), args[0]));
    std::fs::create_dir_all(&dir).unwrap();
    let (key, data, sig) = (dir.join("key.pem"), dir.join("message"), dir.join("signature"));
    std::fs::write(&key, format!("{pem}\n")).unwrap();
    std::fs::write(&data, message).unwrap();
    std::fs::write(&sig, signature).unwrap();
    let mut command = std::process::Command::new("openssl");
    command.args(args).arg(&key);
    if args[0] == "dgst" {
        command.arg("-signature").arg(&sig).arg(&data);
    } else {
        command.arg("-in").arg(&data).arg("-sigfile").arg(&sig);
    }
    let output = command.output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success(), "openssl {args:?}: {output:?}");
}
