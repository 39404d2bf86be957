//! Signing in to the dashboard, without a session table.
//!
//! The session cookie is `v1.<kind>.<account id>.<key id>.<expiry>.<MAC>`: `kind` is `a`
//! (an account's API key) or `o` (the operator token), and the MAC is HMAC-SHA256 under
//! a key derived from the master key, checked in constant time. Every request checks
//! again that the API key still exists (through the server's key cache), so revoking
//! the key ends its sessions; an operator session is bound to the operator token's
//! hash, so changing the token ends those. Each form carries a CSRF token derived from
//! the cookie (HMAC under a second derived key); the sign-in form, which has no session
//! yet, is bound the same way to a random cookie of its own.

use askama::Template;
use aws_lc_rs::{constant_time, hmac};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use postbode_signature::random;

use super::form::FormData;
use super::page::{Chrome, UiError, UiResult, Who, render_with, see_other};
use crate::auth::{self, Caller, ClientAddress};
use crate::problem::ApiError;
use crate::settings::SecureCookies;
use crate::state::AppState;

const SESSION_COOKIE: &str = "pb_session";
const SIGN_IN_COOKIE: &str = "pb_sign_in";
const VERSION: &str = "v1";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Account,
    Operator,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

fn key(state: &AppState, purpose: &str) -> Result<hmac::Key, ApiError> {
    let raw = state.master.derive(purpose).map_err(internal)?;
    Ok(hmac::Key::new(hmac::HMAC_SHA256, &raw))
}

fn mac(key: &hmac::Key, message: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(hmac::sign(key, message).as_ref())
}

