//! `postbode verify` and `postbode listen`, run as the real binary: calls signed with the
//! `postbode-signature` crate are accepted, tampered ones refused with the precise reason.

use postbode_signature::key_set::{KeySet, KeyState};
use postbode_signature::keys::{Ed25519Key, RsaKey};
use postbode_signature::standard_webhooks::{self, Secret};
use postbode_signature::{Request, dkim, http_signature, rfc9421};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::mpsc;

const BIN: &str = env!("CARGO_BIN_EXE_postbode");
/// The moment the captured calls were signed, so the tests do not depend on the clock.
const SIGNED_AT: i64 = 1_780_000_000;
const KEY_DOMAIN: &str = "webhooks.example.com";
const ACCOUNT: &str = "acc_42";
/// A hang guard only: every wait below ends as soon as its condition holds.
const PATIENCE: Duration = Duration::from_secs(60);
const BODY: &str = r#"{"id":"evt_1","type":"open","timestamp":"2026-05-28 20:26:40","time":1780000000}"#;
/// `BODY` with one value changed and the length kept, so only the signatures can tell.
const TAMPERED: &str = r#"{"id":"evt_1","type":"shut","timestamp":"2026-05-28 20:26:40","time":1780000000}"#;

/// A captured request as text: request line, headers, blank line, body.
fn raw_request(headers: &[(String, String)], body: &str, line_end: &str) -> Vec<u8> {
    let mut raw = format!("POST /hooks/postbode?src=pb HTTP/1.1{line_end}");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}{line_end}"));
    }
    raw.push_str(line_end);
    raw.push_str(body);
    raw.into_bytes()
}

