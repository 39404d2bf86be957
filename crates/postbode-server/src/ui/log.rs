//! The delivery log: a webhook's deliveries newest first with filters, a delivery's
//! page (the event body, every attempt), Resend, "Recover failed since ...", and the
//! export links, which stream through the API's own export (`export_attempts`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDateTime, Utc};
use postbode_core::page::PageRequest;
use postbode_core::webhook::{SignatureScheme, Webhook};
use postbode_store::{Attempt, AttemptQuery, Delivery, DeliveryQuery, DeliveryStatus, EventRecord};
use serde::Deserialize;

use super::form::Errors;
use super::page::{Chrome, UiError, UiResult, render, render_with, see_other, when, when_opt};
use super::session::{AccountSession, Posted};
use super::webhooks::attempt_result;
use crate::problem::ApiError;
use crate::routes::events::{find_delivery, resend_delivery};
use crate::routes::webhooks::{ExportFormat, export_attempts, find, recover_failed};
use crate::state::AppState;

const PAGE_SIZE: u32 = 50;

#[derive(Deserialize, Default)]
pub struct LogFilter {
    #[serde(default)]
    status: String,
    #[serde(default)]
    event_type: String,
    /// `YYYY-MM-DDTHH:MM` (a `datetime-local` input), UTC.
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    cursor: Option<String>,
}

/// A `datetime-local` value (or RFC 3339) as UTC; errors name `field`.
fn moment(field: &str, text: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|at| Some(at.and_utc()))
        .ok_or_else(|| ApiError::field(field, "a date and time as YYYY-MM-DDTHH:MM (UTC)"))
}

#[derive(Template)]
#[template(path = "log.html")]
struct LogPage {
    chrome: Chrome,
    webhook: Webhook,
    deliveries: Vec<Delivery>,
    filter: LogFilter,
    errors: Errors,
    next: Option<String>,
    /// A recover just done: how many deliveries go again.
    recovered: Option<u64>,
    statuses: [&'static str; 4],
}

impl LogPage {
    fn when(&self, at: &DateTime<Utc>) -> String {
        when(*at)
    }

    /// The query string of the current filter, for the next page's link.
    fn filter_query(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("status", &self.filter.status)
            .append_pair("event_type", &self.filter.event_type)
            .append_pair("since", &self.filter.since)
            .append_pair("until", &self.filter.until)
            .finish()
    }
}

async fn log_page(state: &AppState, session: &AccountSession, id: &str, filter: LogFilter) -> UiResult<LogPage> {
    let webhook = find(state, &session.account_id, id).await?;
    let mut errors = Vec::new();
    let mut read = |field: &str, text: &str| match moment(field, text) {
        Ok(at) => at,
        Err(ApiError::Invalid(v)) => {
            errors.extend(v.errors);
            None
        }
        Err(_) => None,
    };
    let since = read("since", &filter.since);
    let until = read("until", &filter.until);
    let status = match filter.status.as_str() {
        "" => None,
        text => {
            let parsed = DeliveryStatus::parse(text);
            if parsed.is_none() {
                errors.push(postbode_core::FieldError::new(
                    "status",
                    "pending, delivered, failed or skipped",
                ));
            }
            parsed
        }
    };
    let query = DeliveryQuery {
        webhook_id: webhook.id.clone(),
        status,
        event_type: Some(filter.event_type.trim().to_owned()).filter(|t| !t.is_empty()),
        since,
        until,
        page: PageRequest {
            after: filter.cursor.clone(),
            limit: PAGE_SIZE,
        },
    };
    let listed = if errors.is_empty() {
        state.store.list_deliveries(&session.account_id, &query).await?
    } else {
        postbode_core::page::Page {
            data: Vec::new(),
            next_cursor: None,
        }
    };
    Ok(LogPage {
        chrome: session.chrome(format!("Log of {}", webhook.settings.url), "webhooks"),
        webhook,
        deliveries: listed.data,
        filter,
        errors: Errors(errors),
        next: listed.next_cursor,
        recovered: None,
        statuses: ["pending", "delivered", "failed", "skipped"],
    })
}

pub async fn list(
    session: AccountSession,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(filter): Query<LogFilter>,
) -> UiResult {
    let page = log_page(&state, &session, &id, filter).await?;
    let status = if page.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render_with(status, &page))
}

