//! The webhook form: every setting of the API, turned into the same JSON the API takes
//! and sent through the same functions (`routes::webhooks::create_webhook` /
//! `update_webhook`), so a refusal names the same fields, shown beside their inputs in
//! the form's words (`form_words`), all at once: what the form itself cannot read and
//! what the API's rules refuse. The condition editor's rows become CEL here
//! (`condition::build`), and Build asks before it replaces CEL that was typed; the part
//! that depends on the scope is `scope_fields`.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use postbode_core::FieldError;
use postbode_core::event::{MAIL_TYPES, PROFILE_TYPES};
use postbode_core::webhook::{MAX_BATCH_EVENTS, MAX_BATCH_WAIT_MS, Source, Webhook};
use postbode_store::Collection;
use serde_json::{Map, Value, json};

use super::condition::{self, Row};
use super::flash::Flash;
use super::form::{Errors, FormData};
use super::form_words;
use super::page::{Chrome, UiResult, render, render_with};
use super::scope_fields::ScopePart;
use super::session::{AccountSession, Posted};
use super::webhooks::{Scopes, header_lines};
use crate::decode::decode_value;
use crate::problem::ApiError;
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
    /// Only `update`s that change one of these fields fire.
    pub fields_changed: Vec<String>,
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
            fields_changed: Vec::new(),
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
            fields_changed: s.fields_changed.clone(),
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

    pub fn posted(form: &FormData) -> Self {
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
            fields_changed: form.all("fields_changed"),
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

    pub fn scope_ids(&self) -> (Option<&str>, Option<&str>) {
        match self.scope.split_once(':') {
            Some(("db", id)) => (Some(id), None),
            Some(("col", id)) => (None, Some(id)),
            _ => (None, None),
        }
    }

    /// Every event type the form names, in the order sent: the ticked ones, then the
    /// custom ones (separated by commas or lines; a space inside one is kept, and
    /// refused by the API's rules, rather than making two types of it).
    fn event_types(&self) -> Vec<String> {
        let mut events: Vec<String> = self.events.clone();
        events.extend(
            self.custom_events
                .split([',', '\n'])
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned),
        );
        events
    }

    /// The JSON the API takes for these values, and what the form itself cannot read (a
    /// header line without `:`, a number that is not one), named like the API's fields.
    fn settings_json(&self, scopes: &Scopes) -> (Map<String, Value>, Vec<FieldError>) {
        let mut errors = Vec::new();
        let events = self.event_types();
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
            "fields_changed": self.fields_changed,
            "signatures": self.signatures,
            "headers": headers,
            "max_concurrency": max_concurrency,
            "rate_limit": rate_limit,
            "batch": batch,
            "ordering": ordering,
            "enabled": self.enabled,
        });
        match json {
            Value::Object(map) => (map, errors),
            _ => (Map::new(), errors),
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
    /// The fields `update`s may be limited to and the condition editor (the scope's).
    part: ScopePart,
    mail_types: &'static [&'static str],
    profile_types: &'static [&'static str],
    sources: [&'static str; 4],
    /// The limits the shared validation holds batches to, for the labels.
    max_batch_events: u32,
    max_batch_wait_ms: u32,
    /// Build made this expression while the box held other CEL: replace it?
    replace: Option<String>,
    /// A note on what the last button did without saving.
    note: Option<String>,
}