/// What every Postbode call carries before the signature headers.
fn base_headers(host: &str) -> Vec<(String, String)> {
    [
        ("Host", host),
        ("Content-Type", "application/json"),
        ("Content-Length", &BODY.len().to_string()),
        ("User-Agent", "Postbode/0.1.0"),
        ("X-Postbode-Delivery", "dlv_01TEST"),
        ("X-Postbode-Event", "open"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect()
}

fn standard_webhooks_headers(secret: &Secret, timestamp: i64) -> Vec<(String, String)> {
    let mut headers = base_headers("receiver.example");
    headers.extend([
        ("webhook-id".to_owned(), "dlv_01TEST".to_owned()),
        ("webhook-timestamp".to_owned(), timestamp.to_string()),
        (
            "webhook-signature".to_owned(),
            standard_webhooks::sign(secret, "dlv_01TEST", timestamp, BODY.as_bytes()),
        ),
    ]);
    headers
}

fn http_signature_headers(key: &RsaKey, key_id: &str, host: &str, now: i64) -> Vec<(String, String)> {
    let mut headers = base_headers(host);
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let signer = http_signature::Signer {
        key,
        key_id,
        account_header: http_signature::DEFAULT_ACCOUNT_HEADER,
        account_value: ACCOUNT,
    };
    let request = Request {
        method: "POST",
        target: "/hooks/postbode?src=pb",
        headers: &pairs,
        body: BODY.as_bytes(),
    };
    let signed = signer.sign(&request, now).unwrap();
    headers.extend(signed.pairs());
    headers
}

fn rfc9421_headers(key: &Ed25519Key, key_id: &str, now: i64) -> Vec<(String, String)> {
    let mut headers = base_headers("receiver.example");
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let signer = rfc9421::Signer {
        key,
        key_id,
        account_header: http_signature::DEFAULT_ACCOUNT_HEADER,
        account_value: ACCOUNT,
    };
    let request = Request {
        method: "POST",
        target: "/hooks/postbode?src=pb",
        headers: &pairs,
        body: BODY.as_bytes(),
    };
    let signed = signer.sign(&request, "https", now).unwrap();
    headers.extend(signed.pairs());
    headers
}

struct Published {
    rsa: RsaKey,
    rsa_id: String,
    ed25519: Ed25519Key,
    ed25519_id: String,
    json: String,
    /// Holds the key set file; deleted when the test ends.
    dir: tempfile::TempDir,
}

impl Published {
    fn new() -> Self {
        let rsa = RsaKey::generate().unwrap();
        let ed25519 = Ed25519Key::generate().unwrap();
        let rsa_id = dkim::key_id("pb202605rsa1", KEY_DOMAIN);
        let ed25519_id = dkim::key_id("pb202605ed01", KEY_DOMAIN);
        let mut set = KeySet::default();
        set.push(rsa_id.clone(), rsa.public_key().unwrap(), KeyState::Active);
        set.push(ed25519_id.clone(), ed25519.public_key().unwrap(), KeyState::Active);
        let json = set.to_json();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keys.json"), &json).unwrap();
        Self {
            rsa,
            rsa_id,
            ed25519,
            ed25519_id,
            json,
            dir,
        }
    }

    fn file(&self) -> String {
        self.dir.path().join("keys.json").display().to_string()
    }
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `postbode verify` with `args`, the request on standard input when given.
async fn verify(args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Outcome {
    let mut command = Command::new(BIN);
    command
        .arg("verify")
        .args(args)
        .env_remove("POSTBODE_WEBHOOK_SECRET")
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap();
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input).await.unwrap();
        // Closing it is the end of the request.
        drop(pipe);
    }
    let output = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("postbode verify hangs")
        .unwrap();
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn write_capture(dir: &tempfile::TempDir, name: &str, raw: &[u8]) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, raw).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn verify_checks_standard_webhooks() {
    let dir = tempfile::tempdir().unwrap();
    let secret = Secret::generate().unwrap();
    let other = Secret::generate().unwrap();
    let now = SIGNED_AT.to_string();
    let headers = standard_webhooks_headers(&secret, SIGNED_AT);
    let good = write_capture(&dir, "good.http", &raw_request(&headers, BODY, "\r\n"));

    let out = verify(&[&good, "--secret", secret.as_str(), "--now", &now], None, &[]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("standard-webhooks: ok\n"), "{out:?}");
    assert!(out.stdout.contains("http-signature: not signed\n"), "{out:?}");
    assert!(out.stdout.contains("rfc9421: not signed\n"), "{out:?}");

    // LF line ends on standard input; both secrets of a rotation from the environment.
    let rotation = format!("{} {}", other.as_str(), secret.as_str());
    let lf = raw_request(&headers, BODY, "\n");
    let out = verify(
        &["-", "--now", &now],
        Some(&lf),
        &[("POSTBODE_WEBHOOK_SECRET", &rotation)],
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("standard-webhooks: ok"), "{out:?}");

    let out = verify(&[&good, "--secret", other.as_str(), "--now", &now], None, &[]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout
            .contains("standard-webhooks: FAILED: the signature does not verify"),
        "{out:?}"
    );

    let tampered = write_capture(&dir, "tampered.http", &raw_request(&headers, TAMPERED, "\r\n"));
    let out = verify(&[&tampered, "--secret", secret.as_str(), "--now", &now], None, &[]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout
            .contains("standard-webhooks: FAILED: the signature does not verify"),
        "{out:?}"
    );

    // Checked today, the capture is too old, and the tool says how to check it anyway.
    let out = verify(&[&good, "--secret", secret.as_str()], None, &[]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout.contains("standard-webhooks: FAILED: the call is too old"),
        "{out:?}"
    );
    assert!(out.stdout.contains("--now"), "{out:?}");

    // Signed, but nothing to check with: not accepted.
    let out = verify(&[&good, "--now", &now], None, &[]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout
            .contains("standard-webhooks: not checked (no secret given: --secret whsec_..."),
        "{out:?}"
    );

    // Nothing signed at all: not accepted either.
    let plain = write_capture(
        &dir,
        "plain.http",
        &raw_request(&base_headers("r.example"), BODY, "\r\n"),
    );
    let out = verify(&[&plain, "--secret", secret.as_str(), "--now", &now], None, &[]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.contains("standard-webhooks: not signed"), "{out:?}");
}

#[tokio::test]
async fn verify_checks_http_signature_against_a_key_set() {
    let keys = Published::new();
    let now = SIGNED_AT.to_string();
    let key_file = keys.file();
    let headers = http_signature_headers(&keys.rsa, &keys.rsa_id, "receiver.example", SIGNED_AT);
    let good = write_capture(&keys.dir, "good.http", &raw_request(&headers, BODY, "\r\n"));
    let strict = |capture: &str| {
        vec![
            capture.to_owned(),
            "--keys-file".to_owned(),
            key_file.clone(),
            "--key-domain".to_owned(),
            KEY_DOMAIN.to_owned(),
            "--account".to_owned(),
            ACCOUNT.to_owned(),
            "--now".to_owned(),
            now.clone(),
        ]
    };
    let run = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        verify(&args, None, &[]).await
    };

    let out = run(strict(&good)).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains(&format!("http-signature: ok (key {})", keys.rsa_id)),
        "{out:?}"
    );
    assert!(out.stdout.contains("standard-webhooks: not signed"), "{out:?}");
    assert!(!out.stderr.contains("warning"), "{out:?}");

    let tampered = write_capture(&keys.dir, "tampered.http", &raw_request(&headers, TAMPERED, "\r\n"));
    let out = run(strict(&tampered)).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout
            .contains("http-signature: FAILED: the body does not match its digest"),
        "{out:?}"
    );

    let mut wrong_account = strict(&good);
    wrong_account[6] = "acc_43".to_owned();
    let out = run(wrong_account).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout.contains(
            "http-signature: FAILED: the account header names another account: it says \"acc_42\", \
             expected \"acc_43\""
        ),
        "{out:?}"
    );

    let mut other_domain = strict(&good);
    other_domain[4] = "webhooks.evil.example".to_owned();
    let out = run(other_domain).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.contains("http-signature: FAILED: the key"), "{out:?}");
    assert!(out.stdout.contains("is not under the trusted key domain"), "{out:?}");

    // Without --key-domain and --account it trusts what the call claims, and warns.
    let out = run(vec![
        good.clone(),
        "--keys-file".into(),
        key_file.clone(),
        "--now".into(),
        now.clone(),
    ])
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "warning: no --key-domain: trusting the key domain the call names ({KEY_DOMAIN})"
        )),
        "{out:?}"
    );
    assert!(out.stderr.contains("warning: no --account"), "{out:?}");

    // The key set fetched from a URL, as served at /.well-known/postbode/keys.
    let json = keys.json.clone();
    let app = axum::Router::new().route(
        "/.well-known/postbode/keys",
        axum::routing::get(move || {
            let json = json.clone();
            async move { json }
        }),
    );
    let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/.well-known/postbode/keys", server.local_addr().unwrap());
    let serving = tokio::spawn(async move { axum::serve(server, app).await });
    let mut from_url = strict(&good);
    from_url[1] = "--keys".to_owned();
    from_url[2] = url;
    let out = run(from_url).await;
    serving.abort();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("http-signature: ok"), "{out:?}");
}

