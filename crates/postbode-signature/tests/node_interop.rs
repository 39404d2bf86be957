//! `http-signature` checked against an implementation nobody here wrote: Joyent's npm
//! `http-signature` package. Node signs and we verify (and refuse each tampered
//! variant); we sign and Node verifies.
//!
//! Needs `node` and `npm ci --prefix crates/postbode-signature/tests/node` (`.ci/run`
//! does it). Skipped with a message when either is missing, except under `CI=true`,
//! where that is a failure.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{ACCOUNT, ACCOUNT_HEADER, Call, KEY_DOMAIN, NOW, key_id, other_rsa_key, rsa_key};
use postbode_signature::http_signature::{self, Policy, Signer, Verifier};
use postbode_signature::key_set::{KeySet, KeyState};
use postbode_signature::keys::{self, RsaKey};
use postbode_signature::{Error, dkim, random};
use serde_json::{Value, json};

fn node_modules() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node/node_modules");
    let node_works = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if node_works && dir.join("http-signature").is_dir() {
        return Some(dir);
    }
    let why = "node or tests/node/node_modules/http-signature is missing \
               (npm ci --prefix crates/postbode-signature/tests/node)";
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "CI must run the interop test: {why}"
    );
    eprintln!("SKIPPED: {why}");
    None
}

/// Runs `script` with `input` as JSON on stdin; returns what it prints as JSON.
fn run_node(modules: &PathBuf, script: &str, input: &Value) -> Value {
    let mut child = Command::new("node")
        .arg("-e")
        .arg(script)
        .env("NODE_PATH", modules)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("node prints JSON")
}

/// For each job, an object standing in for `http.ClientRequest` (what `sign` reads and
/// writes), signed with the package's `sign`, which sets the `Signature` header.
const SIGN_SCRIPT: &str = r#"
const httpSignature = require('http-signature');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = input.jobs.map((job) => {
  const headers = {};
  for (const [name, value] of Object.entries(job.headers)) headers[name.toLowerCase()] = value;
  const request = {
    method: job.method,
    path: job.path,
    getHeader: (name) => headers[name.toLowerCase()],
    setHeader: (name, value) => { headers[name.toLowerCase()] = value; },
  };
  httpSignature.sign(request, {
    key: job.privateKeyPem,
    keyId: job.keyId,
    algorithm: 'rsa-sha256',
    headers: job.covered,
    authorizationHeaderName: 'Signature',
  });
  return headers['signature'];
});
process.stdout.write(JSON.stringify(out));
"#;

/// For each request: the package's `parseRequest` (requiring the headers PAYLOADS.md
/// requires, with a 60 s clock skew) and `verifySignature`, plus the `Digest` checked
/// with Node's own SHA-256.
const VERIFY_SCRIPT: &str = r#"
const httpSignature = require('http-signature');
const crypto = require('crypto');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = input.requests.map((job) => {
  const request = { method: job.method, url: job.url, httpVersion: '1.1', headers: job.headers };
  try {
    const parsed = httpSignature.parseRequest(request, { headers: input.required, clockSkew: 60 });
    const body = Buffer.from(job.bodyBase64, 'base64');
    const digest = 'sha-256=' + crypto.createHash('sha256').update(body).digest('base64');
    return {
      keyId: parsed.keyId,
      signatureOk: httpSignature.verifySignature(parsed, input.publicKeyPem),
      digestOk: job.headers['digest'] === digest,
    };
  } catch (e) {
    return { error: e.name + ': ' + e.message };
  }
});
process.stdout.write(JSON.stringify(out));
"#;

struct Job<'a> {
    key: &'a RsaKey,
    key_id: String,
    covered: Vec<String>,
    call: Call,
}

impl Job<'_> {
    fn to_json(&self) -> Value {
        let headers: serde_json::Map<String, Value> = self
            .call
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), Value::String(v.clone())))
            .collect();
        json!({
            "method": self.call.method,
            "path": self.call.target,
            "headers": headers,
            "privateKeyPem": keys::pem("PRIVATE KEY", &self.key.to_pkcs8().unwrap()),
            "keyId": self.key_id,
            "covered": self.covered,
        })
    }
}

