//! What every dashboard page shares: the frame around it (`Chrome`), rendering, the
//! security headers, and errors shown as pages.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use postbode_core::FieldError;

use super::assets;
use crate::problem::ApiError;

/// Scripts only from this origin (htmx and the copy buttons), no inline script or style,
/// no framing, forms only to this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Who is signed in, for the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Nobody,
    Account,
    Operator,
}

/// The frame of a page: its title, the navigation, and the CSRF token its forms carry.
pub struct Chrome {
    pub title: String,
    pub who: Who,
    /// Which navigation entry is current.
    pub section: &'static str,
    pub csrf: String,
    pub css: &'static str,
    pub htmx: &'static str,
    pub copy_js: &'static str,
}

impl Chrome {
    pub fn new(title: impl Into<String>, who: Who, section: &'static str, csrf: &str) -> Self {
        Self {
            title: title.into(),
            who,
            section,
            csrf: csrf.to_owned(),
            css: assets::url("app.css"),
            htmx: assets::url("htmx.min.js"),
            copy_js: assets::url("copy.js"),
        }
    }

    pub fn is_account(&self) -> bool {
        self.who == Who::Account
    }

    pub fn is_operator(&self) -> bool {
        self.who == Who::Operator
    }

    /// `aria-current` for a navigation entry.
    pub fn current(&self, section: &str) -> &'static str {
        if self.section == section { "page" } else { "false" }
    }
}

/// Renders a page with status 200.
pub fn render(page: &impl Template) -> Response {
    render_with(StatusCode::OK, page)
}

pub fn render_with(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => UiError::Api(ApiError::Internal(format!("rendering a page: {e}"))).into_response(),
    }
}

pub type UiResult<T = Response> = Result<T, UiError>;

/// Why a page could not be shown.
#[derive(Debug)]
pub enum UiError {
    Api(ApiError),
    /// No valid session: go to the sign-in page.
    SignIn,
    /// A form without the session's CSRF token.
    Csrf,
    /// An operator page with an account session, or the reverse.
    WrongKind,
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        UiError::Api(e)
    }
}

impl From<postbode_store::StoreError> for UiError {
    fn from(e: postbode_store::StoreError) -> Self {
        UiError::Api(e.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    message: String,
    errors: Vec<FieldError>,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let retry_after = match &self {
            UiError::Api(e) => e.retry_after(),
            _ => None,
        };
        let (status, message, errors) = match self {
            UiError::SignIn => return Redirect::to("/ui/sign-in").into_response(),
            UiError::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from this dashboard. Go back, reload the page and try again."
                    .to_owned(),
                Vec::new(),
            ),
            UiError::WrongKind => (
                StatusCode::FORBIDDEN,
                "This page needs another key: sign out and sign in with it.".to_owned(),
                Vec::new(),
            ),
            UiError::Api(e) => {
                if let ApiError::Internal(cause) = &e {
                    tracing::error!(%cause, "dashboard request failed");
                }
                let status = e.status();
                let errors = match &e {
                    ApiError::Invalid(v) => v.errors.clone(),
                    ApiError::BadRequest { errors, .. } => errors.clone(),
                    _ => Vec::new(),
                };
                let message = match e {
                    ApiError::Internal(_) => "Something went wrong on the server; it has been logged.".to_owned(),
                    other => capitalise(&other.to_string()),
                };
                (status, message, errors)
            }
        };
        let page = ErrorPage {
            chrome: Chrome::new(
                format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("")),
                Who::Nobody,
                "",
                "",
            ),
            status: status.as_u16(),
            message,
            errors,
        };
        let mut response = match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, "error").into_response(),
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub async fn not_found() -> UiError {
    UiError::Api(ApiError::NotFound("page"))
}

/// Added to every `/ui` response.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// A time as pages show it (UTC, to the second).
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub fn when_opt(at: Option<DateTime<Utc>>) -> String {
    at.map(when).unwrap_or_default()
}

/// A 303 to another dashboard page after a form did its work.
pub fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}
