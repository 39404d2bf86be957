//! Signing in to the dashboard, with sessions kept on the server.
//!
//! The session cookie is `<kind>.<id>`: `kind` is `a` (an account's API key) or `o` (the
//! operator token), `id` 256 random bits. The store keeps only the SHA-256 of the id
//! (for the operator's, of the id and the operator token's hash, so changing the token
//! ends those sessions), with the account, the key it was made with and its expiry, so
//! a page load is one look-up by that hash. Signing out deletes the session, so a copy
//! of the cookie is worthless afterwards; deleting the key (or its account) deletes its
//! sessions too. Each form carries a CSRF token derived from the cookie (HMAC under a
//! key derived from the master key); the sign-in form, which has no session yet, is
//! bound the same way to a random cookie of its own.

use askama::Template;
use aws_lc_rs::{constant_time, hmac};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use postbode_core::scope::Scope;
use postbode_signature::random;
use postbode_store::{ApiKey, DashboardSession, SessionRole};

use super::flash::Flash;
use super::form::FormData;
use super::page::{Chrome, UiError, UiResult, Who, render_with, see_other};
use crate::auth::{self, Caller, ClientAddress};
use crate::problem::ApiError;
use crate::settings::SecureCookies;
use crate::state::AppState;

const SESSION_COOKIE: &str = "pb_session";
const SIGN_IN_COOKIE: &str = "pb_sign_in";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Account,
    Operator,
}

impl Kind {
    fn letter(self) -> &'static str {
        match self {
            Kind::Account => "a",
            Kind::Operator => "o",
        }
    }
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

/// What the store keeps of a session id: its SHA-256, for the operator's with the
/// operator token's hash.
fn id_hash(state: &AppState, kind: Kind, id: &str) -> Vec<u8> {
    let mut hashed = id.as_bytes().to_vec();
    if kind == Kind::Operator {
        hashed.extend_from_slice(state.operator_token_hash.as_slice());
    }
    auth::sha256(&hashed).to_vec()
}

/// Starts a session (dropping the expired ones); returns the cookie's value.
async fn start_session(state: &AppState, kind: Kind, key: Option<&ApiKey>) -> Result<String, ApiError> {
    let now = state.clock.now();
    state.store.delete_expired_sessions(now).await?;
    let id = random::string(&random::URL_SAFE[..62], 43).map_err(internal)?;
    let ttl = chrono::Duration::from_std(state.settings.dashboard_session).unwrap_or(chrono::Duration::hours(12));
    state
        .store
        .create_session(&DashboardSession {
            id_hash: id_hash(state, kind, &id),
            account_id: key.map(|k| k.account_id.clone()),
            key_id: key.map(|k| k.id.clone()),
            role: SessionRole::Manage,
            created_at: now,
            expires_at: now + ttl,
        })
        .await?;
    Ok(format!("{}.{id}", kind.letter()))
}

pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
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
    /// The account's name (empty for the operator).
    account_name: String,
    cookie: String,
    id_hash: Vec<u8>,
}

/// One look-up: the session by its id's hash, with its account.
async fn check(state: &AppState, headers: &HeaderMap) -> Result<Checked, UiError> {
    let value = cookie(headers, SESSION_COOKIE).ok_or(UiError::SignIn)?;
    let (kind, id) = match value.split_once('.') {
        Some(("a", id)) => (Kind::Account, id),
        Some(("o", id)) => (Kind::Operator, id),
        _ => return Err(UiError::SignIn),
    };
    let id_hash = id_hash(state, kind, id);
    let (session, account) = state
        .store
        .find_session(&id_hash, state.clock.now())
        .await?
        .ok_or(UiError::SignIn)?;
    let (account_id, account_name) = match (kind, session.account_id, account) {
        (Kind::Account, Some(account_id), Some(account)) => (account_id, account.name),
        (Kind::Operator, None, None) => (String::new(), String::new()),
        _ => return Err(UiError::SignIn),
    };
    Ok(Checked {
        kind,
        account_id,
        account_name,
        cookie: value,
        id_hash,
    })
}

