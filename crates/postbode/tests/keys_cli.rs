//! `postbode keys show | rotate | check` against the running service, and `check`
//! asking a real (small, authoritative) DNS server on 127.0.0.1.

mod common;

use common::dns::DnsServer;
use common::{ADMIN, Service};

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
    let dns = DnsServer::start().await;
    let resolver = dns.addr.to_string();
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
        dns.publish(
            key["dns"]["name"].as_str().unwrap(),
            key["dns"]["text"].as_str().unwrap(),
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
        stderr.contains("no DNS server answers")
            && stderr.contains(&closed.to_string())
            && stderr.contains("--resolver"),
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
