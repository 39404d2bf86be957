//! What every dashboard page shares: the frame around it (`Chrome`), rendering, the
//! security headers, and errors shown as pages.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use postbode_core::FieldError;
use std::fmt;

use super::assets;
use super::chart::escape;
use super::flash::Flash;
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

/// The frame of a page: its title, the navigation, who is signed in, what the last
/// form did (the flash), and the tokens its forms carry.
pub struct Chrome {
    pub title: String,
    pub who: Who,
    /// Which navigation entry is current.
    pub section: &'static str,
    pub csrf: String,
    /// The account's name, or "Operator".
    pub signed_in: String,
    pub flash: Option<Flash>,
    pub css: &'static str,
    pub htmx: &'static str,
    pub app_js: &'static str,
    pub icon: &'static str,
}

impl Chrome {
    pub fn new(title: impl Into<String>, who: Who, section: &'static str, csrf: &str) -> Self {
        Self {
            title: title.into(),
            who,
            section,
            csrf: csrf.to_owned(),
            signed_in: String::new(),
            flash: None,
            css: assets::url("app.css"),
            htmx: assets::url("htmx.min.js"),
            app_js: assets::url("app.js"),
            icon: assets::url("icon.svg"),
        }
    }

    pub fn signed_in(mut self, who: &str) -> Self {
        who.clone_into(&mut self.signed_in);
        self
    }

    pub fn with_flash(mut self, flash: Option<Flash>) -> Self {
        self.flash = flash;
        self
    }

    /// What the signed-in party is, beside its name.
    pub fn role(&self) -> &'static str {
        match self.who {
            Who::Account => "account",
            Who::Operator => "all accounts",
            Who::Nobody => "",
        }
    }

    /// The hidden inputs every form carries: the CSRF token, and a fresh `once` token
    /// so the form acts once however often it is sent (`once`).
    pub fn guard(&self) -> Guard {
        let once =
            postbode_signature::random::string(&postbode_signature::random::URL_SAFE[..62], 22).unwrap_or_default();
        Guard {
            csrf: self.csrf.clone(),
            once,
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

/// A method the address does not take, as a page with the dashboard's headers.
pub async fn not_allowed() -> Response {
    let page = ErrorPage {
        chrome: Chrome::new("405 Method Not Allowed", Who::Nobody, "", ""),
        status: 405,
        message: "This address does not take that kind of request. Go back to the page and use its form.".to_owned(),
        errors: Vec::new(),
    };
    render_with(StatusCode::METHOD_NOT_ALLOWED, &page)
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

/// A time as text (UTC, to the second), for sentences and titles.
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A time on a page: `<time>` in UTC, which the page's script shows in the browser's
/// time zone, keeping UTC in the title (shown on hover).
pub struct Time(pub DateTime<Utc>);

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let utc = when(self.0);
        write!(
            f,
            r#"<time datetime="{}" title="{utc}">{utc}</time>"#,
            self.0.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        )
    }
}

/// Made of a timestamp only: nothing in it needs escaping.
impl askama::filters::HtmlSafe for Time {}

/// An optional time on a page; nothing when there is none.
pub struct MaybeTime(pub Option<DateTime<Utc>>);

impl fmt::Display for MaybeTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(at) => Time(at).fmt(f),
            None => Ok(()),
        }
    }
}

impl askama::filters::HtmlSafe for MaybeTime {}

/// An id in `<code>` with a button that copies it.
pub struct CopyId<'a>(pub &'a str);

impl fmt::Display for CopyId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = escape(self.0);
        write!(
            f,
            r#"<code>{id}</code> <button type="button" class="copy" data-copy-text="{id}" aria-label="Copy {id}" title="Copy">Copy</button>"#
        )
    }
}

/// Its one input is escaped.
impl askama::filters::HtmlSafe for CopyId<'_> {}

/// The hidden inputs of a form (`Chrome::guard`).
pub struct Guard {
    csrf: String,
    once: String,
}

impl fmt::Display for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            r#"<input type="hidden" name="csrf" value="{}"><input type="hidden" name="once" value="{}">"#,
            escape(&self.csrf),
            escape(&self.once)
        )
    }
}

/// Both tokens are escaped.
impl askama::filters::HtmlSafe for Guard {}

/// A call's duration: a call that took less than a millisecond did not take "0 ms".
pub fn duration(ms: u64) -> String {
    match ms {
        0 => "under 1 ms".to_owned(),
        1..1_000 => format!("{ms} ms"),
        _ => format!("{:.1} s", ms as f64 / 1_000.0),
    }
}

/// A 303 to another dashboard page.
pub fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times_read_as_people_say_them() {
        assert_eq!(duration(0), "under 1 ms");
        assert_eq!(duration(12), "12 ms");
        assert_eq!(duration(1_530), "1.5 s");
        let at: DateTime<Utc> = "2026-03-01T12:30:05Z".parse().unwrap();
        assert_eq!(
            Time(at).to_string(),
            r#"<time datetime="2026-03-01T12:30:05.000Z" title="2026-03-01 12:30:05 UTC">2026-03-01 12:30:05 UTC</time>"#
        );
        assert_eq!(MaybeTime(None).to_string(), "");
        assert!(CopyId("<x>").to_string().contains("data-copy-text=\"&lt;x&gt;\""));
    }
}