#[tokio::test]
async fn verify_checks_rfc9421_with_ed25519() {
    let keys = Published::new();
    let now = SIGNED_AT.to_string();
    let key_file = keys.file();
    let headers = rfc9421_headers(&keys.ed25519, &keys.ed25519_id, SIGNED_AT);
    let good = write_capture(&keys.dir, "good.http", &raw_request(&headers, BODY, "\n"));
    let tampered = write_capture(&keys.dir, "tampered.http", &raw_request(&headers, TAMPERED, "\n"));
    let args = |capture: &str, at: i64, extra: &[&str]| {
        let mut args = vec![
            capture.to_owned(),
            "--keys-file".to_owned(),
            key_file.clone(),
            "--key-domain".to_owned(),
            KEY_DOMAIN.to_owned(),
            "--account".to_owned(),
            ACCOUNT.to_owned(),
            "--now".to_owned(),
            at.to_string(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };
    let run = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        verify(&args, None, &[]).await
    };

    let out = run(args(&good, SIGNED_AT, &[])).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains(&format!("rfc9421: ok (key {})", keys.ed25519_id)),
        "{out:?}"
    );
    assert!(out.stdout.contains("http-signature: not signed"), "{out:?}");

    let out = run(args(&tampered, SIGNED_AT, &[])).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout
            .contains("rfc9421: FAILED: the body does not match its digest"),
        "{out:?}"
    );

    // The scheme is signed but not sent; the tool finds the one that was.
    let out = run(args(&good, SIGNED_AT, &["--scheme", "http"])).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout.contains("rfc9421: FAILED: the signature does not verify"),
        "{out:?}"
    );
    assert!(out.stdout.contains("give --scheme https"), "{out:?}");

    let out = run(args(&good, SIGNED_AT + 30, &["--max-age", "5"])).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.contains("rfc9421: FAILED: the call is 30 s old"), "{out:?}");

    // Signed, but no keys given: the scheme cannot be accepted.
    let out = run(vec![good.clone(), "--now".into(), now.clone()]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout
            .contains("rfc9421: not checked (no published keys given: --keys URL or --keys-file PATH)"),
        "{out:?}"
    );
}

