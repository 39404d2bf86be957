//! The Postbode API calls the bench makes: an account, its webhooks, and the events; for
//! the opens scenario also a database, its profiles, their messages and the open pixels.

use anyhow::Context;
use bytes::Bytes;
use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
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

/// The answer to a `POST` that made something with an id.
#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base_url: String,
    /// With several nodes: every node's URL; events go to each in turn.
    nodes: std::sync::Arc<[String]>,
    turn: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// The ids of the events one call made, and when its `202` arrived. For an open, the
/// "id" is the user agent it was sent with, which is what its delivery is matched by.
pub struct Accepted {
    pub ids: Vec<String>,
    /// Deliveries the server says it made (single-event calls only).
    pub deliveries: Option<u64>,
    pub at: Instant,
}

impl Api {
    pub fn new(http: reqwest::Client, base_url: &str) -> Self {
        Self::nodes(http, &[base_url.to_owned()])
    }

    /// Events are posted to every node in turn; everything else goes to the first.
    pub fn nodes(http: reqwest::Client, base_urls: &[String]) -> Self {
        let nodes: Vec<String> = base_urls.iter().map(|u| u.trim_end_matches('/').to_owned()).collect();
        Self {
            http,
            base_url: nodes.first().cloned().unwrap_or_default(),
            nodes: nodes.into(),
            turn: Default::default(),
        }
    }

    fn base_for(&self, path: &str) -> &str {
        if self.nodes.len() > 1 && path.starts_with("/v1/events") {
            let turn = self.turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return &self.nodes[turn % self.nodes.len()];
        }
        &self.base_url
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

    /// A webhook made of `body` (the bench's settings plus the receiver's URL); returns
    /// its id.
    pub async fn create_webhook(&self, key: &str, body: &serde_json::Value) -> anyhow::Result<String> {
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

    /// An event type of the account's catalogue.
    pub async fn create_event_type(&self, key: &str, body: &serde_json::Value) -> anyhow::Result<()> {
        self.call(
            "POST",
            "/v1/event-types",
            key,
            body.to_string().into(),
            StatusCode::CREATED,
        )
        .await
        .context("creating the event type")?;
        Ok(())
    }

    /// The adaptive limit and its ceiling of a webhook, as `GET /v1/webhooks/{id}` shows
    /// them; `None` while the engine holds nothing of it.
    pub async fn webhook_limit(&self, key: &str, id: &str) -> anyhow::Result<Option<(u32, u32)>> {
        #[derive(Deserialize)]
        struct View {
            health: Health,
        }
        #[derive(Deserialize)]
        struct Health {
            engine: Option<Engine>,
        }
        #[derive(Deserialize)]
        struct Engine {
            limit: u32,
            max_concurrency: u32,
        }
        let (_, answer) = self
            .call("GET", &format!("/v1/webhooks/{id}"), key, Bytes::new(), StatusCode::OK)
            .await?;
        let view: View = serde_json::from_slice(&answer).context("reading a webhook's health")?;
        Ok(view.health.engine.map(|e| (e.limit, e.max_concurrency)))
    }

    /// `POST /v1/databases`; returns the database's id.
    pub async fn create_database(&self, key: &str, body: &serde_json::Value) -> anyhow::Result<String> {
        let created: Created = self
            .create(key, "/v1/databases", body)
            .await
            .context("creating a database")?;
        Ok(created.id)
    }

    /// `POST /v1/databases/{id}/profiles`; returns the profile's id.
    pub async fn create_profile(&self, key: &str, database: &str, body: &serde_json::Value) -> anyhow::Result<String> {
        let created: Created = self
            .create(key, &format!("/v1/databases/{database}/profiles"), body)
            .await
            .context("creating a profile")?;
        Ok(created.id)
    }

    /// `POST /v1/messages`; returns the message's open pixel URL.
    pub async fn create_message(&self, key: &str, body: &serde_json::Value) -> anyhow::Result<String> {
        #[derive(Deserialize)]
        struct Message {
            open_url: String,
        }
        let message: Message = self
            .create(key, "/v1/messages", body)
            .await
            .context("creating a message")?;
        Ok(message.open_url)
    }

    /// `GET` of an open pixel as a mail client would, with `agent` as the User-Agent.
    /// Anything but a `200` with a GIF is an error: a mail client would show a broken image.
    pub async fn open(&self, url: &str, agent: String) -> anyhow::Result<Accepted> {
        let response = self
            .http
            .get(url)
            .header(reqwest::header::USER_AGENT, &agent)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let at = Instant::now();
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let answer = response
            .bytes()
            .await
            .with_context(|| format!("reading the answer to GET {url}"))?;
        if status != StatusCode::OK {
            anyhow::bail!("GET {url} answered {status}: {}", String::from_utf8_lossy(&answer));
        }
        let media_type = content_type.as_deref().and_then(|t| t.split(';').next()).map(str::trim);
        if !media_type.is_some_and(|t| t.eq_ignore_ascii_case("image/gif")) {
            anyhow::bail!(
                "GET {url} answered 200 with content-type {} instead of image/gif",
                content_type.as_deref().unwrap_or("(none)")
            );
        }
        Ok(Accepted {
            ids: vec![agent],
            deliveries: None,
            at,
        })
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

    /// A `POST` that must answer `201`, and its answer.
    async fn create<T: DeserializeOwned>(&self, key: &str, path: &str, body: &serde_json::Value) -> anyhow::Result<T> {
        let (_, answer) = self
            .call("POST", path, key, body.to_string().into(), StatusCode::CREATED)
            .await?;
        serde_json::from_slice(&answer).with_context(|| format!("reading the answer to POST {path}"))
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
            .request(method.clone(), format!("{}{path}", self.base_for(path)))
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