fn csrf_token(state: &AppState, bound_to: &str) -> Result<String, ApiError> {
    Ok(mac(&key(state, "dashboard csrf")?, bound_to.as_bytes()))
}

/// A request signed in with an account's API key.
pub struct AccountSession {
    pub account_id: String,
    pub account_name: String,
    pub csrf: String,
    /// The session cookie, which flashes are sealed to.
    binding: String,
    flash: Option<Flash>,
}

impl AccountSession {
    pub fn chrome(&self, title: impl Into<String>, section: &'static str) -> Chrome {
        Chrome::new(title, Who::Account, section, &self.csrf)
            .signed_in(&self.account_name)
            .with_flash(self.flash.clone())
    }
}

/// A request signed in with the operator token.
pub struct OperatorSession {
    pub csrf: String,
    binding: String,
    flash: Option<Flash>,
}

impl OperatorSession {
    pub fn chrome(&self, title: impl Into<String>, section: &'static str) -> Chrome {
        Chrome::new(title, Who::Operator, section, &self.csrf)
            .signed_in("Operator")
            .with_flash(self.flash.clone())
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
            flash: Flash::take(state, parts, &checked.cookie),
            account_id: checked.account_id,
            account_name: checked.account_name,
            binding: checked.cookie,
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
            flash: Flash::take(state, parts, &checked.cookie),
            binding: checked.cookie,
        })
    }
}

/// A signed-in session: the CSRF token its forms must carry, and the cookie its
/// flashes are sealed to.
pub trait Signed {
    fn csrf(&self) -> &str;
    fn binding(&self) -> &str;
}

impl Signed for AccountSession {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn binding(&self) -> &str {
        &self.binding
    }
}

impl Signed for OperatorSession {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn binding(&self) -> &str {
        &self.binding
    }
}

/// A posted form of a signed-in session, its CSRF token checked.
pub struct Posted<S> {
    pub session: S,
    pub form: FormData,
}

impl<S: Signed> Posted<S> {
    /// Runs the form's action once however often the form is sent (`once`).
    pub async fn once(&self, work: impl Future<Output = UiResult>) -> UiResult {
        super::once::act(self.session.csrf(), self.form.get("once"), work).await
    }

    /// A 303 to `target` with `flash` shown there.
    pub fn redirect(&self, state: &AppState, target: &str, flash: Flash) -> UiResult {
        Ok(flash.redirect(state, self.session.binding(), target)?)
    }
}

impl<S> FromRequest<AppState> for Posted<S>
where
    S: FromRequestParts<AppState, Rejection = UiError> + Signed + Send,
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

pub(super) fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
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
    /// A valid key without the `manage` scope: it may call the API, not open the dashboard.
    NotManage,
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
        Ok(Caller::Operator) => (start_session(&state, Kind::Operator, None).await?, "/ui/operator"),
        Ok(Caller::Account(key)) if !key.scopes.grants(Scope::Manage) => {
            return sign_in_form(&state, StatusCode::FORBIDDEN, SignInFailure::NotManage);
        }
        Ok(Caller::Account(key)) => (start_session(&state, Kind::Account, Some(&key)).await?, "/ui/webhooks"),
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

/// Works for either kind of session, and ends it on the server: a copy of the cookie
/// signs nobody in afterwards.
pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> UiResult {
    let checked = check(&state, &headers).await?;
    let form = FormData::parse(&body);
    if !same(
        form.get("csrf").unwrap_or_default(),
        &csrf_token(&state, &checked.cookie)?,
    ) {
        return Err(UiError::Csrf);
    }
    state.store.delete_session(&checked.id_hash).await?;
    let mut response = see_other("/ui/sign-in");
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, "", 0));
    Ok(response.into_response())
}