/// A call carrying everything the signer would add except the `Signature`.
fn unsigned_call(body: &[u8], date_unix: i64) -> Call {
    let mut call = Call::json("/hooks/postbode?src=node", body);
    call.set_header(
        "Date",
        &httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(date_unix as u64)),
    );
    call.set_header(ACCOUNT_HEADER, ACCOUNT);
    call.set_header("Digest", &http_signature::digest_header(body));
    call.set_header("X-Nonce", &random::string(random::URL_SAFE, 22).unwrap());
    call
}

fn published() -> KeySet {
    let mut keys = KeySet::default();
    keys.push(
        key_id("pb202605node"),
        rsa_key().public_key().unwrap(),
        KeyState::Active,
    );
    keys.push(
        dkim::key_id("pb202605node", "evil.example"),
        other_rsa_key().public_key().unwrap(),
        KeyState::Active,
    );
    keys
}

fn check(verifier: &Verifier<KeySet>, call: &Call, now: i64) -> Result<(), Error> {
    let pairs = call.pairs();
    verifier.verify(&call.request(&pairs), now).map(|_| ())
}

#[test]
fn our_verifier_accepts_what_the_npm_signer_signs_and_refuses_each_tampering() {
    let Some(modules) = node_modules() else {
        return;
    };
    let all = http_signature::covered_headers(ACCOUNT_HEADER);
    let without_nonce: Vec<String> = all.iter().filter(|h| *h != "x-nonce").cloned().collect();
    let body = br#"{"hello": "world"}"#;
    let ours = key_id("pb202605node");
    let jobs = [
        // 0: genuine
        Job {
            key: rsa_key(),
            key_id: ours.clone(),
            covered: all.clone(),
            call: unsigned_call(body, NOW),
        },
        // 1: dated two minutes before NOW
        Job {
            key: rsa_key(),
            key_id: ours.clone(),
            covered: all.clone(),
            call: unsigned_call(body, NOW - 120),
        },
        // 2: x-nonce not covered
        Job {
            key: rsa_key(),
            key_id: ours.clone(),
            covered: without_nonce,
            call: unsigned_call(body, NOW),
        },
        // 3: a key published under another domain
        Job {
            key: other_rsa_key(),
            key_id: dkim::key_id("pb202605node", "evil.example"),
            covered: all.clone(),
            call: unsigned_call(body, NOW),
        },
        // 4: another key under our key id
        Job {
            key: other_rsa_key(),
            key_id: ours.clone(),
            covered: all.clone(),
            call: unsigned_call(body, NOW),
        },
    ];
    let signatures = run_node(
        &modules,
        SIGN_SCRIPT,
        &json!({ "jobs": jobs.iter().map(Job::to_json).collect::<Vec<_>>() }),
    );
    let signed: Vec<Call> = jobs
        .iter()
        .zip(signatures.as_array().expect("an array"))
        .map(|(job, signature)| {
            let mut call = job.call.clone();
            call.set_header("Signature", signature.as_str().expect("a signature"));
            call
        })
        .collect();
    let signature = signed[0].header("Signature").unwrap();
    assert!(
        signature.starts_with(&format!(
            r#"keyId="{ours}",algorithm="rsa-sha256",headers="(request-target) host date"#
        )),
        "{signature}"
    );

    let verifier = || Verifier::new(Policy::new(KEY_DOMAIN, ACCOUNT_HEADER, ACCOUNT), published());
    let genuine = &signed[0];
    let shared = verifier();
    assert_eq!(check(&shared, genuine, NOW + 1), Ok(()), "the npm-signed call");
    assert_eq!(
        check(&shared, genuine, NOW + 2),
        Err(Error::ReplayedNonce),
        "nonce replayed"
    );

    let mut body_changed = genuine.clone();
    body_changed.body = br#"{"hello": "moon"}"#.to_vec();
    assert_eq!(
        check(&verifier(), &body_changed, NOW),
        Err(Error::DigestMismatch),
        "body changed"
    );

    let mut digest_changed = genuine.clone();
    digest_changed.set_header("Digest", &http_signature::digest_header(b"{}"));
    assert_eq!(
        check(&verifier(), &digest_changed, NOW),
        Err(Error::DigestMismatch),
        "digest changed"
    );

    assert_eq!(
        check(&verifier(), &signed[1], NOW),
        Err(Error::StaleDate { age_seconds: 120 }),
        "date 2 minutes old"
    );
    assert_eq!(
        check(&verifier(), &signed[2], NOW),
        Err(Error::HeaderNotCovered("x-nonce".into())),
        "x-nonce not covered"
    );

    let mut account_changed = genuine.clone();
    account_changed.set_header(ACCOUNT_HEADER, "acc_7");
    let acc_7 = Verifier::new(Policy::new(KEY_DOMAIN, ACCOUNT_HEADER, "acc_7"), published());
    assert_eq!(
        check(&acc_7, &account_changed, NOW),
        Err(Error::BadSignature),
        "account header changed"
    );
    assert_eq!(
        check(&verifier(), &account_changed, NOW),
        Err(Error::WrongAccount),
        "account header changed"
    );

    assert_eq!(
        check(&verifier(), &signed[3], NOW),
        Err(Error::UntrustedKeyDomain(dkim::key_id("pb202605node", "evil.example"))),
        "key from another domain"
    );
    assert_eq!(
        check(&verifier(), &signed[4], NOW),
        Err(Error::BadSignature),
        "signature of another key"
    );
}

