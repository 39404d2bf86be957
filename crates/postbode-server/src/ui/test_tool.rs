//! The test tool: post data typed as key/value rows or a raw body, sent at once as one
//! real, signed call (`routes::checks::send_test`, as `POST /v1/webhooks/{id}/test`),
//! with the receiver's answer and the exact request on the page. A refusal shows in
//! the same place, its field errors beside their inputs; nothing typed is dropped
//! silently, and a raw body in another format than the webhook's goes only when asked.
//! The form acts once: a reload or a double click shows the same answer again.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use postbode_core::FieldError;
use postbode_core::probe::TestReport;
use postbode_core::render::Format;
use postbode_core::webhook::Webhook;
use serde_json::{Map, Value};

use super::form::{Errors, FormData};
use super::page::{Chrome, UiResult, duration, render, render_with};
use super::session::{AccountSession, Posted};
use crate::problem::ApiError;
use crate::routes::checks::{TestRequest, send_test};
use crate::routes::webhooks::find;
use crate::state::AppState;

const ROWS: usize = 4;

/// Why nothing was sent.
enum Refusal {
    /// The URL is not verified yet (the API's 409).
    Unverified,
    /// Input the API or the form refused; the errors stand beside their inputs.
    Invalid,
}

#[derive(Template)]
#[template(path = "test_tool.html")]
struct TestPage {
    chrome: Chrome,
    webhook: Webhook,
    event_type: String,
    rows: Vec<(String, String)>,
    raw: String,
    /// Send a raw body that does not look like the webhook's format anyway.
    raw_anyway: bool,
    report: Option<TestReport>,
    refused: Option<Refusal>,
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
            raw_anyway: false,
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

    fn took(&self, ms: &u64) -> String {
        duration(*ms)
    }

    fn content_type(&self) -> &'static str {
        self.webhook.settings.format.content_type()
    }

    fn unverified(&self) -> bool {
        matches!(self.refused, Some(Refusal::Unverified))
    }

    fn invalid(&self) -> bool {
        matches!(self.refused, Some(Refusal::Invalid))
    }

    fn mismatch(&self) -> bool {
        self.errors.0.iter().any(|e| e.field == "raw_anyway")
    }
}

pub async fn form(session: AccountSession, State(state): State<AppState>, Path(id): Path<String>) -> UiResult {
    let webhook = find(&state, &session.account_id, &id).await?;
    Ok(render(&TestPage::new(&session, webhook)))
}

/// What a raw body looks like: `JSON`, `XML` or `form`.
fn looks_like(body: &str) -> &'static str {
    let start = body.trim_start();
    if (start.starts_with('{') || start.starts_with('[')) && serde_json::from_str::<Value>(body).is_ok() {
        "JSON"
    } else if start.starts_with('<') {
        "XML"
    } else {
        "form"
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Json => "JSON",
        Format::Xml => "XML",
        Format::Form => "form",
    }
}

/// The rows as typed (blank ones kept out, then padded), and what the form itself
/// refuses: fields and a raw body together, a raw body in another format unless asked.
fn read(form: &FormData, format: Format) -> (TestRequest, Vec<(String, String)>, Vec<FieldError>) {
    let keys = form.all("key");
    let values = form.all("value");
    let mut rows: Vec<(String, String)> = keys
        .into_iter()
        .enumerate()
        .map(|(i, key)| (key, values.get(i).cloned().unwrap_or_default()))
        .filter(|(key, value)| !key.trim().is_empty() || !value.trim().is_empty())
        .collect();
    let data: Map<String, Value> = rows
        .iter()
        .filter(|(key, _)| !key.trim().is_empty())
        .map(|(key, value)| (key.trim().to_owned(), Value::String(value.clone())))
        .collect();
    let mut errors = Vec::new();
    if rows.iter().any(|(key, _)| key.trim().is_empty()) {
        errors.push(FieldError::new("data", "each value needs a name"));
    }
    let raw = form.text("raw");
    let has_raw = !raw.trim().is_empty();
    if has_raw && !rows.is_empty() {
        errors.push(FieldError::new(
            "body",
            "fill in either the fields or a raw body, not both: empty one of them",
        ));
    } else if has_raw && !form.checked("raw_anyway") {
        let (seen, wanted) = (looks_like(&raw), format_name(format));
        if seen != wanted {
            errors.push(FieldError::new(
                "body",
                format!(
                    "this body looks like {seen}, but this webhook sends {wanted} ({}): write it as {wanted}, \
                     or tick \"send it as typed\" below",
                    format.content_type()
                ),
            ));
            errors.push(FieldError::new("raw_anyway", "send it as typed"));
        }
    }
    while rows.len() < ROWS {
        rows.push((String::new(), String::new()));
    }
    let event_type = form.text("type");
    let request = TestRequest {
        event_type: Some(event_type.trim().to_owned()).filter(|t| !t.is_empty()),
        data: (!has_raw).then_some(Value::Object(data)),
        body: has_raw.then_some(raw),
    };
    (request, rows, errors)
}

pub async fn send(State(state): State<AppState>, Path(id): Path<String>, posted: Posted<AccountSession>) -> UiResult {
    posted
        .once(async {
            let session = &posted.session;
            let webhook = find(&state, &session.account_id, &id).await?;
            let (request, rows, refused) = read(&posted.form, webhook.settings.format);
            let mut page = TestPage::new(session, webhook.clone());
            page.event_type = posted.form.text("type");
            page.raw = posted.form.text("raw");
            page.raw_anyway = posted.form.checked("raw_anyway");
            page.rows = rows;
            if !refused.is_empty() {
                page.errors = Errors(refused);
                page.refused = Some(Refusal::Invalid);
                return Ok(render_with(StatusCode::UNPROCESSABLE_ENTITY, &page));
            }
            match send_test(&state, &session.account_id, &webhook, request).await {
                Ok(report) => {
                    page.report = Some(report);
                    Ok(render(&page))
                }
                Err(ApiError::Conflict(_)) => {
                    page.refused = Some(Refusal::Unverified);
                    Ok(render_with(StatusCode::CONFLICT, &page))
                }
                Err(e) => {
                    page.errors = Errors::from_refusal(e)?;
                    page.refused = Some(Refusal::Invalid);
                    Ok(render_with(StatusCode::UNPROCESSABLE_ENTITY, &page))
                }
            }
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_body_is_told_apart_by_its_look() {
        assert_eq!(looks_like(" {\"a\": 1}"), "JSON");
        assert_eq!(looks_like("<event/>"), "XML");
        assert_eq!(looks_like("a=1&b=2"), "form");
        assert_eq!(looks_like("{not json"), "form");
    }

    #[test]
    fn fields_and_a_raw_body_together_are_refused_not_half_dropped() {
        let form = FormData::parse(b"type=t&key=order&value=42&key=&value=&raw=%7B%7D");
        let (_, rows, errors) = read(&form, Format::Json);
        assert_eq!(rows[0], ("order".to_owned(), "42".to_owned()));
        assert_eq!(errors[0].field, "body");
        let form = FormData::parse(b"raw=%7B%22a%22%3A1%7D");
        let (_, _, errors) = read(&form, Format::Xml);
        assert!(errors[0].message.contains("looks like JSON"), "{errors:?}");
        let anyway = FormData::parse(b"raw=%7B%22a%22%3A1%7D&raw_anyway=on");
        let (request, _, errors) = read(&anyway, Format::Xml);
        assert!(errors.is_empty());
        assert_eq!(request.body.as_deref(), Some("{\"a\":1}"));
    }
}