/// A running `postbode listen`, killed when the test ends, however it ends.
struct Listening {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    /// Every line read so far, for the failure message.
    seen: Vec<String>,
    url: String,
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Listening {
    async fn start(args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .arg("listen")
            .args(["--port", "0"])
            .args(args)
            .env_remove("POSTBODE_WEBHOOK_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut listening = Self {
            child,
            stdout,
            seen: Vec::new(),
            url: String::new(),
        };
        let first = listening.read_until(|_| true).await;
        listening.url = first
            .last()
            .and_then(|line| line.strip_prefix("Listening on "))
            .unwrap_or_else(|| panic!("the first line does not say where: {first:?}"))
            .to_owned();
        listening
    }

    /// Reads lines until one satisfies `done`; returns the lines read by this call.
    async fn read_until(&mut self, done: impl Fn(&str) -> bool) -> Vec<String> {
        let mut read = Vec::new();
        let found = tokio::time::timeout(PATIENCE, async {
            while let Some(line) = self.stdout.next_line().await.unwrap() {
                self.seen.push(line.clone());
                read.push(line.clone());
                if done(&line) {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(
            matches!(found, Ok(true)),
            "postbode listen never printed the expected line; it printed:\n{}",
            self.seen.join("\n")
        );
        read
    }
}

fn post(http: &reqwest::Client, url: String, headers: &[(String, String)], body: &str) -> reqwest::RequestBuilder {
    let mut request = http.post(url).body(body.to_owned());
    for (name, value) in headers {
        // reqwest sets these itself, from the URL and the body.
        if !["host", "content-length"].contains(&name.to_ascii_lowercase().as_str()) {
            request = request.header(name, value);
        }
    }
    request
}

#[tokio::test]
async fn listen_prints_each_call_with_its_verification() {
    let secret = Secret::generate().unwrap();
    let keys = Published::new();
    let key_file = keys.file();
    let mut listening = Listening::start(&[
        "--secret",
        secret.as_str(),
        "--keys-file",
        &key_file,
        "--key-domain",
        KEY_DOMAIN,
        "--account",
        ACCOUNT,
    ])
    .await;
    let http = reqwest::Client::new();
    let now = chrono::Utc::now().timestamp();

    let headers = standard_webhooks_headers(&secret, now);
    let response = post(
        &http,
        format!("{}/hooks/postbode?src=pb", listening.url),
        &headers,
        BODY,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 204);
    let block = listening.read_until(|line| line.starts_with("#1 answered")).await;
    let text = block.join("\n");
    assert!(text.contains("POST /hooks/postbode?src=pb"), "{text}");
    assert!(text.contains("X-Postbode-Delivery: dlv_01TEST"), "{text}");
    assert!(text.contains("X-Postbode-Event: open"), "{text}");
    assert!(text.contains("  standard-webhooks: ok"), "{text}");
    assert!(text.contains("  http-signature: not signed"), "{text}");
    assert!(
        text.contains(r#""type": "open","#),
        "the body is pretty-printed: {text}"
    );
    assert!(text.contains("#1 answered 204 No Content"), "{text}");

    // http-signature signs the Host, which is the listener's own address here; the same
    // call twice is a replay, which the listener remembers across calls.
    let host = listening.url.trim_start_matches("http://").to_owned();
    let headers = http_signature_headers(&keys.rsa, &keys.rsa_id, &host, now);
    for (number, expected) in [
        (2, "  http-signature: ok".to_owned()),
        (3, "  http-signature: FAILED: the nonce was already seen".to_owned()),
    ] {
        let response = post(
            &http,
            format!("{}/hooks/postbode?src=pb", listening.url),
            &headers,
            BODY,
        )
        .send()
        .await
        .unwrap();
        assert_eq!(response.status(), 204);
        let answered = format!("#{number} answered");
        let text = listening
            .read_until(|line| line.starts_with(&answered))
            .await
            .join("\n");
        assert!(text.contains(&expected), "{text}");
    }
}

/// What the endpoint behind `--forward` received.
struct Forwarded {
    uri: String,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

/// The endpoint behind `--forward`, on 127.0.0.1: what it received, its base URL, and
/// its task, answering every call with 201 `thanks`.
async fn endpoint() -> (
    mpsc::UnboundedReceiver<Forwarded>,
    String,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let (sender, received) = mpsc::unbounded_channel::<Forwarded>();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let sender = sender.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let _ = sender.send(Forwarded {
                uri: parts.uri.to_string(),
                headers: parts.headers,
                body: body.to_vec(),
            });
            (axum::http::StatusCode::CREATED, "thanks")
        }
    });
    let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", server.local_addr().unwrap());
    (
        received,
        endpoint,
        tokio::spawn(async move { axum::serve(server, app).await }),
    )
}

#[tokio::test]
async fn listen_forwards_and_answers_with_the_forwarded_answer() {
    let (mut received, endpoint, serving) = endpoint().await;

    let secret = Secret::generate().unwrap();
    let forward = format!("{endpoint}/dev/");
    let mut listening = Listening::start(&["--secret", secret.as_str(), "--forward", &forward]).await;
    let headers = standard_webhooks_headers(&secret, chrono::Utc::now().timestamp());
    let response = post(
        &reqwest::Client::new(),
        format!("{}/hooks/postbode?src=pb", listening.url),
        &headers,
        BODY,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.text().await.unwrap(), "thanks");

    let call = tokio::time::timeout(PATIENCE, received.recv())
        .await
        .expect("the call was not forwarded")
        .unwrap();
    assert_eq!(call.uri, "/dev/hooks/postbode?src=pb");
    assert_eq!(call.body, BODY.as_bytes());
    assert_eq!(call.headers["x-postbode-delivery"], "dlv_01TEST");
    assert_eq!(call.headers["webhook-signature"], headers[8].1.as_str());
    assert_eq!(call.headers["host"], endpoint.trim_start_matches("http://"));
    assert_eq!(
        call.headers["x-forwarded-host"],
        listening.url.trim_start_matches("http://")
    );

    let text = listening
        .read_until(|line| line.starts_with("#1 answered"))
        .await
        .join("\n");
    assert!(text.contains("  standard-webhooks: ok"), "{text}");
    assert!(text.contains("#1 answered 201 Created from"), "{text}");
    serving.abort();
}

/// A forward URL with a path is the endpoint itself (the call's path goes along in
/// `X-Forwarded-Uri`), and without `--secret` a signed call is shown as not checked,
/// not as a failure.
#[tokio::test]
async fn listen_forwards_to_the_url_as_given_and_says_what_it_could_not_check() {
    let (mut received, base, serving) = endpoint().await;
    let endpoint = format!("{base}/hook.php");
    let mut listening = Listening::start(&["--forward", &endpoint]).await;
    let secret = Secret::generate().unwrap();
    let headers = standard_webhooks_headers(&secret, chrono::Utc::now().timestamp());
    let response = post(
        &reqwest::Client::new(),
        format!("{}/dir/hook.php?src=pb", listening.url),
        &headers,
        BODY,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 201);
    let call = tokio::time::timeout(PATIENCE, received.recv())
        .await
        .expect("the call was not forwarded")
        .unwrap();
    assert_eq!(call.uri, "/hook.php?src=pb");
    assert_eq!(call.headers["x-forwarded-uri"], "/dir/hook.php?src=pb");

    let text = listening
        .read_until(|line| line.starts_with("#1 answered"))
        .await
        .join("\n");
    assert!(
        text.contains("  standard-webhooks: not checked (no secret given: --secret whsec_..."),
        "{text}"
    );
    assert!(!text.contains("FAILED"), "{text}");
    serving.abort();
}