#[test]
fn the_npm_verifier_accepts_what_our_signer_signs() {
    let Some(modules) = node_modules() else {
        return;
    };
    // The package checks `Date` against the real clock.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let key = rsa_key();
    let signer = Signer {
        key,
        key_id: &key_id("pb202605node"),
        account_header: ACCOUNT_HEADER,
        account_value: ACCOUNT,
    };
    let mut genuine = Call::json("/hooks/postbode?src=rust&x=1", br#"{"type":"open","n":1}"#);
    let pairs = genuine.pairs();
    let added = signer.sign(&genuine.request(&pairs), now).unwrap();
    genuine.add(added.pairs());
    let mut tampered = genuine.clone();
    tampered.set_header(ACCOUNT_HEADER, "acc_7");
    let mut other_key = genuine.clone();
    let pairs = other_key.pairs();
    let foreign = Signer {
        key: other_rsa_key(),
        ..signer
    }
    .signature_header(
        &other_key.request(&pairs),
        &http_signature::covered_headers(ACCOUNT_HEADER)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    other_key.set_header("Signature", &foreign);

    let as_node = |call: &Call| {
        // Node's IncomingMessage has lower-case header names.
        let headers: serde_json::Map<String, Value> = call
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), Value::String(v.clone())))
            .collect();
        use base64::Engine;
        json!({
            "method": call.method,
            "url": call.target,
            "headers": headers,
            "bodyBase64": base64::engine::general_purpose::STANDARD.encode(&call.body),
        })
    };
    let mut required = vec!["(request-target)", "host", "date", "digest", "x-nonce"];
    required.push("x-postbode-account");
    let results = run_node(
        &modules,
        VERIFY_SCRIPT,
        &json!({
            "publicKeyPem": key.public_key().unwrap().to_pem(),
            "required": required,
            "requests": [as_node(&genuine), as_node(&tampered), as_node(&other_key)],
        }),
    );
    assert_eq!(
        results[0],
        json!({ "keyId": key_id("pb202605node"), "signatureOk": true, "digestOk": true }),
        "our call, verified by the npm package"
    );
    assert_eq!(
        results[1]["signatureOk"],
        json!(false),
        "a tampered call: {}",
        results[1]
    );
    assert_eq!(
        results[2]["signatureOk"],
        json!(false),
        "another key's signature: {}",
        results[2]
    );
}
