//! The rules a browser does not show, over plain HTTP: sessions bound to their key,
//! forms bound to their session, cookie flags, a form that acts once, and pages read as
//! markup.

use crate::common::{ADMIN, Receiver, Service, eventually};
use serde_json::json;

/// A signed-in session over plain HTTP, for the rules a browser does not show.
struct Session {
    cookie: String,
    csrf: String,
}

fn cookie_pair(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn hidden_csrf(html: &str) -> String {
    let start = html.find(r#"name="csrf" value=""#).expect("a form with a CSRF token") + 19;
    html[start..].split('"').next().unwrap().to_owned()
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in with `key`; returns the session and the `Set-Cookie` line of its cookie.
async fn sign_in(base: &str, key: &str) -> (Session, String) {
    let http = no_redirects();
    let page = http.get(format!("{base}/ui/sign-in")).send().await.unwrap();
    let nonce = cookie_pair(&page, "pb_sign_in").unwrap();
    let nonce = nonce.split(';').next().unwrap().to_owned();
    let csrf = hidden_csrf(&page.text().await.unwrap());
    let answer = http
        .post(format!("{base}/ui/sign-in"))
        .header("cookie", nonce)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", csrf.as_str()), ("key", key)]))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303, "signed in");
    let set_cookie = cookie_pair(&answer, "pb_session").expect("a session cookie");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let home = http
        .get(format!("{base}/ui/webhooks"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let csrf = hidden_csrf(&home.text().await.unwrap());
    (Session { cookie, csrf }, set_cookie)
}

#[tokio::test]
async fn sessions_are_bound_to_their_key_and_forms_to_their_session() {
    let service = Service::start().await;
    let base = service.url.clone();
    let http = no_redirects();
    let key = service.account("Acme").await;
    let other = service.account("Other").await;
    let others_webhook = service
        .webhook(&other, json!({"url": "https://example.com/hook"}))
        .await;
    let (session, set_cookie) = sign_in(&base, &key).await;
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(set_cookie.contains(flag), "{flag} in {set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "served over plain http: {set_cookie}");

    // Every page carries a CSP that allows no inline script.
    let page = http
        .get(format!("{base}/ui/webhooks"))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    let htmx = html
        .split('"')
        .find(|part| part.starts_with("/ui/assets/htmx.min.js?v="))
        .expect("htmx comes from this server");
    let asset = http.get(format!("{base}{htmx}")).send().await.unwrap();
    assert_eq!(asset.status(), 200);
    assert_eq!(asset.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert!(
        asset.text().await.unwrap().starts_with("/*! htmx 2."),
        "with its licence header"
    );
    let missing = http.get(format!("{base}/ui/no-such-page")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-security-policy"], csp.as_str());

    // Another account's webhook does not exist here.
    let id = others_webhook["id"].as_str().unwrap();
    let foreign = http
        .get(format!("{base}/ui/webhooks/{id}"))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404);

    // A form without the session's token changes nothing.
    let post = |csrf: String| {
        http.post(format!("{base}/ui/webhooks/new"))
            .header("cookie", &session.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf", csrf.as_str()),
                ("url", "https://example.com/x"),
                ("events", "all"),
                ("format", "json"),
                ("signatures", "standard-webhooks"),
                ("max_concurrency", "8"),
            ]))
            .send()
    };
    assert_eq!(post("forged".into()).await.unwrap().status(), 403);
    assert_eq!(
        service.call("GET", "/v1/webhooks", &key, None).await.1["data"],
        json!([])
    );
    assert_eq!(post(session.csrf.clone()).await.unwrap().status(), 303);
    let (_, listed) = service.call("GET", "/v1/webhooks", &key, None).await;
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        1,
        "made through the same rules: {listed}"
    );

    // A tampered cookie is no session.
    let tampered = session.cookie.replacen("=a.", "=o.", 1);
    assert_ne!(tampered, session.cookie);
    let answer = http
        .get(format!("{base}/ui/operator"))
        .header("cookie", &tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["location"], "/ui/sign-in");

    // Revoking the key ends the session at once.
    let (_, accounts) = service.call("GET", "/v1/accounts", ADMIN, None).await;
    let account_id = accounts["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "Acme")
        .and_then(|a| a["id"].as_str())
        .unwrap()
        .to_owned();
    let key_id = key.trim_start_matches("pb_").rsplit_once('_').unwrap().0;
    let (status, _) = service
        .call(
            "DELETE",
            &format!("/v1/accounts/{account_id}/keys/{key_id}"),
            ADMIN,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let after = http
        .get(format!("{base}/ui/webhooks"))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 303);
    assert_eq!(after.headers()["location"], "/ui/sign-in");
}

#[tokio::test]
async fn cookies_are_secure_behind_an_https_public_url() {
    let service = Service::start_with(|c| c.public_url = Some("https://postbode.example.com".into())).await;
    let key = service.account("Acme").await;
    let (_, set_cookie) = sign_in(&service.url, &key).await;
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
}

async fn page(service: &Service, session: &Session, path: &str) -> (u16, String) {
    let answer = no_redirects()
        .get(format!("{}{path}", service.url))
        .header("cookie", &session.cookie)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

#[tokio::test]
async fn account_statistics_add_up_every_webhook_and_profile_edits_fire_as_dashboard() {
    let service = Service::start().await;
    let receiver = Receiver::start().await;
    let key = service.account("Acme").await;
    let db = service
        .database(
            &key,
            json!({"name": "customers", "fields": [{"name": "name", "type": "text"}]}),
        )
        .await;
    let profile = service.profile(&key, &db, json!({"name": "jan"})).await;
    let first = service
        .webhook(&key, json!({"url": receiver.url, "events": ["order.paid"]}))
        .await;
    service
        .webhook(&key, json!({"url": receiver.url, "events": ["order.paid", "update"]}))
        .await;
    let event = service
        .send_event(&key, json!({"type": "order.paid", "data": {}}))
        .await;
    eventually("both deliveries", || async {
        let event = service.event(&key, &event).await;
        let deliveries = event["deliveries"].as_array().unwrap().clone();
        deliveries.iter().all(|d| d["status"] == "delivered").then_some(())
    })
    .await;
    let (session, _) = sign_in(&service.url, &key).await;

    let (status, account) = page(&service, &session, "/ui/stats").await;
    assert_eq!(status, 200);
    assert!(
        account.contains(" 2 delivered</title>"),
        "both webhooks in one bar: {account}"
    );
    assert!(
        account.contains(r#"<circle class="p50""#),
        "the merged latency has a p50 point"
    );
    let id = first["id"].as_str().unwrap();
    let (_, one) = page(&service, &session, &format!("/ui/webhooks/{id}/stats")).await;
    assert!(one.contains(" 1 delivered</title>"), "{one}");

    // A profile edit from the dashboard goes out with source "dashboard".
    let before = receiver.count();
    let answer = no_redirects()
        .post(format!("{}/ui/profiles/{profile}", service.url))
        .header("cookie", &session.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", session.csrf.as_str()), ("field.name", "piet")]))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303);
    let update = receiver.wait_for(before + 1).await.pop().unwrap().json();
    assert_eq!(update["source"], "dashboard", "{update}");
    assert_eq!(update["fields"]["name"], "piet");
}

/// A double click or a form sent again: the second request with the same `once` token
/// gets the first one's answer, and the action happens once.
#[tokio::test]
async fn a_form_acts_once_however_often_it_is_sent() {
    let service = Service::start().await;
    let base = service.url.clone();
    let key = service.account("Acme").await;
    let webhook = service.webhook(&key, json!({"url": "https://example.com/hook"})).await;
    let id = webhook["id"].as_str().unwrap();
    let first_secret = webhook["secret"].as_str().unwrap().to_owned();
    let (session, _) = sign_in(&base, &key).await;
    let (_, page_html) = page(&service, &session, &format!("/ui/webhooks/{id}")).await;
    let once = {
        let start = page_html.find(r#"name="once" value=""#).expect("a once token") + 19;
        page_html[start..].split('"').next().unwrap().to_owned()
    };
    let rotate = || {
        no_redirects()
            .post(format!("{base}/ui/webhooks/{id}/secret"))
            .header("cookie", &session.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf", session.csrf.as_str()),
                ("once", once.as_str()),
                ("action", "rotate"),
            ]))
            .send()
    };
    let (a, b) = tokio::join!(rotate(), rotate());
    let (a, b) = (a.unwrap(), b.unwrap());
    for answer in [&a, &b] {
        assert_eq!(answer.status(), 303);
        assert_eq!(answer.headers()["location"], format!("/ui/webhooks/{id}").as_str());
    }
    assert_eq!(
        cookie_pair(&a, "pb_flash"),
        cookie_pair(&b, "pb_flash"),
        "the same answer, flash and all"
    );
    let again = rotate().await.unwrap();
    assert_eq!(again.status(), 303);
    let (_, secrets) = service
        .call("GET", &format!("/v1/webhooks/{id}/secret"), &key, None)
        .await;
    assert_eq!(
        secrets["previous_secret"],
        first_secret.as_str(),
        "rotated once: the first secret is the previous one"
    );

    // The flash shows once, on the page it names; a reload shows the page without it.
    let flash = cookie_pair(&a, "pb_flash").unwrap();
    let flash = flash.split(';').next().unwrap();
    let shown = no_redirects()
        .get(format!("{base}/ui/webhooks/{id}"))
        .header("cookie", format!("{}; {flash}", session.cookie))
        .send()
        .await
        .unwrap();
    let cleared = cookie_pair(&shown, "pb_flash").expect("the flash cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let html = shown.text().await.unwrap();
    assert!(html.contains(r#"id="secret-value""#) && html.contains(secrets["secret"].as_str().unwrap()));
    // A session of the same key signed in a second later has a cookie of its own.
    service.advance(std::time::Duration::from_secs(1));
    let other_session = sign_in(&base, &key).await.0;
    assert_ne!(other_session.cookie, session.cookie);
    let (_, elsewhere) = no_redirects()
        .get(format!("{base}/ui/webhooks/{id}"))
        .header("cookie", format!("{}; {flash}", other_session.cookie))
        .send()
        .await
        .map(|r| (r.status(), r))
        .unwrap();
    assert!(
        !elsewhere.text().await.unwrap().contains(r#"id="secret-value""#),
        "sealed to the session that made it"
    );
}
