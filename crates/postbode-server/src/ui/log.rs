//! The delivery log: a webhook's deliveries newest first, each row saying what it is
//! (event type and id), how it went (status, attempts, the last answer) and what comes
//! next (the next attempt, or what holds it back). Filters combine with a search by
//! delivery id, event id or idempotency key; the total counts what the filter selects
//! (up to `COUNT_CAP`); pages go both ways; the list refreshes itself in place. Also
//! "Recover failed since ..." and the export of the attempts the filter's range selects.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use chrono::{DateTime, NaiveDateTime, Utc};
use postbode_core::page::PageRequest;
use postbode_core::webhook::{VerificationStatus, Webhook};
use postbode_store::{Attempt, AttemptFilter, AttemptQuery, Delivery, DeliveryQuery, DeliveryStatus};
use serde::Deserialize;

use super::flash::Flash;
use super::form::Errors;
use super::page::{Chrome, CopyId, Time, UiError, UiResult, render_with, when};
use super::session::{AccountSession, Posted};
use super::webhooks::attempt_result;
use crate::problem::ApiError;
use crate::routes::webhooks::{ExportFormat, export_attempts, find, recover_failed};
use crate::state::AppState;

const PAGE_SIZE: u32 = 50;
/// A filter's total is counted over at most this many deliveries (the newest), and a
/// filtered page looks through at most this many, so a webhook with millions costs no
/// more to show than one with this many.
const COUNT_CAP: u64 = 10_000;
const SCAN: u32 = 10_000;
const STATUSES: [&str; 4] = ["pending", "delivered", "failed", "skipped"];

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
    /// A delivery id, event id or idempotency key.
    #[serde(default)]
    q: String,
    /// Older than this delivery.
    cursor: Option<String>,
    /// Newer than this delivery.
    newer: Option<String>,
}

impl LogFilter {
    /// The query string of the filter (without paging), for links that keep it.
    fn query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("status", &self.status),
            ("event_type", &self.event_type),
            ("since", &self.since),
            ("until", &self.until),
            ("q", &self.q),
        ] {
            if !value.trim().is_empty() {
                query.append_pair(name, value.trim());
            }
        }
        query.finish()
    }

    fn is_filtered(&self) -> bool {
        !self.query().is_empty()
    }
}

/// A `datetime-local` value (or RFC 3339) as UTC; errors name `field`.
pub(super) fn moment(field: &str, text: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
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

/// One delivery as the log shows it.
pub struct Row {
    pub delivery: Delivery,
    pub event_type: String,
    pub created: Time,
    /// The last attempt's result, or the last status code, or nothing yet.
    pub last: String,
    pub last_tone: &'static str,
    /// For a pending delivery: when it goes, or what holds it.
    pub next: String,
}

impl Row {
    fn event_id(&self) -> CopyId<'_> {
        CopyId(&self.delivery.event_id)
    }
}

/// What holds a pending delivery of `webhook` back at `now`, or when it goes. The same
/// words on the log and on the delivery's page.
pub fn next_step(state: &AppState, webhook: &Webhook, delivery: &Delivery, now: DateTime<Utc>) -> String {
    if delivery.status != DeliveryStatus::Pending {
        return String::new();
    }
    if !webhook.settings.enabled {
        return "held: the webhook is disabled; it goes when the webhook is enabled".into();
    }
    if state.require_verification && webhook.verification.status != VerificationStatus::Verified {
        return "held until the URL is verified".into();
    }
    let due = delivery.next_attempt_at.unwrap_or(now).max(now);
    let circuit = state.engine.webhook(&webhook.id).and_then(|r| match r.circuit {
        postbode_core::runtime::Circuit::Open { until, .. } => Some(until),
        _ => None,
    });
    match circuit.or(webhook.paused_until).filter(|until| *until > due) {
        Some(until) => format!("held by the circuit until {}", when(until)),
        None if due <= now => "next attempt: now".into(),
        None => format!("next attempt at {}", when(due)),
    }
}

