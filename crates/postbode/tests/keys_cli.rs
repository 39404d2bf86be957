//! `postbode keys show | rotate | check` against the running service, and `check`
//! asking a real (tiny) DNS server on 127.0.0.1.

mod common;

use common::{ADMIN, Service};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A DNS server that answers TXT questions from `records` (name → text), NXDOMAIN else.
async fn dns_server(records: Arc<Mutex<HashMap<String, String>>>) -> std::net::SocketAddr {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let query = &buf[..len];
            let mut at = 12;
            let mut labels = Vec::new();
            while query[at] != 0 {
                let n = query[at] as usize;
                labels.push(String::from_utf8_lossy(&query[at + 1..at + 1 + n]).into_owned());
                at += 1 + n;
            }
            let question_end = at + 5;
            let name = labels.join(".");
            let text = records.lock().unwrap().get(&name).cloned();
            let mut answer = query[..question_end].to_vec();
            answer[2] = 0x81;
            answer[3] = if text.is_some() { 0x80 } else { 0x83 };
            answer[6..8].copy_from_slice(&[0, u8::from(text.is_some())]);
            if let Some(text) = text {
                let mut data = Vec::new();
                for chunk in text.as_bytes().chunks(255) {
                    data.push(chunk.len() as u8);
                    data.extend_from_slice(chunk);
                }
                answer.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 1, 44]);
                answer.extend_from_slice(&(data.len() as u16).to_be_bytes());
                answer.extend_from_slice(&data);
            }
            let _ = socket.send_to(&answer, peer).await;
        }
    });
    addr
}

#[tokio::test]
async fn keys_are_shown_rotated_and_checked_in_dns() {
    let service = Service::start().await;
    let cli = |args: Vec<String>| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_postbode"));
        command
            .args(args)
            .env("POSTBODE_URL", &service.url)
            .env("POSTBODE_ADMIN_TOKEN", ADMIN);
        async move {
            let output = command.output().await.unwrap();
            (
                output.status.success(),
                String::from_utf8(output.stdout).unwrap(),
                String::from_utf8(output.stderr).unwrap(),
            )
        }
    };
    let (ok, shown, warned) = cli(vec!["keys".into(), "show".into()]).await;
    assert!(ok);
    // Neither a key domain nor a public URL is set: the records cannot be published.
    assert!(
        warned.starts_with("warning: signing keys are published under the key domain \"127.0.0.1\"")
            && warned.contains("signature.key_domain"),
        "{warned}"
    );
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 4, "{shown}");
    assert!(lines[0].contains("rsa") && lines[0].contains("active"), "{shown}");
    assert!(
        lines[1].contains("._domainkey.127.0.0.1. IN TXT \"v=DKIM1;k=rsa;p="),
        "{shown}"
    );

    let (_, keys) = service.call("GET", "/v1/signing-keys", ADMIN, None).await;
    let keys = keys["data"].as_array().unwrap().clone();
    let records = Arc::new(Mutex::new(HashMap::new()));
    let resolver = dns_server(records.clone()).await.to_string();
    let check = || {
        cli(vec![
            "keys".into(),
            "check".into(),
            "--resolver".into(),
            resolver.clone(),
        ])
    };

    let (ok, out, _) = check().await;
    assert!(!ok, "nothing is published yet");
    assert_eq!(out.lines().filter(|l| l.starts_with("MISSING")).count(), 2, "{out}");

    for key in &keys {
        records.lock().unwrap().insert(
            key["dns"]["name"].as_str().unwrap().to_owned(),
            key["dns"]["text"].as_str().unwrap().to_owned(),
        );
    }
    let (ok, out, err) = check().await;
    assert!(ok, "{out}{err}");
    assert_eq!(out.lines().filter(|l| l.starts_with("published")).count(), 2, "{out}");

    // A rotation publishes next keys, which must be in DNS before they sign.
    let (ok, rotated, _) = cli(vec!["keys".into(), "rotate".into()]).await;
    assert!(ok);
    assert_eq!(rotated.lines().filter(|l| l.contains(" next ")).count(), 2, "{rotated}");
    let (ok, out, _) = check().await;
    assert!(!ok);
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("MISSING") && l.contains("next"))
            .count(),
        2,
        "{out}"
    );
}

#[tokio::test]
async fn keys_check_says_clearly_when_no_dns_server_answers() {
    let service = Service::start_with(|c| c.signature.key_domain = Some("webhooks.example.com".into())).await;
    // A port that was just free: nothing answers there.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_postbode"))
        .args(["keys", "check", "--resolver", &closed.to_string()])
        .env("POSTBODE_URL", &service.url)
        .env("POSTBODE_ADMIN_TOKEN", ADMIN)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(&format!("no DNS server answers at {closed}")) && stderr.contains("--resolver"),
        "{stderr}"
    );
    // With the key domain set, `keys show` has nothing to warn about.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_postbode"))
        .args(["keys", "show"])
        .env("POSTBODE_URL", &service.url)
        .env("POSTBODE_ADMIN_TOKEN", ADMIN)
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8(output.stderr).unwrap(), "");
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .contains("._domainkey.webhooks.example.com. IN TXT")
    );
}
