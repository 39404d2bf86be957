//! The webhook form: every setting of the API, turned into the same JSON the API takes
//! and sent through the same functions (`routes::webhooks::create_webhook` /
//! `update_webhook`), so a refusal names the same fields, shown beside their inputs.
//! The condition editor's rows become CEL here (`condition::build`).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use postbode_core::event::{MAIL_TYPES, PROFILE_TYPES};
use postbode_core::profile::Schema;
use postbode_core::webhook::{MAX_BATCH_EVENTS, MAX_BATCH_WAIT_MS, Source, Webhook};
use postbode_core::{FieldError, ValidationError};
use postbode_store::Collection;
use serde_json::{Map, Value, json};

use super::condition::{self, COMPARISONS, Row};
use super::form::{Errors, FormData};
use super::page::{Chrome, UiResult, render, render_with, see_other};
use super::session::{AccountSession, Posted};
use super::webhooks::{Scopes, header_lines};
use crate::decode::decode_value;
use crate::routes::webhooks::{create_webhook, find, update_webhook};
use crate::state::AppState;

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
    /// Batching is on; the two numbers are kept while it is off, so turning it on again
    /// offers them.
    pub batch: bool,
    pub batch_max_events: String,
    pub batch_max_wait_ms: String,
    /// `none` or `profile`.
    pub ordering: String,
    pub enabled: bool,
    pub rows: Vec<Row>,
    pub any: bool,
}

const ROWS_SHOWN: usize = 3;
/// What the batching inputs offer before a webhook has batched: a batch that a receiver
/// parses in well under a second, and a short wait so a trickle is not held back long.
const OFFERED_BATCH_EVENTS: u32 = 100;
const OFFERED_BATCH_WAIT_MS: u32 = 1_000;
const NO_ORDERING: &str = "none";

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
            batch: false,
            batch_max_events: OFFERED_BATCH_EVENTS.to_string(),
            batch_max_wait_ms: OFFERED_BATCH_WAIT_MS.to_string(),
            ordering: NO_ORDERING.into(),
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
            batch: s.batch.is_some(),
            batch_max_events: s.batch.map_or(OFFERED_BATCH_EVENTS, |b| b.max_events).to_string(),
            batch_max_wait_ms: s.batch.map_or(OFFERED_BATCH_WAIT_MS, |b| b.max_wait_ms).to_string(),
            ordering: s.ordering.map_or_else(|| NO_ORDERING.to_owned(), |o| text(json!(o))),
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
            batch: form.checked("batch"),
            batch_max_events: form.text("batch_max_events"),
            batch_max_wait_ms: form.text("batch_max_wait_ms"),
            ordering: form.text("ordering"),
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
        let batch = if self.batch {
            let mut number = |text: &str, field: &str, message: &str| match text.trim().parse::<u32>() {
                Ok(n) => n,
                Err(_) => {
                    errors.push(FieldError::new(field, message));
                    0
                }
            };
            let max_events = number(&self.batch_max_events, "batch.max_events", "a whole number");
            let max_wait_ms = number(
                &self.batch_max_wait_ms,
                "batch.max_wait_ms",
                "a whole number of milliseconds",
            );
            json!({ "max_events": max_events, "max_wait_ms": max_wait_ms })
        } else {
            // Sent as null, so an edit turns batching off (PATCH keeps what is left out).
            Value::Null
        };
        // The API has no "none": no ordering is null. Anything else goes to the API's
        // decoding, which names `ordering` when it is not a kind it knows.
        let ordering = match self.ordering.trim() {
            "" | NO_ORDERING => Value::Null,
            kind => json!(kind),
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
            "batch": batch,
            "ordering": ordering,
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
    /// The limits the shared validation holds batches to, for the labels.
    max_batch_events: u32,
    max_batch_wait_ms: u32,
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
            max_batch_events: MAX_BATCH_EVENTS,
            max_batch_wait_ms: MAX_BATCH_WAIT_MS,
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
        None => match decode_value(&serde_json::Value::Object(json)) {
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
