//! The WEBHOOKS tab: the list with each webhook's status and last delivery, a
//! webhook's page, and the create/edit form with every setting of the API. The form
//! is turned into the same JSON the API takes and goes through the same functions
//! (`routes::webhooks::create_webhook` / `update_webhook`), so a refusal names the same
//! fields, shown beside their inputs.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use postbode_core::event::{MAIL_TYPES, PROFILE_TYPES};
use postbode_core::page::PageRequest;
use postbode_core::probe::FileCheck;
use postbode_core::profile::Schema;
use postbode_core::webhook::{Source, VerificationStatus, Webhook};
use postbode_core::{FieldError, ValidationError};
use postbode_store::{Attempt, Collection, Database, WebhookFilter};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::condition::{self, COMPARISONS, Row};
use super::form::{Errors, FormData};
use super::page::{Chrome, UiError, UiResult, render, render_with, see_other, when, when_opt};
use super::session::{AccountSession, Posted};
use crate::extract::decode_json;
use crate::problem::ApiError;
use crate::routes::webhooks::{create_webhook, delete_webhook, find, rotate_webhook_secret, secrets, update_webhook};
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
    match (attempt.status_code, &attempt.error_kind) {
        (Some(code), _) => format!("HTTP {code} in {} ms", attempt.duration_ms),
        (None, Some(kind)) => format!("{kind} after {} ms", attempt.duration_ms),
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

    fn database_name(&self, id: &str) -> String {
        self.databases
            .iter()
            .find(|d| d.id == id)
            .map_or_else(|| id.to_owned(), |d| d.name.clone())
    }

    /// The fields a condition can name in this scope: a collection's over its
    /// database's.
    fn fields(&self, database_id: &str, collection_id: &str) -> Schema {
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
    pub last: String,
    pub last_tone: &'static str,
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
                last: last.map_or_else(
                    || "none yet".to_owned(),
                    |a| format!("{} · {}", when(a.started_at), attempt_result(a)),
                ),
                last_tone: match last {
                    Some(a) if a.succeeded() => "ok",
                    Some(_) => "bad",
                    None => "",
                },
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
    /// The outcome of a Verify just pressed.
    pub checked: Option<(bool, Vec<FileCheck>)>,
    pub require_verification: bool,
    /// The secret, when asked to show it; the previous one and its end after a rotation.
    pub secret: Option<(String, Option<(String, String)>)>,
}

impl WebhookPage {
    pub async fn load(state: &AppState, session: &AccountSession, id: &str) -> Result<Self, ApiError> {
        let webhook = find(state, &session.account_id, id).await?;
        let scopes = Scopes::load(state, &session.account_id).await?;
        Ok(Self {
            chrome: session.chrome(webhook.settings.url.clone(), "webhooks"),
            status: status(&webhook, state.require_verification),
            scope: scopes.describe(
                webhook.settings.database_id.as_deref(),
                webhook.settings.collection_id.as_deref(),
            ),
            file_urls: webhook.verification.file_urls(&webhook.settings.url),
            webhook,
            checked: None,
            require_verification: state.require_verification,
            secret: None,
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

    fn checked_at(&self) -> String {
        when_opt(self.webhook.verification.checked_at)
    }
}

pub async fn show(session: AccountSession, State(state): State<AppState>, Path(id): Path<String>) -> UiResult {
    Ok(render(&WebhookPage::load(&state, &session, &id).await?))
}

/// "Show the secret" and "Rotate the secret": the page again, with the secret on it.
pub async fn secret(State(state): State<AppState>, Path(id): Path<String>, posted: Posted<AccountSession>) -> UiResult {
    let session = posted.session;
    if posted.form.get("action") == Some("rotate") {
        rotate_webhook_secret(&state, &session.account_id, &id).await?;
    }
    let mut page = WebhookPage::load(&state, &session, &id).await?;
    let (secret, previous) = secrets(&state, &page.webhook)?;
    page.secret = Some((secret, previous.map(|(s, until)| (s, when(until)))));
    Ok(render(&page))
}

fn header_lines(headers: &std::collections::BTreeMap<String, String>) -> String {
    headers.iter().map(|(n, v)| format!("{n}: {v}\n")).collect()
}

/// The form's values, as shown (from a webhook, the defaults, or what was posted).
pub struct FormValues {
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub custom_events: String,
    /// `""`, `db:<id>` or `col:<id>`.
    pub scope: String,
    pub format: String,
    pub condition: String,
    pub ignore_sources: Vec<String>,
    pub signatures: Vec<String>,
    pub headers: String,
    pub max_concurrency: String,
    pub rate_limit: String,
    pub enabled: bool,
    pub rows: Vec<Row>,
    pub any: bool,
}

const ROWS_SHOWN: usize = 3;

impl FormValues {
    fn defaults() -> Self {
        Self {
            url: String::new(),
            description: String::new(),
            events: vec!["all".into()],
            custom_events: String::new(),
            scope: String::new(),
            format: "json".into(),
            condition: String::new(),
            ignore_sources: Vec::new(),
            signatures: vec!["standard-webhooks".into()],
            headers: String::new(),
            max_concurrency: postbode_core::webhook::DEFAULT_MAX_CONCURRENCY.to_string(),
            rate_limit: String::new(),
            enabled: true,
            rows: vec![Row::default(); ROWS_SHOWN],
            any: false,
        }
    }

    fn of(webhook: &Webhook) -> Self {
        let s = &webhook.settings;
        let text = |v: Value| v.as_str().unwrap_or_default().to_owned();
        let builtin =
            |e: &String| e == "all" || MAIL_TYPES.contains(&e.as_str()) || PROFILE_TYPES.contains(&e.as_str());
        Self {
            url: s.url.clone(),
            description: s.description.clone(),
            events: s.events.iter().filter(|e| builtin(e)).cloned().collect(),
            custom_events: s
                .events
                .iter()
                .filter(|e| !builtin(e))
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            scope: match (&s.collection_id, &s.database_id) {
                (Some(c), _) => format!("col:{c}"),
                (None, Some(d)) => format!("db:{d}"),
                (None, None) => String::new(),
            },
            format: text(json!(s.format)),
            condition: s.condition.clone().unwrap_or_default(),
            ignore_sources: s.ignore_sources.iter().map(|x| x.as_str().to_owned()).collect(),
            signatures: s.signatures.iter().map(|x| text(json!(x))).collect(),
            headers: header_lines(&s.headers),
            max_concurrency: s.max_concurrency.to_string(),
            rate_limit: s.rate_limit.map(|r| r.per_second.to_string()).unwrap_or_default(),
            enabled: s.enabled,
            rows: vec![Row::default(); ROWS_SHOWN],
            any: false,
        }
    }

    fn posted(form: &FormData) -> Self {
        let (fields, comparisons, values) = (form.all("row_field"), form.all("row_comparison"), form.all("row_value"));
        let mut rows: Vec<Row> = fields
            .into_iter()
            .enumerate()
            .map(|(i, field)| Row {
                field,
                comparison: comparisons.get(i).cloned().unwrap_or_default(),
                value: values.get(i).cloned().unwrap_or_default(),
            })
            .collect();
        rows.retain(|r| !r.field.is_empty());
        rows.push(Row::default());
        while rows.len() < ROWS_SHOWN {
            rows.push(Row::default());
        }
        Self {
            url: form.text("url").trim().to_owned(),
            description: form.text("description"),
            events: form.all("events"),
            custom_events: form.text("custom_events"),
            scope: form.text("scope"),
            format: form.text("format"),
            condition: form.text("condition"),
            ignore_sources: form.all("ignore_sources"),
            signatures: form.all("signatures"),
            headers: form.text("headers"),
            max_concurrency: form.text("max_concurrency"),
            rate_limit: form.text("rate_limit"),
            enabled: form.checked("enabled"),
            rows,
            any: form.get("join") == Some("any"),
        }
    }

    fn scope_ids(&self) -> (Option<&str>, Option<&str>) {
        match self.scope.split_once(':') {
            Some(("db", id)) => (Some(id), None),
            Some(("col", id)) => (None, Some(id)),
            _ => (None, None),
        }
    }

    /// The JSON the API takes for these values; input the form itself cannot read (a
    /// header line without `:`, a number that is not one) is refused here, named like
    /// the API's fields.
    fn settings_json(&self, scopes: &Scopes) -> Result<Map<String, Value>, ValidationError> {
        let mut errors = Vec::new();
        let mut events: Vec<String> = self.events.clone();
        events.extend(
            self.custom_events
                .split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned),
        );
        let mut headers = Map::new();
        for line in self.headers.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match line.split_once(':') {
                Some((name, value)) => {
                    headers.insert(name.trim().to_owned(), Value::String(value.trim().to_owned()));
                }
                None => errors.push(FieldError::new("headers", "write one header per line, as Name: value")),
            }
        }
        let max_concurrency = match self.max_concurrency.trim().parse::<u32>() {
            Ok(n) => json!(n),
            Err(_) => {
                errors.push(FieldError::new("max_concurrency", "a whole number"));
                Value::Null
            }
        };
        let rate_limit = match self.rate_limit.trim() {
            "" => Value::Null,
            text => match text.parse::<u32>() {
                Ok(n) => json!({ "per_second": n }),
                Err(_) => {
                    errors.push(FieldError::new(
                        "rate_limit.per_second",
                        "a whole number, or empty for none",
                    ));
                    Value::Null
                }
            },
        };
        let (database_id, collection_id) = self.scope_ids();
        // A collection's webhook names its database too, as the API lets it.
        let database_id = database_id.map(str::to_owned).or_else(|| {
            collection_id
                .and_then(|id| scopes.collections.iter().find(|c| c.id == id))
                .map(|c| c.database_id.clone())
        });
        ValidationError::check(errors)?;
        let condition = self.condition.trim();
        let json = json!({
            "url": self.url,
            "description": self.description,
            "events": events,
            "database_id": database_id,
            "collection_id": collection_id,
            "format": self.format,
            "condition": if condition.is_empty() { Value::Null } else { json!(condition) },
            "ignore_sources": self.ignore_sources,
            "signatures": self.signatures,
            "headers": headers,
            "max_concurrency": max_concurrency,
            "rate_limit": rate_limit,
            "enabled": self.enabled,
        });
        match json {
            Value::Object(map) => Ok(map),
            _ => Ok(Map::new()),
        }
    }
}

#[derive(Template)]
#[template(path = "webhook_form.html")]
struct FormPage {
    chrome: Chrome,
    /// `None` when creating.
    id: Option<String>,
    values: FormValues,
    errors: Errors,
    scopes: Scopes,
    /// The fields the condition editor offers (the chosen scope's).
    fields: Schema,
    mail_types: &'static [&'static str],
    profile_types: &'static [&'static str],
    sources: [&'static str; 4],
    comparisons: [(&'static str, &'static str); 11],
}

impl FormPage {
    fn new(session: &AccountSession, id: Option<String>, values: FormValues, errors: Errors, scopes: Scopes) -> Self {
        let (database_id, collection_id) = values.scope_ids();
        let fields = scopes.fields(database_id.unwrap_or_default(), collection_id.unwrap_or_default());
        let title = if id.is_some() { "Edit webhook" } else { "New webhook" };
        Self {
            chrome: session.chrome(title, "webhooks"),
            id,
            values,
            errors,
            fields,
            scopes,
            mail_types: MAIL_TYPES,
            profile_types: PROFILE_TYPES,
            sources: [Source::Api, Source::Dashboard, Source::Import, Source::Unsubscribe].map(Source::as_str),
            comparisons: COMPARISONS,
        }
    }

    fn action(&self) -> String {
        match &self.id {
            Some(id) => format!("/ui/webhooks/{id}/edit"),
            None => "/ui/webhooks/new".into(),
        }
    }

    fn has_event(&self, name: &str) -> bool {
        self.values.events.iter().any(|e| e == name)
    }

    fn has_source(&self, name: &str) -> bool {
        self.values.ignore_sources.iter().any(|e| e == name)
    }

    fn has_signature(&self, name: &str) -> bool {
        self.values.signatures.iter().any(|e| e == name)
    }

    fn collection_label(&self, collection: &Collection) -> String {
        format!(
            "{} / {}",
            self.scopes.database_name(&collection.database_id),
            collection.name
        )
    }
}

pub async fn new_form(session: AccountSession, State(state): State<AppState>) -> UiResult {
    let scopes = Scopes::load(&state, &session.account_id).await?;
    Ok(render(&FormPage::new(
        &session,
        None,
        FormValues::defaults(),
        Errors::default(),
        scopes,
    )))
}

pub async fn edit_form(session: AccountSession, State(state): State<AppState>, Path(id): Path<String>) -> UiResult {
    let webhook = find(&state, &session.account_id, &id).await?;
    let scopes = Scopes::load(&state, &session.account_id).await?;
    let values = FormValues::of(&webhook);
    Ok(render(&FormPage::new(
        &session,
        Some(id),
        values,
        Errors::default(),
        scopes,
    )))
}

/// "Build condition" writes the rows' CEL into the raw box and shows the form again;
/// "Save" stores through the API's rules.
async fn submit(state: &AppState, session: AccountSession, form: FormData, id: Option<String>) -> UiResult {
    let account = session.account_id.clone();
    let scopes = Scopes::load(state, &account).await?;
    let mut values = FormValues::posted(&form);
    let refused = |values, errors: Vec<FieldError>, scopes| {
        let page = FormPage::new(&session, id.clone(), values, Errors(errors), scopes);
        Ok(render_with(StatusCode::UNPROCESSABLE_ENTITY, &page))
    };
    if form.get("action") == Some("build") {
        let (database_id, collection_id) = values.scope_ids();
        let fields = scopes.fields(database_id.unwrap_or_default(), collection_id.unwrap_or_default());
        return match condition::build(&values.rows, values.any, &fields) {
            Ok(expression) => {
                values.condition = expression;
                let page = FormPage::new(&session, id.clone(), values, Errors::default(), scopes);
                Ok(render(&page))
            }
            Err(errors) => refused(values, errors, scopes),
        };
    }
    let json = match values.settings_json(&scopes) {
        Ok(json) => json,
        Err(e) => return refused(values, e.errors, scopes),
    };
    let saved = match &id {
        None => match decode_json(&serde_json::to_vec(&json).map_err(|e| ApiError::Internal(e.to_string()))?) {
            Ok(settings) => create_webhook(state, &account, settings).await.map(|(w, _)| w),
            Err(e) => Err(e),
        },
        Some(id) => update_webhook(state, &account, id, json).await,
    };
    match saved {
        Ok(webhook) => Ok(see_other(&format!("/ui/webhooks/{}", webhook.id))),
        Err(e) => refused(values, Errors::from_refusal(e)?.0, scopes),
    }
}

pub async fn create(State(state): State<AppState>, posted: Posted<AccountSession>) -> UiResult {
    submit(&state, posted.session, posted.form, None).await
}

pub async fn update(State(state): State<AppState>, Path(id): Path<String>, posted: Posted<AccountSession>) -> UiResult {
    find(&state, &posted.session.account_id, &id).await?;
    submit(&state, posted.session, posted.form, Some(id)).await
}

pub async fn delete(State(state): State<AppState>, Path(id): Path<String>, posted: Posted<AccountSession>) -> UiResult {
    delete_webhook(&state, &posted.session.account_id, &id).await?;
    Ok(see_other("/ui/webhooks"))
}
