//! Who is calling: the operator (manages accounts) or an account key (`pb_<key id>_<secret>`,
//! acts inside its account only). Secrets are stored as SHA-256 and compared in
//! constant time. Every door that takes a token (the API, `/metrics`, the dashboard's
//! sign-in) goes through [`authenticate`], which throttles failed attempts.

use aws_lc_rs::{constant_time, digest};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use postbode_core::scope::Scope;
use postbode_signature::random;
use postbode_store::ApiKey;
use std::collections::HashMap;
use std::convert::Infallible;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::problem::ApiError;
use crate::state::AppState;

const KEY_PREFIX: &str = "pb_";
const SECRET_LEN: usize = 40;

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

/// A new API key: the token to show once, and the hash to store.
pub struct NewApiKey {
    pub id: String,
    pub token: String,
    pub secret_hash: [u8; 32],
}

pub fn new_api_key() -> Result<NewApiKey, ApiError> {
    let id = postbode_core::ids::new_id(postbode_core::ids::API_KEY);
    // Letters and digits only, so the last `_` of the token always separates the secret.
    let secret = random::string(&random::URL_SAFE[..62], SECRET_LEN).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(NewApiKey {
        token: format!("{KEY_PREFIX}{id}_{secret}"),
        secret_hash: sha256(secret.as_bytes()),
        id,
    })
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub(crate) fn same(hash: &[u8], expected: &[u8]) -> bool {
    constant_time::verify_slices_are_equal(hash, expected).is_ok()
}

/// The client's address, as failed authentications are counted: the connection's, or
/// behind a proxy listed in `server.trusted_proxies` the address it forwarded for.
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    fn of(parts: &Parts, state: &AppState) -> IpAddr {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(peer)| peer.ip());
        crate::routes::tracking::client_ip(peer, &parts.headers, &state.settings.trusted_proxies)
    }
}

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        Ok(ClientAddress(Self::of(parts, state)))
    }
}

/// Who a bearer token belongs to.
pub(crate) enum Caller {
    Operator,
    /// The Prometheus scraper, with `metrics.token`.
    Scraper,
    Account(ApiKey),
}

/// Who `token` is, with failed attempts throttled per client address and per API key
/// (`throttle`): a client past its share is answered 429 before its token is checked;
/// a token nobody holds is a 401 and one failure more.
pub(crate) async fn authenticate(state: &AppState, address: IpAddr, token: &str) -> Result<Caller, ApiError> {
    let now = state.clock.now();
    let named = token
        .strip_prefix(KEY_PREFIX)
        .and_then(|rest| rest.rsplit_once('_'))
        .map(|(key_id, _)| key_id);
    if let Some(retry_after) = state.throttle.refused(address, named, now) {
        return Err(ApiError::TooManyRequests { retry_after });
    }
    let hash = sha256(token.as_bytes());
    if same(&hash, state.operator_token_hash.as_slice()) {
        return Ok(Caller::Operator);
    }
    if state.metrics.token_hash.as_ref().is_some_and(|t| same(&hash, t)) {
        return Ok(Caller::Scraper);
    }
    match stored_key(state, token).await? {
        Stored::Key(key) => {
            note_use(state, &key.id);
            Ok(Caller::Account(key))
        }
        Stored::WrongSecret(key_id) => {
            state.throttle.failed(address, Some(&key_id), now);
            Err(ApiError::Unauthorized)
        }
        Stored::None => {
            state.throttle.failed(address, None, now);
            Err(ApiError::Unauthorized)
        }
    }
}

/// A request made with the operator token.
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or(ApiError::Unauthorized)?;
        match authenticate(state, ClientAddress::of(parts, state), token).await? {
            Caller::Operator => Ok(Operator),
            Caller::Account(_) | Caller::Scraper => Err(ApiError::Forbidden),
        }
    }
}

/// The scope a route needs, as a type: a handler that takes `AccountKey<WebhooksWrite>`
/// is refused to a key without `webhooks:write` (403 naming it) before it runs. The
/// route's OpenAPI `security` names the same scope; `tests/scopes.rs` holds the two to
/// each other.
pub trait Needs: Send + Sync {
    const SCOPE: Option<Scope>;
}

/// Any valid key of the account (`GET /v1/account`: whose key is this?).
pub struct AnyScope;

impl Needs for AnyScope {
    const SCOPE: Option<Scope> = None;
}

macro_rules! scope_markers {
    ($($marker:ident => $scope:ident),* $(,)?) => {
        $(
            pub struct $marker;
            impl Needs for $marker {
                const SCOPE: Option<Scope> = Some(Scope::$scope);
            }
        )*
    };
}

scope_markers!(
    EventsWrite => EventsWrite,
    WebhooksRead => WebhooksRead,
    WebhooksWrite => WebhooksWrite,
    DataRead => DataRead,
    DataWrite => DataWrite,
);

