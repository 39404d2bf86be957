//! The operator's pages: accounts with their API keys (create, revoke), and the signing
//! keys with their states and DNS TXT records (what `GET /v1/signing-keys` shows), and
//! rotation.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use postbode_core::page::PageRequest;
use postbode_store::{Account, ApiKeyInfo};
use serde::Deserialize;

use super::form::Errors;
use super::page::{Chrome, UiResult, render, render_with, see_other};
use super::session::{OperatorSession, Posted};
use crate::problem::ApiError;
use crate::routes::accounts::{add_api_key, create_account as new_account, revoke_api_key};
use crate::signing_keys::{self, KeyView};
use crate::state::AppState;

const PAGE_SIZE: u32 = 50;

#[derive(Template)]
#[template(path = "operator_accounts.html")]
struct AccountsPage {
    chrome: Chrome,
    accounts: Vec<Account>,
    next: Option<String>,
    /// The account just created, with its first key (shown once).
    created: Option<(Account, String)>,
    name: String,
    errors: Errors,
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
        created: None,
        name: String::new(),
        errors: Errors::default(),
    })
}

pub async fn accounts(session: OperatorSession, State(state): State<AppState>, Query(q): Query<Cursor>) -> UiResult {
    Ok(render(&accounts_page(&state, &session, q.cursor).await?))
}

pub async fn create_account(State(state): State<AppState>, posted: Posted<OperatorSession>) -> UiResult {
    let name = posted.form.text("name");
    let created = new_account(&state, &name).await;
    let mut page = accounts_page(&state, &posted.session, None).await?;
    match created {
        Ok(created) => {
            page.created = Some(created);
            Ok(render_with(StatusCode::CREATED, &page))
        }
        Err(e) => {
            page.errors = Errors::from_refusal(e)?;
            page.name = name;
            Ok(render_with(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

#[derive(Template)]
#[template(path = "operator_account.html")]
struct AccountPage {
    chrome: Chrome,
    account: Account,
    keys: Vec<ApiKeyInfo>,
    /// A key just made: its id and token (shown once).
    new_key: Option<(String, String)>,
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
        new_key: None,
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
    let key = add_api_key(&state, &id).await?;
    let mut page = account_page(&state, &posted.session, &id).await?;
    page.new_key = Some(key);
    Ok(render_with(StatusCode::CREATED, &page))
}

pub async fn revoke_key(
    State(state): State<AppState>,
    Path((id, key_id)): Path<(String, String)>,
    posted: Posted<OperatorSession>,
) -> UiResult {
    let _ = &posted.session;
    revoke_api_key(&state, &id, &key_id).await?;
    Ok(see_other(&format!("/ui/operator/accounts/{id}")))
}

#[derive(Template)]
#[template(path = "signing_keys.html")]
struct SigningKeysPage {
    chrome: Chrome,
    keys: Vec<KeyView>,
    key_domain: String,
}

impl SigningKeysPage {
    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        super::page::when(*at)
    }
}

pub async fn signing_keys(session: OperatorSession, State(state): State<AppState>) -> UiResult {
    let records = state.store.list_signing_keys().await?;
    let keys = signing_keys::views(&records, state.clock.now(), &state.key_domain)?;
    Ok(render(&SigningKeysPage {
        chrome: session.chrome("Signing keys", "signing-keys"),
        keys,
        key_domain: state.key_domain.to_string(),
    }))
}

pub async fn rotate(State(state): State<AppState>, posted: Posted<OperatorSession>) -> UiResult {
    let _ = &posted.session;
    signing_keys::rotate(state.store.as_ref(), &state.master, state.clock.now(), &state.signature).await?;
    Ok(see_other("/ui/operator/signing-keys"))
}
