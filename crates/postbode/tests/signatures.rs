//! Calls signed by the running service, checked by verifiers nobody here wrote (the
//! npm `http-signature` package) and by our own; keys published and rotated.

mod common;

use common::{ADMIN, Call, Receiver, Service};
use postbode_signature::Request;
use postbode_signature::key_set::KeySet;
use serde_json::{Value, json};
use std::time::Duration;

const NODE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../postbode-signature/tests/node");

async fn key_set(service: &Service) -> KeySet {
    let text = service
        .http
        .get(format!("{}/.well-known/postbode/keys", service.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    KeySet::from_json(&text).unwrap()
}

fn headers_of(call: &Call) -> Vec<(String, String)> {
    call.headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect()
}

/// Verifies a captured call with our own http-signature verifier against `keys`.
fn verify_http_signature(
    call: &Call,
    keys: &KeySet,
    account_id: &str,
    now: i64,
) -> Result<(), postbode_signature::Error> {
    use postbode_signature::http_signature::{Policy, verify};
    use postbode_signature::nonce::NonceCache;
    let headers = headers_of(call);
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let request = Request {
        method: "POST",
        target: &call.path,
        headers: &pairs,
        body: &call.body,
    };
    let policy = Policy::new("127.0.0.1", "X-Postbode-Account", account_id);
    verify(&request, &policy, keys, &NonceCache::default(), now).map(drop)
}

async fn account_id(service: &Service) -> String {
    let (_, accounts) = service.call("GET", "/v1/accounts", ADMIN, None).await;
    accounts["data"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn http_signature_calls_verify_with_the_npm_package() {
    let node_ready = std::path::Path::new(NODE_DIR)
        .join("node_modules/http-signature")
        .exists();
    if !node_ready {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "npm ci --prefix {NODE_DIR} is required in CI"
        );
        eprintln!("skipped: npm ci --prefix {NODE_DIR}");
        return;
    }
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Acme").await;
    service
        .webhook(
            &key,
            json!({ "url": receiver.url, "signatures": ["http-signature", "standard-webhooks"] }),
        )
        .await;
    service
        .send_event(&key, json!({ "type": "order.paid", "data": {"n": 1} }))
        .await;
    let call = receiver.wait_for(1).await.remove(0);
    let account = account_id(&service).await;
    assert_eq!(call.header("x-postbode-account"), account);
    assert!(call.header("x-nonce").len() >= 16);
    assert!(call.header("webhook-signature").starts_with("v1,"), "schemes combine");
    let signature = call.header("signature");
    assert!(
        signature.contains(
            r#"headers="(request-target) host date content-length content-type x-postbode-account digest x-nonce""#
        ),
        "{signature}"
    );

    let keys = key_set(&service).await;
    let key_id = signature.split("keyId=\"").nth(1).unwrap().split('"').next().unwrap();
    assert!(key_id.ends_with("._domainkey.127.0.0.1"), "{key_id}");
    let pem = keys.get(key_id).expect("the signing key is published").key.to_pem();
    let mut headers = serde_json::Map::new();
    for (name, value) in headers_of(&call) {
        headers.insert(name, Value::String(value));
    }
    let input = json!({ "method": "POST", "url": call.path, "headers": headers, "pem": pem });
    let script = r#"
const httpSignature = require('http-signature');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const request = { method: input.method, url: input.url, httpVersion: '1.1', headers: input.headers };
const parsed = httpSignature.parseRequest(request, {
  headers: ['(request-target)', 'host', 'date', 'x-postbode-account', 'digest', 'x-nonce'],
  clockSkew: 300,
});
process.stdout.write(JSON.stringify({ ok: httpSignature.verifySignature(parsed, input.pem), keyId: parsed.keyId }));
"#;
    let mut node = tokio::process::Command::new("node")
        .args(["-e", script])
        .env("NODE_PATH", format!("{NODE_DIR}/node_modules"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = node.stdin.take().unwrap();
        stdin.write_all(input.to_string().as_bytes()).await.unwrap();
    }
    let output = node.wait_with_output().await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let verdict: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(verdict, json!({ "ok": true, "keyId": key_id }));
    // And our own verifier agrees.
    verify_http_signature(
        &call,
        &keys,
        &account,
        postbode_core::Clock::now(service.clock.as_ref()).timestamp(),
    )
    .unwrap();
}

#[tokio::test]
async fn rfc9421_calls_verify_with_the_published_ed25519_key() {
    use postbode_signature::rfc9421::{Policy, verify};
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Acme").await;
    service
        .webhook(&key, json!({ "url": receiver.url, "signatures": ["rfc9421"] }))
        .await;
    service.send_event(&key, json!({ "type": "x" })).await;
    let call = receiver.wait_for(1).await.remove(0);
    assert_eq!(call.header("webhook-signature"), "", "only the chosen scheme");
    assert!(call.header("content-digest").starts_with("sha-256=:"));
    assert!(call.header("signature-input").starts_with(
        r#"sig1=("@method" "@target-uri" "content-digest" "content-type" "x-postbode-account");created="#
    ));
    let keys = key_set(&service).await;
    let account = account_id(&service).await;
    let headers = headers_of(&call);
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let request = Request {
        method: "POST",
        target: &call.path,
        headers: &pairs,
        body: &call.body,
    };
    let mut policy = Policy::new("127.0.0.1", "X-Postbode-Account", &account);
    policy.scheme = "http".into();
    let now = postbode_core::Clock::now(service.clock.as_ref()).timestamp();
    verify(&request, &policy, &keys, now).unwrap();
    let mut tampered = call.body.to_vec();
    tampered[0] = b' ';
    let request = Request {
        body: &tampered,
        ..request
    };
    assert!(verify(&request, &policy, &keys, now).is_err());
}

#[tokio::test]
async fn keys_rotate_without_breaking_a_receiver_that_caches_them() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Acme").await;
    service
        .webhook(&key, json!({ "url": receiver.url, "signatures": ["http-signature"] }))
        .await;
    let account = account_id(&service).await;
    let now = || postbode_core::Clock::now(service.clock.as_ref()).timestamp();

    service.send_event(&key, json!({ "type": "x" })).await;
    let before = receiver.wait_for(1).await.remove(0);

    let (status, rotated) = service.call("POST", "/v1/signing-keys/rotate", ADMIN, None).await;
    assert_eq!(status, 200, "{rotated}");
    let states: Vec<&str> = rotated["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.iter().filter(|s| **s == "next").count(), 2, "{rotated}");
    for published in rotated["data"].as_array().unwrap() {
        let zone = published["dns"]["zone_text"].as_str().unwrap();
        assert!(
            zone.split("\" \"").all(|part| part.trim_matches('"').len() <= 255),
            "{zone}"
        );
        assert!(published["dns"]["text"].as_str().unwrap().starts_with("v=DKIM1;k="));
    }
    // A receiver fetches the key set now and caches it for the whole test.
    let cached = key_set(&service).await;

    // The new key signs only after the pre-publication period.
    service.advance(Duration::from_secs(48 * 3600 + 1));
    service.send_event(&key, json!({ "type": "x" })).await;
    let after = receiver.wait_for(2).await.remove(1);
    let key_id = |call: &Call| {
        call.header("signature")
            .split("keyId=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_ne!(key_id(&before), key_id(&after), "the new key signs");
    verify_http_signature(&after, &cached, &account, now()).unwrap();

    // A retired key stays published for the grace period, then no longer verifies.
    assert!(key_set(&service).await.get(&key_id(&before)).is_some());
    service.advance(Duration::from_secs(7 * 24 * 3600 + 1));
    let current = key_set(&service).await;
    assert!(current.get(&key_id(&before)).is_none());
    // Checked as of when it was sent, so only the key's withdrawal can refuse it.
    let sent_at: i64 = {
        let date = httpdate::parse_http_date(before.header("date")).unwrap();
        date.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
    };
    let error = verify_http_signature(&before, &current, &account, sent_at).unwrap_err();
    assert!(matches!(error, postbode_signature::Error::UnknownKey(_)), "{error}");
}