/// A request made with an account's API key that carries the scope `S` names; every
/// handler that takes it works inside `account_id` only.
pub struct AccountKey<S: Needs = AnyScope> {
    pub account_id: String,
    needs: PhantomData<S>,
}

impl<S: Needs> FromRequestParts<AppState> for AccountKey<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or(ApiError::Unauthorized)?;
        let Caller::Account(key) = authenticate(state, ClientAddress::of(parts, state), token).await? else {
            return Err(ApiError::Unauthorized);
        };
        // Every log line of the request names the account.
        tracing::Span::current().record("account", key.account_id.as_str());
        if let Some(needed) = S::SCOPE
            && !key.scopes.grants(needed)
        {
            return Err(ApiError::MissingScope(needed));
        }
        Ok(AccountKey {
            account_id: key.account_id,
            needs: PhantomData,
        })
    }
}

/// Writes the key's `last_used_at`, at most once a minute per key and node, beside the
/// request rather than in its way.
fn note_use(state: &AppState, key_id: &str) {
    if !state.keys.use_is_news(key_id) {
        return;
    }
    let store = state.store.clone();
    let (key_id, now) = (key_id.to_owned(), state.clock.now());
    tokio::spawn(async move {
        if let Err(e) = store.touch_api_key(&key_id, now).await {
            tracing::debug!(error = %e, key_id, "could not note the API key's use");
        }
    });
}

/// What an account token (`pb_<key id>_<secret>`) names.
enum Stored {
    Key(ApiKey),
    /// A stored key, with a wrong secret.
    WrongSecret(String),
    None,
}

async fn stored_key(state: &AppState, token: &str) -> Result<Stored, ApiError> {
    let Some((key_id, secret)) = token.strip_prefix(KEY_PREFIX).and_then(|rest| rest.rsplit_once('_')) else {
        return Ok(Stored::None);
    };
    if !postbode_core::ids::has_kind(key_id, postbode_core::ids::API_KEY) {
        return Ok(Stored::None);
    }
    Ok(match known_key(state, key_id).await? {
        Some(key) if same(&sha256(secret.as_bytes()), &key.secret_hash) => Stored::Key(key),
        Some(key) => Stored::WrongSecret(key.id),
        None => Stored::None,
    })
}

/// The stored API key with this id, through the cache of recently used keys.
pub(crate) async fn known_key(state: &AppState, key_id: &str) -> Result<Option<ApiKey>, ApiError> {
    if let Some(key) = state.keys.get(key_id) {
        return Ok(Some(key));
    }
    let key = state.store.find_api_key(key_id).await?;
    if let Some(key) = &key {
        state.keys.put(key.clone());
    }
    Ok(key)
}

/// Recently used API keys (their hashes), so a busy client does not cost a database
/// read per request. A deleted key is dropped here at once; another node of the same
/// database stops honouring it within [`KeyCache::TTL`].
#[derive(Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<String, (ApiKey, Instant)>>,
    /// When each key's use was last written (`note_use`).
    noted: Mutex<HashMap<String, Instant>>,
}

impl KeyCache {
    pub const TTL: Duration = Duration::from_secs(10);
    /// How stale a key's `last_used_at` may get.
    pub const USE_NOTED_EVERY: Duration = Duration::from_secs(60);
    /// Bounds the memory a flood of distinct (valid) keys can take.
    const MAX_KEYS: usize = 10_000;

    /// Whether this use of the key is the first in [`Self::USE_NOTED_EVERY`] (and so is
    /// to be written); counts it as written.
    fn use_is_news(&self, key_id: &str) -> bool {
        let mut noted = self.noted.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if noted.get(key_id).is_some_and(|at| at.elapsed() < Self::USE_NOTED_EVERY) {
            return false;
        }
        if noted.len() >= Self::MAX_KEYS {
            noted.retain(|_, at| at.elapsed() < Self::USE_NOTED_EVERY);
            if noted.len() >= Self::MAX_KEYS {
                noted.clear();
            }
        }
        noted.insert(key_id.to_owned(), Instant::now());
        true
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, (ApiKey, Instant)>> {
        self.keys.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, key_id: &str) -> Option<ApiKey> {
        let keys = self.lock();
        let (key, fetched) = keys.get(key_id)?;
        (fetched.elapsed() < Self::TTL).then(|| key.clone())
    }

    fn put(&self, key: ApiKey) {
        let mut keys = self.lock();
        if keys.len() >= Self::MAX_KEYS {
            keys.retain(|_, (_, fetched)| fetched.elapsed() < Self::TTL);
            if keys.len() >= Self::MAX_KEYS {
                keys.clear();
            }
        }
        keys.insert(key.id.clone(), (key, Instant::now()));
    }

    pub fn forget(&self, key_id: &str) {
        self.lock().remove(key_id);
    }
}
