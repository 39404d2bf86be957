//! The WEBHOOKS tab: the list with each webhook's status and last delivery, and a
//! webhook's page (settings, verification panel, Health card refreshing itself,
//! signing secret, a snippet that verifies each scheme it signs with). The form that
//! creates and edits them is `webhook_form`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use postbode_core::page::PageRequest;
use postbode_core::profile::Schema;
use postbode_core::webhook::{VerificationStatus, Webhook};
use postbode_store::{Attempt, Collection, Database, ReplayJob, Undelivered, WebhookFilter};
use serde::Deserialize;

use super::flash::Flash;
use super::health::Health;
use super::page::{Chrome, CopyId, MaybeTime, Time, UiError, UiResult, duration, render, see_other, when};
use super::session::{AccountSession, Posted};
use super::snippets::{self, Snippet};
use crate::problem::ApiError;
use crate::routes::webhooks::{delete_webhook, find, rotate_webhook_secret, secrets, undelivered};
use crate::state::AppState;

const PAGE_SIZE: u32 = 50;
/// Databases (and their collections) offered as a scope.
const MAX_SCOPES: u32 = 100;

/// `/ui`: an account's webhooks, the operator's accounts, or the sign-in page.
pub async fn home(session: Result<AccountSession, UiError>) -> Response {
    match session {
        Ok(_) => see_other("/ui/webhooks"),
        Err(UiError::WrongKind) => see_other("/ui/operator"),
        Err(_) => see_other("/ui/sign-in"),
    }
}

/// What the list and a webhook's page say about its state.
pub struct Status {
    pub label: String,
    /// `ok`, `warn` or `bad`, for the badge's colour.
    pub tone: &'static str,
}

pub fn status(webhook: &Webhook, require_verification: bool) -> Status {
    if !webhook.settings.enabled {
        let reason = webhook.disabled_reason.as_deref().unwrap_or("turned off");
        return Status {
            label: format!("disabled: {reason}"),
            tone: "bad",
        };
    }
    if let Some(since) = webhook.failing_since {
        return Status {
            label: format!("failing since {}", when(since)),
            tone: "bad",
        };
    }
    match webhook.verification.status {
        VerificationStatus::Verified => Status {
            label: "verified".into(),
            tone: "ok",
        },
        _ if !require_verification => Status {
            label: "verification not required".into(),
            tone: "ok",
        },
        VerificationStatus::Failed => Status {
            label: "pending: the last check failed".into(),
            tone: "warn",
        },
        VerificationStatus::Pending => Status {
            label: "pending verification".into(),
            tone: "warn",
        },
    }
}

/// An attempt in one line: `HTTP 200 in 12 ms` or the error.
pub fn attempt_result(attempt: &Attempt) -> String {
    let took = duration(attempt.duration_ms);
    match (attempt.status_code, &attempt.error_kind) {
        (Some(code), _) => format!("HTTP {code} in {took}"),
        (None, Some(kind)) => format!("{kind} after {took}"),
        (None, None) => "no answer".into(),
    }
}

/// Names of the account's databases and collections, for scopes and filters.
pub struct Scopes {
    pub databases: Vec<Database>,
    pub collections: Vec<Collection>,
}

impl Scopes {
    pub async fn load(state: &AppState, account_id: &str) -> Result<Self, ApiError> {
        let page = PageRequest {
            after: None,
            limit: MAX_SCOPES,
        };
        let databases = state.store.list_databases(account_id, &page).await?.data;
        let mut collections = Vec::new();
        for database in &databases {
            collections.extend(
                state
                    .store
                    .list_collections(account_id, &database.id, &page)
                    .await?
                    .data,
            );
        }
        Ok(Self { databases, collections })
    }

    pub fn describe(&self, database_id: Option<&str>, collection_id: Option<&str>) -> String {
        if let Some(id) = collection_id {
            return match self.collections.iter().find(|c| c.id == id) {
                Some(c) => format!("collection {}", c.name),
                None => format!("collection {id}"),
            };
        }
        match database_id {
            Some(id) => match self.databases.iter().find(|d| d.id == id) {
                Some(d) => format!("database {}", d.name),
                None => format!("database {id}"),
            },
            None => "everything".into(),
        }
    }

