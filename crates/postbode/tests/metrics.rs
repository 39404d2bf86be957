//! `GET /metrics` of the real binary (a process of its own, so the counters count this
//! test's workload only): who may scrape, and the counters' values after a known
//! workload.

mod common;

use common::binary::{Binary, start_binary, start_binary_with};
use common::free_port;
use common::{ADMIN, Receiver, Reply, eventually};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const SCRAPER: &str = "scraper-token";

struct Api {
    client: reqwest::Client,
    url: String,
}

impl Api {
    fn new(binary: &Binary) -> Self {
        Self {
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            url: binary.url.clone(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> (u16, String) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        let (status, text) = self.call(reqwest::Method::POST, path, token, Some(body)).await;
        assert!((200..300).contains(&status), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }
}

/// A sample's value: the series of `name` whose labels include all of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (series_name, rest) = series.split_once('{').unwrap_or((series, "}"));
        if series_name != name {
            return None;
        }
        let found: BTreeMap<&str, &str> = rest
            .trim_end_matches('}')
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k, v.trim_matches('"')))
            .collect();
        labels
            .iter()
            .all(|(k, v)| found.get(k) == Some(v))
            .then(|| value.parse().unwrap())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_known_workload_and_need_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let ok = Receiver::start().await;
    let broken = Receiver::answering(|_| Reply::Status(500)).await;
    // First the webhooks, whose ids the metrics settings then name.
    let binary = start_binary(dir.path(), free_port()).await;
    let api = Api::new(&binary);
    let account = api.post("/v1/accounts", ADMIN, json!({"name": "Acme"})).await;
    let key = account["api_key"].as_str().unwrap().to_owned();
    let labelled = api.post("/v1/webhooks", &key, json!({"url": ok.url})).await;
    let labelled = labelled["id"].as_str().unwrap().to_owned();
    api.post("/v1/webhooks", &key, json!({"url": broken.url})).await;
    drop(binary);

    let webhooks = format!("[\"{labelled}\"]");
    let binary = start_binary_with(
        dir.path(),
        free_port(),
        &[
            ("POSTBODE_METRICS__TOKEN", SCRAPER),
            ("POSTBODE_METRICS__WEBHOOKS", &webhooks),
            // One attempt per delivery: a failure is final at once.
            ("POSTBODE_DELIVERY__RETRY__SCHEDULE", "[]"),
        ],
    )
    .await;
    let api = Api::new(&binary);
    let (status, _) = api.call(reqwest::Method::GET, "/metrics", "wrong", None).await;
    assert_eq!(status, 401);
    let (status, _) = api.call(reqwest::Method::GET, "/metrics", &key, None).await;
    assert_eq!(status, 403, "an account key does not read the metrics");

    for n in 0..3 {
        api.post("/v1/events", &key, json!({"type": "order.paid", "data": {"n": n}}))
            .await;
    }
    let (status, _) = api.call(reqwest::Method::GET, "/t/o/not-a-token", "", None).await;
    assert_eq!(status, 200);
    let scrape = || async {
        let (status, text) = api.call(reqwest::Method::GET, "/metrics", SCRAPER, None).await;
        assert_eq!(status, 200, "{text}");
        text
    };
    let text = eventually("every delivery to end", || async {
        let text = scrape().await;
        let ended = sample(&text, "postbode_deliveries_total", &[("outcome", "delivered")]).unwrap_or(0.0)
            + sample(&text, "postbode_deliveries_total", &[("outcome", "failed")]).unwrap_or(0.0);
        let idle = sample(&text, "postbode_deliveries_pending", &[]) == Some(0.0);
        (ended == 6.0 && idle).then_some(text)
    })
    .await;
    let value = |name: &str, labels: &[(&str, &str)]| {
        sample(&text, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"))
    };
    assert_eq!(value("postbode_events_accepted_total", &[("type", "custom")]), 3.0);
    let ok_attempts = [
        ("result", "succeeded"),
        ("error_kind", "none"),
        ("webhook", labelled.as_str()),
    ];
    assert_eq!(value("postbode_attempts_total", &ok_attempts), 3.0);
    let failed_attempts = [("result", "failed"), ("error_kind", "status"), ("webhook", "other")];
    assert_eq!(value("postbode_attempts_total", &failed_attempts), 3.0);
    let delivered = [("outcome", "delivered"), ("webhook", labelled.as_str())];
    assert_eq!(value("postbode_deliveries_total", &delivered), 3.0);
    assert_eq!(
        value(
            "postbode_deliveries_total",
            &[("outcome", "failed"), ("webhook", "other")]
        ),
        3.0
    );
    let duration = [("webhook", labelled.as_str())];
    assert_eq!(value("postbode_attempt_duration_seconds_count", &duration), 3.0);
    assert_eq!(
        value(
            "postbode_tracking_hits_total",
            &[("kind", "open"), ("genuine", "false")]
        ),
        1.0
    );
    let posted = [("method", "POST"), ("route", "/v1/events"), ("status", "202")];
    assert_eq!(value("postbode_http_requests_total", &posted), 3.0);
    let opened = [("method", "GET"), ("route", "/t/o/{token}"), ("status", "200")];
    assert_eq!(value("postbode_http_requests_total", &opened), 1.0);
    assert_eq!(value("postbode_deliveries_due", &[]), 0.0);
    assert_eq!(value("postbode_deliveries_leased", &[]), 0.0);
    assert_eq!(value("postbode_oldest_due_age_seconds", &[]), 0.0);
    assert!(value("postbode_writer_group_ops_count", &[]) >= 1.0);
    assert!(value("postbode_writer_commit_seconds_count", &[]) >= 1.0);
    // The operator token reads them too.
    let (status, _) = api.call(reqwest::Method::GET, "/metrics", ADMIN, None).await;
    assert_eq!(status, 200);
}
