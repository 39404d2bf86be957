//! Validated domains against the real service and a real DNS server on 127.0.0.1: the
//! TXT record proves the domain, webhooks on it and its subdomains are verified (for the
//! API, routing, the claims and the test tool alike), removing it undoes that, another
//! account sees none of it, and `postbode domain` drives the same routes.

mod common;

use common::dns::DnsServer;
use common::{Service, eventually};
use serde_json::{Value, json};

async fn service(dns: &DnsServer) -> Service {
    let addr = dns.addr;
    Service::start_with(move |c| {
        c.webhooks.require_verification = true;
        c.dns.nameservers = vec![addr];
    })
    .await
}

async fn verification(service: &Service, key: &str, webhook: &str) -> Value {
    let (status, body) = service.call("GET", &format!("/v1/webhooks/{webhook}"), key, None).await;
    assert_eq!(status, 200, "{body}");
    body["verification"].clone()
}

async fn deliveries_of_new_event(service: &Service, key: &str) -> u64 {
    let (status, body) = service
        .call("POST", "/v1/events", key, Some(json!({"type": "order.paid"})))
        .await;
    assert_eq!(status, 202, "{body}");
    body["deliveries"].as_u64().unwrap()
}

#[tokio::test]
async fn a_validated_domain_verifies_its_webhooks_until_it_is_removed() {
    let dns = DnsServer::start().await;
    let service = service(&dns).await;
    let key = service.account("Acme").await;
    let other = service.account("Other").await;

    let hook = service
        .webhook(&key, json!({"url": "https://hooks.example.test/receive.php"}))
        .await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    assert_eq!(hook["verification"]["status"], "pending");
    let elsewhere = service
        .webhook(&key, json!({"url": "https://notexample.test/receive.php"}))
        .await;
    assert_eq!(
        deliveries_of_new_event(&service, &key).await,
        0,
        "nothing is verified yet"
    );

    // Bad input names the field and stores nothing.
    for bad in ["127.0.0.1", "localhost", "a..example.test", ""] {
        let (status, problem) = service
            .call("POST", "/v1/domains", &key, Some(json!({"domain": bad})))
            .await;
        assert_eq!(status, 422, "{bad}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "domain", "{problem}");
    }
    let added = service
        .create(&key, "/v1/domains", json!({"domain": "Example.TEST."}))
        .await;
    let id = added["id"].as_str().unwrap().to_owned();
    assert_eq!(added["domain"], "example.test");
    assert_eq!(added["status"], "pending");
    assert_eq!(added["record"]["name"], "_postbode-challenge.example.test");
    assert_eq!(added["record"]["type"], "TXT");
    let value = added["record"]["value"].as_str().unwrap().to_owned();
    assert!(value.starts_with("postbode-verify="), "{value}");
    let (status, _) = service
        .call("POST", "/v1/domains", &key, Some(json!({"domain": "example.test"})))
        .await;
    assert_eq!(status, 409, "the account has it already");

    // Another account sees none of it.
    for (method, path) in [
        ("GET", format!("/v1/domains/{id}")),
        ("POST", format!("/v1/domains/{id}/validate")),
        ("DELETE", format!("/v1/domains/{id}")),
    ] {
        let (status, _) = service.call(method, &path, &other, None).await;
        assert_eq!(status, 404, "{method} {path}");
    }
    let (_, listed) = service.call("GET", "/v1/domains", &other, None).await;
    assert_eq!(listed["data"], json!([]));

    // Not published yet: the check says what it found.
    let validate = format!("/v1/domains/{id}/validate");
    let (status, checked) = service.call("POST", &validate, &key, None).await;
    assert_eq!(status, 200, "{checked}");
    assert_eq!(checked["status"], "pending");
    assert!(
        checked["outcome"]
            .as_str()
            .unwrap()
            .contains("no TXT record at _postbode-challenge.example.test"),
        "{checked}"
    );
    dns.publish("_postbode-challenge.example.test", "v=spf1 -all");
    let (_, checked) = service.call("POST", &validate, &key, None).await;
    assert_eq!(
        checked["status"], "pending",
        "another record is not the challenge: {checked}"
    );

    dns.publish("_postbode-challenge.example.test", &value);
    let (_, checked) = service.call("POST", &validate, &key, None).await;
    assert_eq!(checked["status"], "validated", "{checked}");
    assert!(checked["checked_at"].is_string());

    // The webhook on a subdomain is verified by the domain, without a file...
    let shown = verification(&service, &key, &hook_id).await;
    assert_eq!(shown["status"], "verified", "{shown}");
    assert_eq!(shown["domain"], "example.test");
    assert!(shown["outcome"].as_str().unwrap().contains("example.test"), "{shown}");
    // ...and so is a new one deeper down; one on a look-alike domain is not.
    let deeper = service
        .webhook(&key, json!({"url": "https://a.b.example.test/x"}))
        .await;
    assert_eq!(deeper["verification"]["status"], "verified", "{deeper}");
    let shown = verification(&service, &key, elsewhere["id"].as_str().unwrap()).await;
    assert_eq!(shown["status"], "pending");
    // Routing sends events to both verified webhooks, and the engine claims them: an
    // attempt is made (it fails: the name does not resolve, which is no matter here).
    assert_eq!(deliveries_of_new_event(&service, &key).await, 2);
    eventually("an attempt of the domain-verified webhook", || async {
        (!service.attempts(&key, &hook_id).await.is_empty()).then_some(())
    })
    .await;
    // The test tool calls it too (a 409 would mean "not verified").
    let (status, report) = service
        .call("POST", &format!("/v1/webhooks/{hook_id}/test"), &key, Some(json!({})))
        .await;
    assert_eq!(status, 200, "{report}");

    // Removing the domain makes its webhooks pending again.
    let (status, _) = service.call("DELETE", &format!("/v1/domains/{id}"), &key, None).await;
    assert_eq!(status, 204);
    let shown = verification(&service, &key, &hook_id).await;
    assert_eq!(shown["status"], "pending", "{shown}");
    assert_eq!(shown["domain"], Value::Null);
    assert_eq!(deliveries_of_new_event(&service, &key).await, 0);
    let (status, _) = service.call("GET", &format!("/v1/domains/{id}"), &key, None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_domain_command_adds_lists_validates_and_deletes() {
    let dns = DnsServer::start().await;
    let service = service(&dns).await;
    let key = service.account("Acme").await;
    let cli = |args: &[&str]| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_postbode"));
        command
            .arg("domain")
            .args(args)
            .env("POSTBODE_URL", &service.url)
            .env("POSTBODE_API_KEY", &key);
        async move {
            let output = command.output().await.unwrap();
            let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
            (output.status.success(), text(output.stdout), text(output.stderr))
        }
    };
    let (ok, added, err) = cli(&["add", "example.test"]).await;
    assert!(ok, "{err}");
    let id = added.split_whitespace().next().unwrap().to_owned();
    assert!(id.starts_with("dom_"), "{added}");
    let value = added.split('"').nth(1).expect("the record's text, quoted").to_owned();
    assert!(
        added.contains("_postbode-challenge.example.test. IN TXT \"postbode-verify="),
        "{added}"
    );

    let (ok, out, _) = cli(&["validate", &id]).await;
    assert!(!ok, "not published yet: {out}");
    assert!(out.starts_with("pending: no TXT record"), "{out}");

    dns.publish("_postbode-challenge.example.test", &value);
    let (ok, out, err) = cli(&["validate", &id]).await;
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("validated: found"), "{out}");

    let (ok, listed, _) = cli(&["list"]).await;
    assert!(ok);
    assert!(listed.contains(&format!("{id} example.test validated")), "{listed}");

    let (ok, _, _) = cli(&["delete", &id]).await;
    assert!(ok);
    let (ok, listed, _) = cli(&["list"]).await;
    assert!(ok);
    assert_eq!(listed, "No domains.\n");
    let (ok, _, err) = cli(&["delete", &id]).await;
    assert!(!ok, "deleting it twice fails");
    assert!(err.contains("404"), "{err}");
}
