//! The Postbode API calls the bench makes: an account, its webhooks, and the events.

use anyhow::Context;
use bytes::Bytes;
use reqwest::StatusCode;
use serde::Deserialize;
use std::time::{Duration, Instant};

/// A generous limit for one API call, so a stuck server fails the run instead of hanging it.
const CALL_LIMIT: Duration = Duration::from_secs(60);

/// An HTTP/1.1 client with a connection pool, no proxy and no retries: a retried POST
/// could make an event twice.
pub fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .retry(reqwest::retry::never())
        .timeout(CALL_LIMIT)
        .build()
        .context("building the HTTP client")
}

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base_url: String,
}

/// The ids of the events one call made, and when its `202` arrived.
pub struct Accepted {
    pub ids: Vec<String>,
    /// Deliveries the server says it made (single-event calls only).
    pub deliveries: Option<u64>,
    pub at: Instant,
}

impl Api {
    pub fn new(http: reqwest::Client, base_url: &str) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// A fresh account, so the run sees only its own webhooks and events; returns its key.
    pub async fn create_account(&self, admin_token: &str, name: &str) -> anyhow::Result<String> {
        #[derive(Deserialize)]
        struct Created {
            api_key: String,
        }
        let body = serde_json::json!({ "name": name });
        let (_, answer) = self
            .call(
                "POST",
                "/v1/accounts",
                admin_token,
                body.to_string().into(),
                StatusCode::CREATED,
            )
            .await
            .context("creating an account (is the operator token right?)")?;
        Ok(serde_json::from_slice::<Created>(&answer)?.api_key)
    }

    /// A webhook for every event type, pointing at `url`; returns its id.
    pub async fn create_webhook(
        &self,
        key: &str,
        url: &str,
        max_concurrency: u32,
        signatures: &[String],
    ) -> anyhow::Result<String> {
        #[derive(Deserialize)]
        struct Created {
            id: String,
        }
        let body = serde_json::json!({
            "url": url,
            "description": "postbode bench",
            "events": ["all"],
            "max_concurrency": max_concurrency,
            "signatures": signatures,
        });
        let (_, answer) = self
            .call(
                "POST",
                "/v1/webhooks",
                key,
                body.to_string().into(),
                StatusCode::CREATED,
            )
            .await
            .context("creating a webhook")?;
        Ok(serde_json::from_slice::<Created>(&answer)?.id)
    }

    /// `POST /v1/events` with one event's JSON.
    pub async fn post_event(&self, key: &str, body: Bytes) -> anyhow::Result<Accepted> {
        #[derive(Deserialize)]
        struct Answer {
            id: String,
            deliveries: u64,
        }
        let (at, answer) = self.call("POST", "/v1/events", key, body, StatusCode::ACCEPTED).await?;
        let answer: Answer = serde_json::from_slice(&answer).context("reading the answer to POST /v1/events")?;
        Ok(Accepted {
            ids: vec![answer.id],
            deliveries: Some(answer.deliveries),
            at,
        })
    }

    /// `POST /v1/events/batch` with `{"events": [...]}`.
    pub async fn post_batch(&self, key: &str, body: Bytes) -> anyhow::Result<Accepted> {
        #[derive(Deserialize)]
        struct Answer {
            ids: Vec<String>,
        }
        let (at, answer) = self
            .call("POST", "/v1/events/batch", key, body, StatusCode::ACCEPTED)
            .await?;
        let answer: Answer = serde_json::from_slice(&answer).context("reading the answer to POST /v1/events/batch")?;
        Ok(Accepted {
            ids: answer.ids,
            deliveries: None,
            at,
        })
    }

    /// One call; returns when its answer's head arrived, and the answer's body. Any
    /// other status than `expected` is an error that quotes the problem document.
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Bytes,
        expected: StatusCode,
    ) -> anyhow::Result<(Instant, Bytes)> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let response = self
            .http
            .request(method.clone(), format!("{}{path}", self.base_url))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let at = Instant::now();
        let status = response.status();
        let answer = response
            .bytes()
            .await
            .with_context(|| format!("reading the answer to {method} {path}"))?;
        if status != expected {
            anyhow::bail!(
                "{method} {path} answered {status}: {}",
                String::from_utf8_lossy(&answer)
            );
        }
        Ok((at, answer))
    }
}
