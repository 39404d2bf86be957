//! The doors that take a credential: failed authentications are throttled per client
//! address and per API key on the API, `/metrics` and the dashboard's sign-in (429 with
//! `Retry-After`); an operator token short enough to guess is refused at start.

mod common;

use common::{ADMIN, Service};
use reqwest::header::HeaderMap;
use std::time::Duration;

/// A GET with `token`, as if from `client` behind the trusted proxy (the test's own
/// 127.0.0.1): status, `Retry-After`, body.
async fn get_from(service: &Service, client: &str, path: &str, token: &str) -> (u16, Option<u64>, String) {
    let response = service
        .http
        .get(format!("{}{path}", service.url))
        .bearer_auth(token)
        .header("x-forwarded-for", client)
        .send()
        .await
        .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (response.status().as_u16(), retry_after, response.text().await.unwrap())
}

/// The key with its secret's last character changed.
fn wrong_secret(key: &str) -> String {
    let (rest, last) = key.split_at(key.len() - 1);
    format!("{rest}{}", if last == "a" { "b" } else { "a" })
}

fn throttled_service(per_address: u32, per_key: u32) -> impl FnOnce(&mut postbode::config::Config) {
    move |config| {
        config.server.auth_failures.per_address = per_address;
        config.server.auth_failures.per_key = per_key;
        config.server.auth_failures.period = Duration::from_secs(60);
        config.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    }
}

#[tokio::test]
async fn failed_authentications_are_throttled_per_address() {
    let service = Service::start_with(throttled_service(3, 100)).await;
    let key = service.account("Acme").await;
    let guesser = "192.0.2.1";
    for token in [
        "guess-1",
        "pb_key_01jbz000000000000000000000_guess",
        &wrong_secret(&key),
    ] {
        let (status, retry_after, _) = get_from(&service, guesser, "/v1/webhooks", token).await;
        assert_eq!((status, retry_after), (401, None), "{token}");
    }
    // Past its share, the address is refused whatever it sends, on every door, until
    // one failure has refilled (a minute / 3).
    for (path, token) in [
        ("/v1/webhooks", key.as_str()),
        ("/v1/accounts", ADMIN),
        ("/metrics", ADMIN),
    ] {
        let (status, retry_after, problem) = get_from(&service, guesser, path, token).await;
        assert_eq!((status, retry_after), (429, Some(20)), "{path}: {problem}");
        assert!(problem.contains("/problems/too-many-requests"), "{problem}");
    }
    let (status, _, _) = get_from(&service, "192.0.2.2", "/v1/webhooks", &key).await;
    assert_eq!(status, 200, "another address is not held up");
    service.advance(Duration::from_secs(20));
    let (status, _, _) = get_from(&service, guesser, "/v1/webhooks", &key).await;
    assert_eq!(status, 200);
    let (status, retry_after, _) = get_from(&service, guesser, "/v1/webhooks", "guess-4").await;
    assert_eq!((status, retry_after), (401, None));
    let (status, retry_after, _) = get_from(&service, guesser, "/v1/webhooks", &key).await;
    assert_eq!((status, retry_after), (429, Some(20)));
}