fn same(a: &str, b: &str) -> bool {
    constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// What the session cookie's MAC covers: its fields, and for the operator the token's
/// hash too.
fn signed_part(state: &AppState, kind: Kind, fields: &str) -> Vec<u8> {
    let mut message = fields.as_bytes().to_vec();
    if kind == Kind::Operator {
        message.extend_from_slice(state.operator_token_hash.as_slice());
    }
    message
}

fn new_cookie_value(state: &AppState, kind: Kind, account_id: &str, key_id: &str) -> Result<String, ApiError> {
    let ttl = chrono::Duration::from_std(state.settings.dashboard_session).unwrap_or(chrono::Duration::hours(12));
    let expires = (state.clock.now() + ttl).timestamp();
    let letter = if kind == Kind::Account { "a" } else { "o" };
    let fields = format!("{VERSION}.{letter}.{account_id}.{key_id}.{expires}");
    let tag = mac(&key(state, "dashboard session")?, &signed_part(state, kind, &fields));
    Ok(format!("{fields}.{tag}"))
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
}

/// A checked session: its kind and (for an account) who, and its cookie's value.
struct Checked {
    kind: Kind,
    account_id: String,
    cookie: String,
}

async fn check(state: &AppState, headers: &HeaderMap) -> Result<Checked, UiError> {
    let value = cookie(headers, SESSION_COOKIE).ok_or(UiError::SignIn)?;
    let (fields, tag) = value.rsplit_once('.').ok_or(UiError::SignIn)?;
    let parts: Vec<&str> = fields.split('.').collect();
    let [VERSION, letter, account_id, key_id, expires] = parts[..] else {
        return Err(UiError::SignIn);
    };
    let kind = match letter {
        "a" => Kind::Account,
        "o" => Kind::Operator,
        _ => return Err(UiError::SignIn),
    };
    if !same(
        &mac(&key(state, "dashboard session")?, &signed_part(state, kind, fields)),
        tag,
    ) {
        return Err(UiError::SignIn);
    }
    let expires: i64 = expires.parse().map_err(|_| UiError::SignIn)?;
    if state.clock.now().timestamp() >= expires {
        return Err(UiError::SignIn);
    }
    if kind == Kind::Account {
        let stored = auth::known_key(state, key_id).await?;
        if stored.is_none_or(|k| k.account_id != account_id) {
            return Err(UiError::SignIn);
        }
    }
    Ok(Checked {
        kind,
        account_id: account_id.to_owned(),
        cookie: value,
    })
}

fn csrf_token(state: &AppState, bound_to: &str) -> Result<String, ApiError> {
    Ok(mac(&key(state, "dashboard csrf")?, bound_to.as_bytes()))
}

/// A request signed in with an account's API key.
pub struct AccountSession {
    pub account_id: String,
    pub csrf: String,
}

impl AccountSession {
    pub fn chrome(&self, title: impl Into<String>, section: &'static str) -> Chrome {
        Chrome::new(title, Who::Account, section, &self.csrf)
    }
}

/// A request signed in with the operator token.
pub struct OperatorSession {
    pub csrf: String,
}

impl OperatorSession {
    pub fn chrome(&self, title: impl Into<String>, section: &'static str) -> Chrome {
        Chrome::new(title, Who::Operator, section, &self.csrf)
    }
}

impl FromRequestParts<AppState> for AccountSession {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, UiError> {
        let checked = check(state, &parts.headers).await?;
        if checked.kind != Kind::Account {
            return Err(UiError::WrongKind);
        }
        Ok(AccountSession {
            csrf: csrf_token(state, &checked.cookie)?,
            account_id: checked.account_id,
        })
    }
}

impl FromRequestParts<AppState> for OperatorSession {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, UiError> {
        let checked = check(state, &parts.headers).await?;
        if checked.kind != Kind::Operator {
            return Err(UiError::WrongKind);
        }
        Ok(OperatorSession {
            csrf: csrf_token(state, &checked.cookie)?,
        })
    }
}

/// Something that knows the CSRF token its forms must carry.
pub trait HasCsrf {
    fn csrf(&self) -> &str;
}

impl HasCsrf for AccountSession {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl HasCsrf for OperatorSession {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A posted form of a signed-in session, its CSRF token checked.
pub struct Posted<S> {
    pub session: S,
    pub form: FormData,
}

impl<S> FromRequest<AppState> for Posted<S>
where
    S: FromRequestParts<AppState, Rejection = UiError> + HasCsrf + Send,
{
    type Rejection = UiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, UiError> {
        let (mut parts, body) = request.into_parts();
        let session = S::from_request_parts(&mut parts, state).await?;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|rejection| UiError::Api(crate::extract::body_rejection(&rejection, state)))?;
        let form = FormData::parse(&bytes);
        if !same(form.get("csrf").unwrap_or_default(), session.csrf()) {
            return Err(UiError::Csrf);
        }
        Ok(Posted { session, form })
    }
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = match state.settings.secure_cookies {
        SecureCookies::Always => true,
        SecureCookies::Never => false,
        SecureCookies::Auto => state.public_url.starts_with("https://"),
    };
    let text = format!(
        "{name}={value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("pb_invalid=; Path=/ui"))
}

/// Why the sign-in form is shown again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SignInFailure {
    None,
    WrongKey,
    /// Too many failures: the seconds until the next try.
    Throttled(u64),
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    failure: SignInFailure,
}

fn sign_in_form(state: &AppState, status: StatusCode, failure: SignInFailure) -> UiResult {
    let nonce = random::string(&random::URL_SAFE[..62], 32).map_err(internal)?;
    let token = csrf_token(state, &format!("sign-in.{nonce}"))?;
    let mut response = render_with(
        status,
        &SignInPage {
            chrome: Chrome::new("Sign in", Who::Nobody, "sign-in", &token),
            failure,
        },
    );
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(state, SIGN_IN_COOKIE, &nonce, 3600));
    Ok(response)
}

pub async fn sign_in_page(State(state): State<AppState>) -> UiResult {
    sign_in_form(&state, StatusCode::OK, SignInFailure::None)
}

/// An account key opens the account's pages, the operator token the operator's. A
/// wrong key learns only that it is wrong; failures are throttled as on the API.
pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> UiResult {
    let form = FormData::parse(&body);
    let nonce = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    let expected = csrf_token(&state, &format!("sign-in.{nonce}"))?;
    if nonce.is_empty() || !same(form.get("csrf").unwrap_or_default(), &expected) {
        return Err(UiError::Csrf);
    }
    let token = form.get("key").unwrap_or_default().trim();
    let (value, landing) = match auth::authenticate(&state, address, token).await {
        Ok(Caller::Operator) => (new_cookie_value(&state, Kind::Operator, "-", "-")?, "/ui/operator"),
        Ok(Caller::Account(key)) => (
            new_cookie_value(&state, Kind::Account, &key.account_id, &key.id)?,
            "/ui/webhooks",
        ),
        Ok(Caller::Scraper) | Err(ApiError::Unauthorized) => {
            return sign_in_form(&state, StatusCode::UNAUTHORIZED, SignInFailure::WrongKey);
        }
        Err(ApiError::TooManyRequests { retry_after }) => {
            let mut page = sign_in_form(
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                SignInFailure::Throttled(retry_after),
            )?;
            page.headers_mut().insert(header::RETRY_AFTER, retry_after.into());
            return Ok(page);
        }
        Err(other) => return Err(other.into()),
    };
    let max_age = state.settings.dashboard_session.as_secs() as i64;
    let mut response = see_other(landing);
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, &value, max_age));
    headers.append(header::SET_COOKIE, set_cookie(&state, SIGN_IN_COOKIE, "", 0));
    Ok(response)
}

/// Works for either kind of session.
pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> UiResult {
    let checked = check(&state, &headers).await?;
    let form = FormData::parse(&body);
    if !same(
        form.get("csrf").unwrap_or_default(),
        &csrf_token(&state, &checked.cookie)?,
    ) {
        return Err(UiError::Csrf);
    }
    let mut response = see_other("/ui/sign-in");
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, "", 0));
    Ok(response.into_response())
}