/// "Recover failed since ...": every failed delivery created since then goes again.
pub async fn recover(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<AccountSession>,
) -> UiResult {
    let session = posted.session;
    let outcome = match moment("recover_since", &posted.form.text("recover_since")) {
        Ok(Some(since)) => recover_failed(&state, &session.account_id, &id, since, None).await,
        Ok(None) => Err(ApiError::field("recover_since", "choose the time to recover from")),
        Err(e) => Err(e),
    };
    let mut page = log_page(&state, &session, &id, LogFilter::default()).await?;
    match outcome {
        Ok(count) => {
            page.recovered = Some(count);
            Ok(render(&page))
        }
        Err(ApiError::Invalid(v)) => {
            page.errors = Errors(
                v.errors
                    .into_iter()
                    .map(|e| postbode_core::FieldError::new("recover_since", e.message))
                    .collect(),
            );
            Ok(render_with(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(other) => Err(other.into()),
    }
}

/// `/ui/webhooks/{id}/export/attempts.csv` or `attempts.jsonl`: the whole attempt log.
pub async fn export(
    session: AccountSession,
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
) -> UiResult {
    let format = match file.as_str() {
        "attempts.csv" => ExportFormat::Csv,
        "attempts.jsonl" => ExportFormat::Jsonl,
        _ => return Err(UiError::Api(ApiError::NotFound("export"))),
    };
    let webhook = find(&state, &session.account_id, &id).await?;
    let query = AttemptQuery {
        webhook_id: webhook.id,
        status: None,
        since: None,
        until: None,
        page: PageRequest::default(),
    };
    Ok(export_attempts(state, session.account_id, query, format))
}

#[derive(Template)]
#[template(path = "delivery.html")]
struct DeliveryPage {
    chrome: Chrome,
    delivery: Delivery,
    event: EventRecord,
    webhook: Webhook,
    attempts: Vec<Attempt>,
    /// The headers every call of this delivery carries (signature values differ per
    /// attempt and are not logged).
    headers: Vec<(String, String)>,
    resent: bool,
}

impl DeliveryPage {
    fn body(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.event.body)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| String::from_utf8_lossy(&self.event.body).into_owned())
    }

    fn when(&self, at: &DateTime<Utc>) -> String {
        when(*at)
    }

    fn next_attempt(&self) -> String {
        when_opt(self.delivery.next_attempt_at)
    }

    fn result(&self, attempt: &Attempt) -> String {
        attempt_result(attempt)
    }
}

/// What a call of this delivery carries besides its body.
fn call_headers(webhook: &Webhook, delivery: &Delivery, event_type: &str) -> Vec<(String, String)> {
    let signed = "(signed at send time)".to_owned();
    let mut headers: Vec<(String, String)> = webhook
        .settings
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    headers.push(("Content-Type".into(), webhook.settings.format.content_type().into()));
    headers.push(("X-Postbode-Delivery".into(), delivery.id.clone()));
    headers.push(("X-Postbode-Event".into(), event_type.to_owned()));
    for scheme in &webhook.settings.signatures {
        match scheme {
            SignatureScheme::StandardWebhooks => {
                headers.push(("webhook-id".into(), delivery.id.clone()));
                headers.push(("webhook-timestamp".into(), signed.clone()));
                headers.push(("webhook-signature".into(), signed.clone()));
            }
            SignatureScheme::HttpSignature => {
                headers.push(("Digest".into(), signed.clone()));
                headers.push(("Signature".into(), signed.clone()));
            }
            SignatureScheme::Rfc9421 => {
                headers.push(("Content-Digest".into(), signed.clone()));
                headers.push(("Signature-Input".into(), signed.clone()));
                headers.push(("Signature".into(), signed.clone()));
            }
        }
    }
    headers
}

async fn delivery_page(state: &AppState, session: &AccountSession, id: &str) -> UiResult<DeliveryPage> {
    let account = &session.account_id;
    let delivery = find_delivery(state, account, id).await?;
    let (event, _) = state
        .store
        .get_event(account, &delivery.event_id)
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    let webhook = find(state, account, &delivery.webhook_id).await?;
    let attempts = state.store.delivery_attempts(account, &delivery.id).await?;
    Ok(DeliveryPage {
        chrome: session.chrome(format!("Delivery {}", delivery.id), "webhooks"),
        headers: call_headers(&webhook, &delivery, &event.event_type),
        delivery,
        event,
        webhook,
        attempts,
        resent: false,
    })
}

#[derive(Deserialize)]
pub struct Resent {
    resent: Option<String>,
}

pub async fn delivery(
    session: AccountSession,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Resent>,
) -> UiResult {
    let mut page = delivery_page(&state, &session, &id).await?;
    page.resent = q.resent.is_some();
    Ok(render(&page))
}

pub async fn resend(State(state): State<AppState>, Path(id): Path<String>, posted: Posted<AccountSession>) -> UiResult {
    resend_delivery(&state, &posted.session.account_id, &id).await?;
    Ok(see_other(&format!("/ui/deliveries/{id}?resent=1")))
}
