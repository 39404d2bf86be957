//! What a form did, said on the page it redirects to (post/redirect/get). The message
//! travels in a short-lived cookie sealed with the master key and bound to the session
//! cookie, so only that session can read it, and values shown once (a new API key, a
//! secret) never appear in a URL or a log. The page it names shows it once: a reload
//! shows the page without it, and a page refreshing itself (`X-Postbode-Poll`) leaves
//! it for the page it was meant for.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::session::set_cookie;
use crate::problem::ApiError;
use crate::state::AppState;

pub const COOKIE: &str = "pb_flash";
/// Long enough for the redirect to be followed on a slow connection.
const MAX_AGE_SECONDS: i64 = 300;
/// A request from a part of a page that refreshes itself.
pub const POLL_HEADER: &str = "x-postbode-poll";
/// Longer texts are cut, so the cookie stays well under the 4 KiB browsers keep.
const MAX_TEXT: usize = 300;
const MAX_LINES: usize = 8;

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Flash {
    /// The path of the page that shows it.
    path: String,
    /// `ok`, `warn` or `bad`.
    pub tone: String,
    pub text: String,
    pub lines: Vec<String>,
    /// Values shown once, with a copy button each.
    pub shown: Vec<Shown>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Shown {
    /// The element's id, which tests and the copy button use.
    pub id: String,
    pub label: String,
    pub value: String,
}

fn cut(text: impl Into<String>) -> String {
    let mut text = text.into();
    if text.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

impl Flash {
    pub fn ok(text: impl Into<String>) -> Self {
        Self::with_tone("ok", text)
    }

    pub fn warn(text: impl Into<String>) -> Self {
        Self::with_tone("warn", text)
    }

    pub fn bad(text: impl Into<String>) -> Self {
        Self::with_tone("bad", text)
    }

    fn with_tone(tone: &str, text: impl Into<String>) -> Self {
        Self {
            tone: tone.to_owned(),
            text: cut(text),
            ..Self::default()
        }
    }

    /// A line of detail below the message; past a few, one line says how many more.
    pub fn line(mut self, text: impl Into<String>) -> Self {
        match self.lines.len() {
            n if n < MAX_LINES => self.lines.push(cut(text)),
            n if n == MAX_LINES => self.lines.push("…and more".to_owned()),
            _ => {}
        }
        self
    }

    /// A value shown this once (a key, a secret), in element `id`.
    pub fn shown(mut self, id: &str, label: &str, value: impl Into<String>) -> Self {
        self.shown.push(Shown {
            id: id.to_owned(),
            label: label.to_owned(),
            value: value.into(),
        });
        self
    }

    /// The seal's context: the flash opens only for the session it was made in.
    fn context(session_cookie: &str) -> String {
        format!("dashboard flash\n{session_cookie}")
    }

    /// A 303 to `target` (a path, maybe with `#fragment`), carrying this flash for it.
    pub fn redirect(mut self, state: &AppState, session_cookie: &str, target: &str) -> Result<Response, ApiError> {
        target
            .split(['#', '?'])
            .next()
            .unwrap_or_default()
            .clone_into(&mut self.path);
        let json = serde_json::to_vec(&self).map_err(|e| ApiError::Internal(e.to_string()))?;
        let sealed = state
            .master
            .seal(&json, &Self::context(session_cookie))
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut response = Redirect::to(target).into_response();
        response
            .headers_mut()
            .append(header::SET_COOKIE, set_cookie(state, COOKIE, &sealed, MAX_AGE_SECONDS));
        Ok(response)
    }

    /// The flash this request should show: one for its path, sealed for its session, on
    /// a page load (not a refreshing part). Marks it taken, so the answer clears it.
    pub fn take(state: &AppState, parts: &axum::http::request::Parts, session_cookie: &str) -> Option<Self> {
        if parts.method != Method::GET || parts.headers.contains_key(POLL_HEADER) {
            return None;
        }
        let sealed = super::session::cookie(&parts.headers, COOKIE)?;
        let json = state.master.open(&sealed, &Self::context(session_cookie)).ok()?;
        let flash: Self = serde_json::from_slice(&json).ok()?;
        // The dashboard is nested under /ui: its handlers see the path without it.
        if flash.path.strip_prefix("/ui") != Some(parts.uri.path()) {
            return None;
        }
        if let Some(taken) = parts.extensions.get::<Taken>() {
            taken.0.store(true, Ordering::Relaxed);
        }
        Some(flash)
    }
}

/// Set when a page showed the flash, so its answer clears the cookie.
#[derive(Clone, Default)]
pub struct Taken(Arc<AtomicBool>);

/// Middleware: clears the flash cookie in the answer of the page that showed it.
pub async fn clear_when_shown(mut request: Request, next: Next) -> Response {
    let taken = Taken::default();
    request.extensions_mut().insert(taken.clone());
    let mut response = next.run(request).await;
    if taken.0.load(Ordering::Relaxed) {
        clear(response.headers_mut());
    }
    response
}

fn clear(headers: &mut HeaderMap) {
    headers.append(
        header::SET_COOKIE,
        HeaderValue::from_static("pb_flash=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_and_many_lines_are_cut_so_the_cookie_stays_small() {
        let mut flash = Flash::ok("é".repeat(400));
        assert!(flash.text.len() <= MAX_TEXT + '…'.len_utf8());
        assert!(flash.text.ends_with('…'));
        for n in 0..20 {
            flash = flash.line(format!("line {n}"));
        }
        assert_eq!(flash.lines.len(), MAX_LINES + 1);
        assert_eq!(flash.lines.last().unwrap(), "…and more");
    }
}
