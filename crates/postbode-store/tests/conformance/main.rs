//! The store's conformance suite: every rule of the store, run against each backend.
//!
//! Each test is an `async fn(Fixture)`; [`conformance!`] runs it once on a fresh SQLite
//! file and once on PostgreSQL in a schema of its own (127.0.0.1:5432, user `postgres`,
//! database `test`, or `POSTBODE_TEST_DATABASE_URL`). Without a reachable PostgreSQL the
//! PostgreSQL half is skipped with a message, except under `CI=true`, where it fails.
//! Time is passed in explicitly: no test waits for a clock.

mod claims;
mod delivery_log;
mod event_types;
mod handoff;
mod idempotency;
mod keys;
mod mail;
mod operations;
mod profiles;
mod records;
mod replay;
mod results;
mod retention;
mod retry;
mod routing;
mod sessions;

use chrono::{DateTime, Duration, Utc};
use postbode_core::event::EventScope;
use postbode_core::ids;
use postbode_core::webhook::{Verification, VerificationStatus, Webhook, WebhookSettings};
use postbode_store::*;
use serde_json::{Value, json};
use std::sync::Arc;

/// A store of one backend, empty but for one account.
pub struct Fixture {
    pub store: Arc<dyn Store>,
    pub account: String,
    /// An instant the tests count from.
    pub t0: DateTime<Utc>,
    _keep: Keep,
}

enum Keep {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Schema { url: String, schema: String },
}

impl Drop for Keep {
    fn drop(&mut self) {
        if let Keep::Schema { url, schema } = self {
            let (url, schema) = (url.clone(), schema.clone());
            // A test that failed keeps its schema for a look; one that passed cleans up.
            if !std::thread::panicking() {
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
                    if let Ok(runtime) = runtime {
                        runtime.block_on(async {
                            if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                                let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                                    .execute(&pool)
                                    .await;
                            }
                        });
                    }
                })
                .join();
            }
        }
    }
}

pub async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("postbode.db").display());
    Fixture::new(open(&url).await.unwrap(), Keep::Dir(dir)).await
}

/// `None` (after saying why) when PostgreSQL is not there and CI is not set.
pub async fn postgres() -> Option<Fixture> {
    let url = std::env::var("POSTBODE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = match sqlx::PgPool::connect(&url).await {
        Ok(pool) => pool,
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipped: PostgreSQL at {url} is not reachable ({e}); CI=true makes this a failure");
            return None;
        }
        Err(e) => panic!("PostgreSQL at {url} is not reachable: {e}"),
    };
    let schema = format!("pbtest_{}", ulid::Ulid::generate().to_string().to_ascii_lowercase());
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{separator}options=-c%20search_path%3D{schema}");
    let store = open(&scoped).await.unwrap();
    Some(Fixture::new(store, Keep::Schema { url, schema }).await)
}

impl Fixture {
    async fn new(store: Arc<dyn Store>, keep: Keep) -> Self {
        let t0: DateTime<Utc> = "2026-11-20T10:00:00Z".parse().unwrap();
        let account = new_account(store.as_ref(), "Acme", t0).await;
        Self {
            store,
            account,
            t0,
            _keep: keep,
        }
    }

    pub fn at(&self, seconds: i64) -> DateTime<Utc> {
        self.t0 + Duration::seconds(seconds)
    }

    /// A verified, enabled webhook of the fixture's account with these settings (JSON,
    /// `url` optional).
    pub async fn webhook(&self, settings: Value) -> Webhook {
        self.webhook_in(&self.account, settings).await
    }

    pub async fn webhook_in(&self, account: &str, mut settings: Value) -> Webhook {
        if settings.get("url").is_none() {
            settings["url"] = json!("https://receiver.example/hook");
        }
        let settings: WebhookSettings = serde_json::from_value(settings).unwrap();
        let webhook = Webhook {
            id: ids::new_id(ids::WEBHOOK),
            account_id: account.to_owned(),
            settings,
            disabled_reason: None,
            secret: "sealed".into(),
            previous_secret: None,
            verification: Verification {
                status: VerificationStatus::Verified,
                domain: None,
                file_name: "postbode-abc.txt".into(),
                file_content: "content".into(),
                checked_at: Some(self.t0),
                outcome: None,
            },
            failing_since: None,
            paused_until: None,
            pause_reason: None,
            created_at: self.t0,
            updated_at: self.t0,
        };
        self.store.create_webhook(&webhook).await.unwrap();
        webhook
    }

    /// Ingests one custom event of `event_type` at `at`, with verification required.
    pub async fn event(&self, event_type: &str, at: DateTime<Utc>) -> Ingested {
        self.store
            .ingest(&self.account, vec![custom(event_type, at)], at, true)
            .await
            .unwrap()
            .remove(0)
    }

    /// Leases every due delivery at `at` (room to spare).
    pub async fn claim_all(&self, at: DateTime<Utc>) -> Claim {
        self.store.claim(claim_request(at, 1000, 100)).await.unwrap()
    }
}

pub async fn new_account(store: &dyn Store, name: &str, at: DateTime<Utc>) -> String {
    let account = Account {
        id: ids::new_id(ids::ACCOUNT),
        name: name.into(),
        created_at: at,
    };
    let key = ApiKey {
        id: ids::new_id(ids::API_KEY),
        account_id: account.id.clone(),
        secret_hash: vec![7; 32],
        name: None,
        scopes: Default::default(),
        created_at: at,
        last_used_at: None,
    };
    store.create_account(&account, &key).await.unwrap();
    account.id
}

pub fn custom(event_type: &str, at: DateTime<Utc>) -> NewEvent {
    let id = ids::new_id(ids::EVENT);
    NewEvent {
        body: json!({ "id": id, "type": event_type }).to_string().into_bytes(),
        id,
        event_type: event_type.into(),
        created_at: at,
        idempotency: None,
        scope: EventScope::default(),
        trace_parent: None,
    }
}

pub fn claim_request(at: DateTime<Utc>, limit: u32, room_default: u32) -> ClaimRequest {
    ClaimRequest {
        now: at,
        lease_until: at + Duration::minutes(2),
        limit,
        room: Default::default(),
        room_default,
        require_verification: true,
    }
}

/// Runs each named test against both backends.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name(crate::sqlite().await).await;
                }

                #[tokio::test]
                async fn postgres() {
                    if let Some(fixture) = crate::postgres().await {
                        super::$name(fixture).await;
                    }
                }
            }
        )*
    };
}
pub(crate) use conformance;