    pub fn database_name(&self, id: &str) -> String {
        self.databases
            .iter()
            .find(|d| d.id == id)
            .map_or_else(|| id.to_owned(), |d| d.name.clone())
    }

    /// The fields a condition can name in this scope: a collection's over its
    /// database's.
    pub fn fields(&self, database_id: &str, collection_id: &str) -> Schema {
        let collection = self.collections.iter().find(|c| c.id == collection_id);
        let database_id = collection.map_or(database_id, |c| c.database_id.as_str());
        let mut fields = self
            .databases
            .iter()
            .find(|d| d.id == database_id)
            .map(|d| d.fields.clone())
            .unwrap_or_default();
        for def in collection.map(|c| c.fields.0.clone()).unwrap_or_default() {
            fields.0.retain(|f| f.name != def.name);
            fields.0.push(def);
        }
        fields
    }
}

pub struct WebhookRow {
    pub id: String,
    pub url: String,
    pub description: String,
    pub events: String,
    pub scope: String,
    pub status: Status,
    /// The last attempt's time and result.
    pub last: Option<(Time, String)>,
    pub last_tone: &'static str,
    /// What it has not been sent: held deliveries, unverified skips of 24 hours.
    pub undelivered: Undelivered,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<WebhookRow>,
    scopes: Scopes,
    database_id: String,
    collection_id: String,
    next: Option<String>,
}