#[derive(Template)]
#[template(path = "log.html")]
struct LogPage {
    chrome: Chrome,
    webhook: Webhook,
    rows: Vec<Row>,
    filter: LogFilter,
    errors: Errors,
    /// How many deliveries the filter selects, in words.
    total: String,
    older: Option<String>,
    newer: Option<String>,
    /// The page looked through `SCAN` deliveries and found fewer matches than it holds.
    partial: bool,
    statuses: [&'static str; 4],
    /// The export's file name (without extension) and query, for the current filter.
    export: (String, String),
    /// What "Resend this filter's deliveries" would resend (counted like the total);
    /// `None` under a search, which names single deliveries.
    replay: Option<(u64, bool)>,
}

impl LogPage {
    fn filter_query(&self) -> String {
        self.filter.query()
    }

    /// How many deliveries a replay of the filter resends, in words.
    fn replay_words(&self) -> String {
        match self.replay {
            Some((1, true)) => "1 delivery".to_owned(),
            Some((n, true)) => format!("{n} deliveries"),
            Some((n, false)) => format!("more than {n} deliveries"),
            None => String::new(),
        }
    }

    /// The page's own address, which the live refresh asks again.
    fn this_page(&self) -> String {
        let mut query = self.filter.query();
        for (name, value) in [("cursor", &self.filter.cursor), ("newer", &self.filter.newer)] {
            if let Some(value) = value {
                if !query.is_empty() {
                    query.push('&');
                }
                query.push_str(name);
                query.push('=');
                query.push_str(&url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>());
            }
        }
        format!("/ui/webhooks/{}/log?{query}", self.webhook.id)
    }
}

/// The total in words: exact, or of the newest `COUNT_CAP` deliveries.
fn total((count, complete): (u64, bool), filtered: bool) -> String {
    let deliveries = |n: u64| {
        if n == 1 {
            "1 delivery".to_owned()
        } else {
            format!("{n} deliveries")
        }
    };
    let verb = if count == 1 { "matches" } else { "match" };
    match (complete, filtered) {
        (true, true) => format!("{} {verb}", deliveries(count)),
        (true, false) if count == 0 => "No deliveries yet".to_owned(),
        (true, false) => format!("{} in the log", deliveries(count)),
        (false, true) => format!(
            "{} of the newest {COUNT_CAP} {verb} (choose a time range to count further back)",
            deliveries(count)
        ),
        (false, false) => format!("More than {COUNT_CAP} deliveries in the log"),
    }
}

fn last_answer(delivery: &Delivery, attempt: Option<&Attempt>) -> (String, &'static str) {
    match attempt {
        Some(a) => (attempt_result(a), if a.succeeded() { "ok" } else { "bad" }),
        None => match delivery.last_status_code {
            Some(code) => (
                format!("HTTP {code}"),
                if (200..300).contains(&code) { "ok" } else { "bad" },
            ),
            None => ("no attempt yet".to_owned(), ""),
        },
    }
}

/// The export of the attempts the filter's range and status select: its file name
/// (which says what is in it) and query. Event type and search do not apply to attempts.
fn export_of(webhook_id: &str, filter: &LogFilter) -> (String, String) {
    let status = match filter.status.as_str() {
        "delivered" => Some("succeeded"),
        "failed" | "pending" => Some("failed"),
        _ => None,
    };
    let mut name = format!("attempts-{webhook_id}");
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(status) = status {
        name.push_str(&format!("-{status}"));
        query.append_pair("status", status);
    }
    for (word, field, value) in [("from", "since", &filter.since), ("until", "until", &filter.until)] {
        let value = value.trim();
        if !value.is_empty() {
            let safe: String = value
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
                .collect();
            name.push_str(&format!("-{word}-{safe}"));
            query.append_pair(field, value);
        }
    }
    (name, query.finish())
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
    let text = |value: &str| Some(value.trim().to_owned()).filter(|t| !t.is_empty());
    let query = DeliveryQuery {
        webhook_id: webhook.id.clone(),
        status,
        event_type: text(&filter.event_type),
        since,
        until,
        search: text(&filter.q),
        newer_than: filter.newer.clone(),
        scan: Some(SCAN),
        page: PageRequest {
            after: filter.cursor.clone(),
            limit: PAGE_SIZE,
        },
    };
    let account = &session.account_id;
    let (listed, count) = if errors.is_empty() {
        let listed = state.store.list_deliveries(account, &query).await?;
        let count = state.store.count_deliveries(account, &query, COUNT_CAP).await?;
        (listed, count)
    } else {
        (
            postbode_core::page::Page::from_rows(Vec::new(), PAGE_SIZE, |d: &Delivery| &d.id),
            (0, true),
        )
    };
    let delivery_ids: Vec<&str> = listed.data.iter().map(|d| d.id.as_str()).collect();
    let event_ids: Vec<&str> = listed.data.iter().map(|d| d.event_id.as_str()).collect();
    let mut latest = state.store.latest_delivery_attempts(account, &delivery_ids).await?;
    let mut types = state.store.event_types(account, &event_ids).await?;
    let (older, newer) = paging(&filter, &listed.data, listed.next_cursor);
    let now = state.clock.now();
    let rows: Vec<Row> = listed
        .data
        .into_iter()
        .map(|delivery| {
            let (last, last_tone) = last_answer(&delivery, latest.remove(&delivery.id).as_ref());
            Row {
                event_type: types.remove(&delivery.event_id).unwrap_or_default(),
                created: Time(delivery.created_at),
                next: next_step(state, &webhook, &delivery, now),
                last,
                last_tone,
                delivery,
            }
        })
        .collect();
    let filter_search_free = query.search.is_none();
    let errors_empty = errors.is_empty();
    let partial = query.search.is_none()
        && (query.status.is_some() || query.event_type.is_some())
        && older.is_some()
        && rows.len() < PAGE_SIZE as usize;
    Ok(LogPage {
        partial,
        chrome: session.chrome(format!("Log of {}", webhook.settings.url), "webhooks"),
        export: export_of(&webhook.id, &filter),
        webhook,
        rows,
        total: total(count, filter.is_filtered()),
        filter,
        errors: Errors(errors),
        older,
        newer,
        statuses: STATUSES,
        replay: (filter_search_free && errors_empty).then_some(count),
    })
}

/// The cursors of the links to older and newer deliveries.
fn paging(filter: &LogFilter, shown: &[Delivery], next: Option<String>) -> (Option<String>, Option<String>) {
    let first = shown.first().map(|d| d.id.clone());
    let last = shown.last().map(|d| d.id.clone());
    if filter.newer.is_some() {
        // Came from older deliveries; `next` continues towards newer ones.
        (last, next.and(first))
    } else {
        (next, filter.cursor.as_ref().and(first))
    }
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
    posted
        .once(async {
            let session = &posted.session;
            let outcome = match moment("recover_since", &posted.form.text("recover_since")) {
                Ok(Some(since)) => recover_failed(&state, &session.account_id, &id, since, None).await,
                Ok(None) => Err(ApiError::field("recover_since", "choose the time to recover from")),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(count) => {
                    let text = match count {
                        0 => "No failed delivery since then: nothing to send again.".to_owned(),
                        1 => "1 failed delivery goes out again.".to_owned(),
                        n => format!("{n} failed deliveries go out again."),
                    };
                    posted.redirect(&state, &format!("/ui/webhooks/{id}/log"), Flash::ok(text))
                }
                Err(ApiError::Invalid(v)) => {
                    let mut page = log_page(&state, session, &id, LogFilter::default()).await?;
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
        })
        .await
}

#[derive(Deserialize, Default)]
pub struct ExportFilter {
    status: Option<AttemptFilter>,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
}

/// `/ui/webhooks/{id}/export/<name>.csv` or `.jsonl`: the attempts of the filter's
/// range and status, in a file named after them.
pub async fn export(
    session: AccountSession,
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
    Query(filter): Query<ExportFilter>,
) -> UiResult {
    let format = if file.ends_with(".csv") {
        ExportFormat::Csv
    } else if file.ends_with(".jsonl") {
        ExportFormat::Jsonl
    } else {
        return Err(UiError::Api(ApiError::NotFound("export")));
    };
    let webhook = find(&state, &session.account_id, &id).await?;
    let query = AttemptQuery {
        webhook_id: webhook.id,
        status: filter.status,
        since: moment("since", &filter.since)?,
        until: moment("until", &filter.until)?,
        page: PageRequest::default(),
    };
    let mut response = export_attempts(state, session.account_id, query, format);
    let safe: String = file
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