#[tokio::test]
async fn a_key_guessed_from_many_addresses_is_throttled() {
    let service = Service::start_with(throttled_service(100, 3)).await;
    let key = service.account("Acme").await;
    let other = service.account("Other").await;
    for n in 1..=3 {
        let (status, _, _) = get_from(&service, &format!("192.0.2.{n}"), "/v1/webhooks", &wrong_secret(&key)).await;
        assert_eq!(status, 401);
    }
    let (status, retry_after, _) = get_from(&service, "198.51.100.1", "/v1/webhooks", &key).await;
    assert_eq!((status, retry_after), (429, Some(20)));
    let (status, _, _) = get_from(&service, "198.51.100.1", "/v1/webhooks", &other).await;
    assert_eq!(status, 200, "another key is not held up");
    // Tokens that name no stored key count against their address only.
    for n in 1..=5 {
        let (status, _, _) = get_from(&service, "198.51.100.2", "/v1/webhooks", &format!("pb_key_nobody_{n}")).await;
        assert_eq!(status, 401);
    }
    let (status, _, _) = get_from(&service, "198.51.100.2", "/v1/webhooks", &other).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn without_a_trusted_proxy_the_connection_is_the_client() {
    let service = Service::start_with(|config| config.server.auth_failures.per_address = 1).await;
    let key = service.account("Acme").await;
    let (status, _, _) = get_from(&service, "192.0.2.1", "/v1/webhooks", "guess").await;
    assert_eq!(status, 401);
    let (status, retry_after, _) = get_from(&service, "192.0.2.2", "/v1/webhooks", &key).await;
    assert_eq!(
        (status, retry_after),
        (429, Some(60)),
        "X-Forwarded-For is not believed"
    );
}

/// The dashboard's sign-in form: its CSRF token and the cookie it is bound to.
async fn sign_in_form(service: &Service) -> (String, String) {
    let response = service
        .http
        .get(format!("{}/ui/sign-in", service.url))
        .send()
        .await
        .unwrap();
    let cookie = set_cookie(response.headers(), "pb_sign_in").unwrap();
    let page = response.text().await.unwrap();
    let csrf = page
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    (csrf, cookie)
}

/// `name=value` of the `Set-Cookie` that sets `name`.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// Posts the sign-in form with `key`, as if from `client`.
async fn sign_in(service: &Service, client: &str, key: &str) -> reqwest::Response {
    let (csrf, cookie) = sign_in_form(service).await;
    let client_without_redirects = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    client_without_redirects
        .post(format!("{}/ui/sign-in", service.url))
        .header("cookie", cookie)
        .header("x-forwarded-for", client)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("csrf", &csrf)
                .append_pair("key", key)
                .finish(),
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_dashboards_sign_in_is_throttled_too() {
    let service = Service::start_with(throttled_service(3, 100)).await;
    let key = service.account("Acme").await;
    for guess in ["guess-1", "guess-2", "guess-3"] {
        assert_eq!(sign_in(&service, "203.0.113.9", guess).await.status().as_u16(), 401);
    }
    let refused = sign_in(&service, "203.0.113.9", &key).await;
    assert_eq!(refused.status().as_u16(), 429);
    assert_eq!(refused.headers()["retry-after"], "20");
    assert!(set_cookie(refused.headers(), "pb_session").is_none());
    let page = refused.text().await.unwrap();
    assert!(page.contains("Too many failed sign-ins"), "{page}");
    // The API's doors count the same failures.
    let (status, _, _) = get_from(&service, "203.0.113.9", "/v1/webhooks", &key).await;
    assert_eq!(status, 429);
    let signed_in = sign_in(&service, "203.0.113.10", &key).await;
    assert_eq!(signed_in.status().as_u16(), 303);
    assert!(set_cookie(signed_in.headers(), "pb_session").is_some());
}

#[tokio::test]
async fn an_operator_token_shorter_than_32_characters_is_refused_at_start() {
    let dirs = [
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    ];
    let mut dirs = dirs.iter();
    let mut start = |token: &str| {
        let mut config = common::test_config(dirs.next().unwrap().path());
        config.admin_token = Some(token.to_owned());
        postbode::app::start(
            config,
            std::sync::Arc::new(postbode_core::clock::ManualClock::new(chrono::Utc::now())),
        )
    };
    let Err(error) = start("let-me-in").await else {
        panic!("a 9-character operator token was accepted");
    };
    let error = format!("{error:#}");
    assert!(
        error.contains("9 characters") && error.contains("at least 32"),
        "{error}"
    );
    assert!(start(&"x".repeat(31)).await.is_err());

    // The README's example is long enough.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let example = readme
        .split("POSTBODE_ADMIN_TOKEN=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap();
    let running = start(example)
        .await
        .expect("the README's operator token starts the service");
    running.stop().await.unwrap();
}

/// The CSRF token of the forms on a dashboard page.
fn csrf_of(page: &str) -> String {
    page.split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form with a CSRF token")
        .to_owned()
}

async fn dashboard_page(service: &Service, session: &str, path: &str) -> (u16, String) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = client
        .get(format!("{}{path}", service.url))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let location = answer.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
    (status, location.unwrap_or(answer.text().await.unwrap()))
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let service = Service::start().await;
    let key = service.account("Acme").await;
    for (token, home) in [(key.as_str(), "/ui/webhooks"), (ADMIN, "/ui/operator")] {
        let signed_in = sign_in(&service, "127.0.0.1", token).await;
        assert_eq!(signed_in.headers()["location"], home);
        let session = set_cookie(signed_in.headers(), "pb_session").unwrap();
        let copy = session.clone();
        let (status, page) = dashboard_page(&service, &session, home).await;
        assert_eq!(status, 200, "{page}");

        let signed_out = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(format!("{}/ui/sign-out", service.url))
            .header("cookie", &session)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={}", csrf_of(&page)))
            .send()
            .await
            .unwrap();
        assert_eq!(signed_out.status().as_u16(), 303);
        // The browser forgets the cookie; a copy of it no longer signs anyone in.
        assert!(set_cookie(signed_out.headers(), "pb_session").unwrap().ends_with('='));
        assert_eq!(
            dashboard_page(&service, &copy, home).await,
            (303, "/ui/sign-in".to_owned()),
            "{token}"
        );
    }
}

#[tokio::test]
async fn the_store_keeps_only_a_hash_of_the_session_id() {
    let service = Service::start().await;
    let database = service.dir.path().join("postbode.db");
    if !database.exists() {
        eprintln!("skipped: this runs on the SQLite store, which the test can read directly");
        return;
    }
    let key = service.account("Acme").await;
    let session = set_cookie(sign_in(&service, "127.0.0.1", &key).await.headers(), "pb_session").unwrap();
    let id = session.trim_start_matches("pb_session=a.");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", database.display()))
        .await
        .unwrap();
    let rows: Vec<(Vec<u8>, Option<String>, String)> =
        sqlx::query_as("SELECT id_hash, key_id, role FROM dashboard_sessions")
            .fetch_all(&pool)
            .await
            .unwrap();
    let expected = postbode_server::auth::sha256(id.as_bytes()).to_vec();
    let key_id = key.trim_start_matches("pb_").rsplit_once('_').unwrap().0;
    assert_eq!(rows, [(expected, Some(key_id.to_owned()), "manage".to_owned())]);
}