impl ListPage {
    fn filtered(&self) -> bool {
        !self.database_id.trim().is_empty() || !self.collection_id.trim().is_empty()
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    database_id: String,
    #[serde(default)]
    collection_id: String,
    cursor: Option<String>,
}

fn blank_as_none(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

pub async fn list(session: AccountSession, State(state): State<AppState>, Query(q): Query<ListQuery>) -> UiResult {
    let account = &session.account_id;
    let filter = WebhookFilter {
        database_id: blank_as_none(&q.database_id),
        collection_id: blank_as_none(&q.collection_id),
    };
    let page = PageRequest {
        after: q.cursor.clone(),
        limit: PAGE_SIZE,
    };
    let webhooks = state.store.list_webhooks(account, &filter, &page).await?;
    let ids: Vec<&str> = webhooks.data.iter().map(|w| w.id.as_str()).collect();
    let latest = state.store.latest_attempts(account, &ids).await?;
    let mut not_sent = undelivered(&state, account, &ids).await?;
    let scopes = Scopes::load(&state, account).await?;
    let rows = webhooks
        .data
        .iter()
        .map(|w| {
            let last = latest.get(&w.id);
            WebhookRow {
                id: w.id.clone(),
                url: w.settings.url.clone(),
                description: w.settings.description.clone(),
                events: w.settings.events.join(", "),
                scope: scopes.describe(w.settings.database_id.as_deref(), w.settings.collection_id.as_deref()),
                status: status(w, state.require_verification),
                last: last.map(|a| (Time(a.started_at), attempt_result(a))),
                last_tone: match last {
                    Some(a) if a.succeeded() => "ok",
                    Some(_) => "bad",
                    None => "",
                },
                undelivered: not_sent.remove(&w.id).unwrap_or_default(),
            }
        })
        .collect();
    Ok(render(&ListPage {
        chrome: session.chrome("Webhooks", "webhooks"),
        rows,
        scopes,
        database_id: q.database_id,
        collection_id: q.collection_id,
        next: webhooks.next_cursor,
    }))
}

#[derive(Template)]
#[template(path = "webhook.html")]
pub struct WebhookPage {
    pub chrome: Chrome,
    pub webhook: Webhook,
    pub status: Status,
    pub scope: String,
    pub file_urls: Vec<String>,
    pub require_verification: bool,
    pub health: Health,
    /// How a receiver checks each scheme the webhook signs with.
    pub snippets: Vec<Snippet>,
    pub public_url: String,
    /// The webhook's newest replay jobs.
    pub jobs: Vec<ReplayJob>,
}

impl WebhookPage {
    pub async fn load(state: &AppState, session: &AccountSession, id: &str) -> Result<Self, ApiError> {
        let webhook = find(state, &session.account_id, id).await?;
        let scopes = Scopes::load(state, &session.account_id).await?;
        let engine = state.engine.webhook(&webhook.id);
        let counts = undelivered(state, &session.account_id, &[webhook.id.as_str()])
            .await?
            .remove(&webhook.id)
            .unwrap_or_default();
        let jobs = state.store.replay_jobs(&session.account_id, &webhook.id, 5).await?;
        Ok(Self {
            jobs,
            health: Health::new(&webhook, engine.as_ref(), counts, state.clock.now()),
            snippets: snippets::for_webhook(state, &webhook),
            chrome: session.chrome(webhook.settings.url.clone(), "webhooks"),
            status: status(&webhook, state.require_verification),
            scope: scopes.describe(
                webhook.settings.database_id.as_deref(),
                webhook.settings.collection_id.as_deref(),
            ),
            file_urls: webhook.verification.file_urls(&webhook.settings.url),
            webhook,
            require_verification: state.require_verification,
            public_url: state.public_url.to_string(),
        })
    }

    fn headers(&self) -> String {
        header_lines(&self.webhook.settings.headers)
    }

    fn signatures(&self) -> String {
        self.webhook
            .settings
            .signatures
            .iter()
            .filter_map(|s| serde_json::to_value(s).ok())
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn ignored(&self) -> String {
        let names: Vec<&str> = self
            .webhook
            .settings
            .ignore_sources
            .iter()
            .map(|s| s.as_str())
            .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }

    fn format(&self) -> String {
        serde_json::to_value(self.webhook.settings.format)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    fn checked_at(&self) -> MaybeTime {
        MaybeTime(self.webhook.verification.checked_at)
    }

    fn keys_url(&self) -> String {
        format!("{}/.well-known/postbode/keys", self.public_url)
    }

    fn id(&self) -> CopyId<'_> {
        CopyId(&self.webhook.id)
    }
}

pub async fn show(session: AccountSession, State(state): State<AppState>, Path(id): Path<String>) -> UiResult {
    Ok(render(&WebhookPage::load(&state, &session, &id).await?))
}

/// "Show the secret" and "Rotate the secret": the page again, with the secret shown once.
pub async fn secret(State(state): State<AppState>, Path(id): Path<String>, posted: Posted<AccountSession>) -> UiResult {
    posted
        .once(async {
            let account = &posted.session.account_id;
            let rotated = posted.form.get("action") == Some("rotate");
            if rotated {
                rotate_webhook_secret(&state, account, &id).await?;
            }
            let webhook = find(&state, account, &id).await?;
            let (secret, previous) = secrets(&state, &webhook)?;
            let mut flash = if rotated {
                Flash::ok("Rotated: the new secret signs every call from now on.")
            } else {
                Flash::ok("The signing secret, shown once: copy it into the receiver's configuration.")
            };
            flash = flash.shown("secret-value", "Signing secret", secret);
            if let Some((old, until)) = previous {
                flash = flash
                    .line(format!("The previous secret signs beside it until {}.", when(until)))
                    .shown("previous-secret", "Previous secret", old);
            }
            posted.redirect(&state, &format!("/ui/webhooks/{id}"), flash)
        })
        .await
}

pub fn header_lines(headers: &std::collections::BTreeMap<String, String>) -> String {
    headers.iter().map(|(n, v)| format!("{n}: {v}\n")).collect()
}

pub async fn delete(State(state): State<AppState>, Path(id): Path<String>, posted: Posted<AccountSession>) -> UiResult {
    posted
        .once(async {
            let webhook = find(&state, &posted.session.account_id, &id).await?;
            delete_webhook(&state, &posted.session.account_id, &id).await?;
            let flash = Flash::ok(format!(
                "Deleted the webhook to {}, with its deliveries and attempts.",
                webhook.settings.url
            ));
            posted.redirect(&state, "/ui/webhooks", flash)
        })
        .await
}
