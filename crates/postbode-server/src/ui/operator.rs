//! The operator's pages: accounts with their API keys (create, revoke), and the signing
//! keys with their states and DNS TXT records (what `GET /v1/signing-keys` shows), and
//! rotation.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use postbode_core::page::PageRequest;
use postbode_core::scope::Scope;
use postbode_store::{Account, ApiKeyInfo};
use serde::Deserialize;

use super::flash::Flash;
use super::form::Errors;
use super::page::{Chrome, Time, UiResult, render, render_with};
use super::session::{OperatorSession, Posted};
use crate::problem::ApiError;
use crate::routes::accounts::{NewKey, add_api_key, create_account as new_account, key_request, revoke_api_key};
use crate::signing_keys::{self, KeyView};
use crate::state::AppState;

const PAGE_SIZE: u32 = 50;

#[derive(Template)]
#[template(path = "operator_accounts.html")]
struct AccountsPage {
    chrome: Chrome,
    accounts: Vec<Account>,
    next: Option<String>,
    name: String,
    errors: Errors,
}

impl AccountsPage {
    fn time(&self, account: &Account) -> Time {
        Time(account.created_at)
    }
}

#[derive(Deserialize)]
pub struct Cursor {
    cursor: Option<String>,
}

async fn accounts_page(
    state: &AppState,
    session: &OperatorSession,
    cursor: Option<String>,
) -> Result<AccountsPage, ApiError> {
    let listed = state
        .store
        .list_accounts(&PageRequest {
            after: cursor,
            limit: PAGE_SIZE,
        })
        .await?;
    Ok(AccountsPage {
        chrome: session.chrome("Accounts", "accounts"),
        accounts: listed.data,
        next: listed.next_cursor,
        name: String::new(),
        errors: Errors::default(),
    })
}

pub async fn accounts(session: OperatorSession, State(state): State<AppState>, Query(q): Query<Cursor>) -> UiResult {
    Ok(render(&accounts_page(&state, &session, q.cursor).await?))
}

pub async fn create_account(State(state): State<AppState>, posted: Posted<OperatorSession>) -> UiResult {
    posted
        .once(async {
            let name = posted.form.text("name");
            match new_account(&state, &name).await {
                Ok((account, key)) => {
                    let flash = Flash::ok(format!(
                        "Created the account {}. Its API key is shown only now:",
                        account.name
                    ))
                    .shown("new-api-key", "API key", key);
                    posted.redirect(&state, &format!("/ui/operator/accounts/{}", account.id), flash)
                }
                Err(e) => {
                    let mut page = accounts_page(&state, &posted.session, None).await?;
                    page.errors = Errors::from_refusal(e)?;
                    page.name = name;
                    Ok(render_with(StatusCode::UNPROCESSABLE_ENTITY, &page))
                }
            }
        })
        .await
}

#[derive(Template)]
#[template(path = "operator_account.html")]
struct AccountPage {
    chrome: Chrome,
    account: Account,
    keys: Vec<ApiKeyInfo>,
}

impl AccountPage {
    fn time(&self, key: &ApiKeyInfo) -> Time {
        Time(key.created_at)
    }

    fn last_used(&self, key: &ApiKeyInfo) -> Option<Time> {
        key.last_used_at.map(Time)
    }

    fn scopes(&self, key: &ApiKeyInfo) -> String {
        key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// Every scope, for the new key's check boxes.
    fn all_scopes(&self) -> [Scope; 6] {
        Scope::ALL
    }
}

async fn account_page(state: &AppState, session: &OperatorSession, id: &str) -> Result<AccountPage, ApiError> {
    let account = state
        .store
        .get_account(id)
        .await?
        .ok_or(ApiError::NotFound("account"))?;
    let keys = state.store.list_api_keys(&account.id).await?;
    Ok(AccountPage {
        chrome: session.chrome(account.name.clone(), "accounts"),
        account,
        keys,
    })
}

pub async fn account(session: OperatorSession, State(state): State<AppState>, Path(id): Path<String>) -> UiResult {
    Ok(render(&account_page(&state, &session, &id).await?))
}

pub async fn create_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<OperatorSession>,
) -> UiResult {
    posted
        .once(async {
            // No box ticked: a key that may do everything, as through the API.
            let scopes: Vec<Scope> = posted
                .form
                .all("scopes")
                .iter()
                .map(|s| Scope::parse(s))
                .collect::<Option<_>>()
                .ok_or_else(|| ApiError::field("scopes", "one of the scopes the form lists"))?;
            let name = Some(posted.form.text("name")).filter(|n| !n.trim().is_empty());
            let (name, scopes) = key_request(NewKey::new(name, (!scopes.is_empty()).then_some(scopes)))?;
            let (key_id, token) = add_api_key(&state, &id, name, scopes).await?;
            let flash = Flash::ok(format!("Created the key {key_id}. The key is shown only now:")).shown(
                "new-api-key",
                "API key",
                token,
            );
            posted.redirect(&state, &format!("/ui/operator/accounts/{id}"), flash)
        })
        .await
}

pub async fn revoke_key(
    State(state): State<AppState>,
    Path((id, key_id)): Path<(String, String)>,
    posted: Posted<OperatorSession>,
) -> UiResult {
    posted
        .once(async {
            revoke_api_key(&state, &id, &key_id).await?;
            let flash = Flash::ok(format!(
                "Revoked the key {key_id}: requests and dashboard sessions with it stop working now."
            ));
            posted.redirect(&state, &format!("/ui/operator/accounts/{id}"), flash)
        })
        .await
}

#[derive(Template)]
#[template(path = "signing_keys.html")]
struct SigningKeysPage {
    chrome: Chrome,
    keys: Vec<KeyView>,
    key_domain: String,
    /// Why the key domain cannot be published, as the API says.
    warning: Option<String>,
}

impl SigningKeysPage {
    fn time(&self, at: &chrono::DateTime<chrono::Utc>) -> Time {
        Time(*at)
    }
}

pub async fn signing_keys(session: OperatorSession, State(state): State<AppState>) -> UiResult {
    let records = state.store.list_signing_keys().await?;
    let keys = signing_keys::views(&records, state.clock.now(), &state.key_domain)?;
    Ok(render(&SigningKeysPage {
        chrome: session.chrome("Signing keys", "signing-keys"),
        keys,
        key_domain: state.key_domain.to_string(),
        warning: state.key_domain_warning.as_deref().map(str::to_owned),
    }))
}

pub async fn rotate(State(state): State<AppState>, posted: Posted<OperatorSession>) -> UiResult {
    posted
        .once(async {
            signing_keys::rotate(state.store.as_ref(), &state.master, state.clock.now(), &state.signature).await?;
            let flash = Flash::ok(
                "Rotated: the new keys are published now and sign after the pre-publication period. \
                 Publish their TXT records.",
            );
            posted.redirect(&state, "/ui/operator/signing-keys", flash)
        })
        .await
}