impl FormPage {
    fn new(session: &AccountSession, id: Option<String>, values: FormValues, errors: Errors, scopes: Scopes) -> Self {
        let (database_id, collection_id) = values.scope_ids();
        let scoped = database_id.is_some() || collection_id.is_some();
        let fields = scopes.fields(database_id.unwrap_or_default(), collection_id.unwrap_or_default());
        let part = ScopePart::new(
            &fields,
            scoped,
            &values.fields_changed,
            &values.rows,
            values.any,
            &errors,
        );
        let title = if id.is_some() { "Edit webhook" } else { "New webhook" };
        Self {
            chrome: session.chrome(title, "webhooks"),
            id,
            values,
            errors,
            part,
            scopes,
            mail_types: MAIL_TYPES,
            profile_types: PROFILE_TYPES,
            sources: [Source::Api, Source::Dashboard, Source::Import, Source::Unsubscribe].map(Source::as_str),
            max_batch_events: MAX_BATCH_EVENTS,
            max_batch_wait_ms: MAX_BATCH_WAIT_MS,
            replace: None,
            note: None,
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

    /// An error's input label and id, for the summary.
    fn label(&self, field: &str) -> (String, String) {
        form_words::label(field)
    }

    fn invalid(&self, field: &str) -> bool {
        !self.errors.on(field).is_empty()
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

/// The API's refusals of these settings without saving anything: its rules on the
/// settings, and `fields_changed` against the scope's fields. Fields the form already
/// refused are left to the form's words.
fn api_refusals(state: &AppState, json: &Map<String, Value>, scopes: &Scopes, known: &[FieldError]) -> Vec<FieldError> {
    let refused = match decode_value::<postbode_core::webhook::WebhookSettings>(&Value::Object(json.clone())) {
        Err(ApiError::Invalid(v)) => v.errors,
        Err(_) => Vec::new(),
        Ok(mut settings) => {
            let mut errors = match settings.validate(state.allow_private_targets) {
                Err(v) => v.errors,
                Ok(()) => Vec::new(),
            };
            let scoped = settings.database_id.is_some() || settings.collection_id.is_some();
            if scoped {
                let fields = scopes.fields(
                    settings.database_id.as_deref().unwrap_or_default(),
                    settings.collection_id.as_deref().unwrap_or_default(),
                );
                if let Err(v) = settings.check_fields_of(&fields) {
                    errors.extend(v.errors);
                }
            }
            errors
        }
    };
    let head = |field: &str| field.split(['.', '[']).next().unwrap_or_default().to_owned();
    refused
        .into_iter()
        .filter(|e| !known.iter().any(|k| head(&k.field) == head(&e.field)))
        .collect()
}

/// "Build condition" writes the rows' CEL into the raw box (after asking, when the box
/// holds other CEL); "Clear" empties `fields_changed`; "Save" stores through the API's
/// rules, or shows every refusal at once.
async fn submit(state: &AppState, posted: &Posted<AccountSession>, id: Option<String>) -> UiResult {
    let session = &posted.session;
    let form = &posted.form;
    let scopes = Scopes::load(state, &session.account_id).await?;
    let mut values = FormValues::posted(form);
    let shown = |values: FormValues, errors: Vec<FieldError>, scopes| {
        let events = values.event_types();
        let words = form_words::in_form_words(errors, &events, &values.fields_changed);
        FormPage::new(session, id.clone(), values, Errors(words), scopes)
    };
    match form.get("action") {
        Some("build" | "build_replace") => {
            let (database_id, collection_id) = values.scope_ids();
            let fields = scopes.fields(database_id.unwrap_or_default(), collection_id.unwrap_or_default());
            return match condition::build(&values.rows, values.any, &fields) {
                Ok(expression) => {
                    let typed = values.condition.trim().to_owned();
                    let ask = form.get("action") == Some("build") && !typed.is_empty() && typed != expression;
                    if !ask {
                        values.condition = expression.clone();
                    }
                    let mut page = shown(values, Vec::new(), scopes);
                    page.replace = ask.then_some(expression);
                    Ok(render(&page))
                }
                Err(errors) => Ok(render_with(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &shown(values, errors, scopes),
                )),
            };
        }
        Some("keep") => return Ok(render(&shown(values, Vec::new(), scopes))),
        Some("clear_fields_changed") => {
            values.fields_changed.clear();
            let mut page = shown(values, Vec::new(), scopes);
            page.note = Some("Cleared: every update fires again. Save to keep it.".to_owned());
            return Ok(render(&page));
        }
        _ => {}
    }
    let (json, mut errors) = values.settings_json(&scopes);
    if !errors.is_empty() {
        let more = api_refusals(state, &json, &scopes, &errors);
        errors.extend(more);
        return Ok(render_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            &shown(values, errors, scopes),
        ));
    }
    let saved = match &id {
        None => match decode_value(&Value::Object(json)) {
            Ok(settings) => create_webhook(state, &session.account_id, settings)
                .await
                .map(|(w, _)| (w, true)),
            Err(e) => Err(e),
        },
        Some(id) => update_webhook(state, &session.account_id, id, json)
            .await
            .map(|w| (w, false)),
    };
    match saved {
        Ok((webhook, created)) => {
            let flash = if created {
                Flash::ok("Created. Next: prove you own the URL (Verification), then send a test.")
            } else {
                Flash::ok("Saved.")
            };
            posted.redirect(state, &format!("/ui/webhooks/{}", webhook.id), flash)
        }
        Err(e) => {
            let errors = Errors::from_refusal(e)?.0;
            Ok(render_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                &shown(values, errors, scopes),
            ))
        }
    }
}

pub async fn create(State(state): State<AppState>, posted: Posted<AccountSession>) -> UiResult {
    posted.once(submit(&state, &posted, None)).await
}

pub async fn update(State(state): State<AppState>, Path(id): Path<String>, posted: Posted<AccountSession>) -> UiResult {
    find(&state, &posted.session.account_id, &id).await?;
    posted.once(submit(&state, &posted, Some(id))).await
}
