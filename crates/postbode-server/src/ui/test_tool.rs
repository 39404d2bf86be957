//! The test tool: post data typed as key/value rows or a raw body, sent at once as one
//! real, signed call (`routes::checks::send_test`, as `POST /v1/webhooks/{id}/test`),
//! with the receiver's answer and the exact request on the page.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use postbode_core::probe::TestReport;
use postbode_core::webhook::Webhook;
use serde_json::{Map, Value};

use super::form::{Errors, FormData};
use super::page::{Chrome, UiResult, render, render_with};
use super::session::{AccountSession, Posted};
use crate::problem::ApiError;
use crate::routes::checks::{TestRequest, send_test};
use crate::routes::webhooks::find;
use crate::state::AppState;

const ROWS: usize = 4;

#[derive(Template)]
#[template(path = "test_tool.html")]
struct TestPage {
    chrome: Chrome,
    webhook: Webhook,
    event_type: String,
    rows: Vec<(String, String)>,
    raw: String,
    report: Option<TestReport>,
    /// Why nothing was sent (not verified yet).
    refused: Option<String>,
    errors: Errors,
}

impl TestPage {
    fn new(session: &AccountSession, webhook: Webhook) -> Self {
        Self {
            chrome: session.chrome(format!("Test {}", webhook.settings.url), "webhooks"),
            webhook,
            event_type: "test".into(),
            rows: vec![(String::new(), String::new()); ROWS],
            raw: String::new(),
            report: None,
            refused: None,
            errors: Errors::default(),
        }
    }

    fn succeeded(&self) -> bool {
        self.report
            .as_ref()
            .and_then(|r| r.status_code)
            .is_some_and(|c| (200..300).contains(&c))
    }
}

pub async fn form(session: AccountSession, State(state): State<AppState>, Path(id): Path<String>) -> UiResult {
    let webhook = find(&state, &session.account_id, &id).await?;
    Ok(render(&TestPage::new(&session, webhook)))
}

/// Key/value rows become the event's `data` (values as text); a raw body wins when
/// given.
fn request(form: &FormData) -> (TestRequest, Vec<(String, String)>) {
    let keys = form.all("key");
    let values = form.all("value");
    let mut rows: Vec<(String, String)> = keys
        .into_iter()
        .enumerate()
        .map(|(i, key)| (key, values.get(i).cloned().unwrap_or_default()))
        .collect();
    let data: Map<String, Value> = rows
        .iter()
        .filter(|(key, _)| !key.trim().is_empty())
        .map(|(key, value)| (key.trim().to_owned(), Value::String(value.clone())))
        .collect();
    rows.retain(|(key, _)| !key.trim().is_empty());
    while rows.len() < ROWS {
        rows.push((String::new(), String::new()));
    }
    let raw = form.text("raw");
    let event_type = form.text("type");
    let request = TestRequest {
        event_type: Some(event_type.trim().to_owned()).filter(|t| !t.is_empty()),
        data: raw.trim().is_empty().then_some(Value::Object(data)),
        body: (!raw.trim().is_empty()).then_some(raw),
    };
    (request, rows)
}

pub async fn send(State(state): State<AppState>, Path(id): Path<String>, posted: Posted<AccountSession>) -> UiResult {
    let session = posted.session;
    let webhook = find(&state, &session.account_id, &id).await?;
    let (request, rows) = request(&posted.form);
    let mut page = TestPage::new(&session, webhook.clone());
    page.event_type = posted.form.text("type");
    page.raw = posted.form.text("raw");
    page.rows = rows;
    match send_test(&state, &session.account_id, &webhook, request).await {
        Ok(report) => {
            page.report = Some(report);
            Ok(render(&page))
        }
        Err(ApiError::Conflict(why)) => {
            page.refused = Some(why);
            Ok(render_with(StatusCode::CONFLICT, &page))
        }
        Err(e) => {
            page.errors = Errors::from_refusal(e)?;
            Ok(render_with(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}
