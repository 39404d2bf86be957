//! Accounts and their API keys: the operator's routes, and `GET /v1/account` for a
//! key holder to learn whose key it is.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use postbode_core::ids;
use postbode_core::page::Page;
use postbode_core::scope::{Scope, Scopes};
use postbode_store::{Account, ApiKey, ApiKeyInfo};
use serde::{Deserialize, Serialize};

use super::Paging;
use crate::auth::{AccountKey, Operator, new_api_key};
use crate::extract::{ApiJson, ApiPath, ApiQuery, OptionalApiJson};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedAccount {
    #[serde(flatten)]
    account: Account,
    api_key: String,
}

#[utoipa::path(post, path = "/v1/accounts", operation_id = "createAccount", tag = "accounts", security(("operator_token" = [])), request_body = NewAccount, responses((status = 201, body = CreatedAccount), crate::openapi::Errors))]
pub async fn create(
    _: Operator,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewAccount>,
) -> ApiResult<(StatusCode, Json<CreatedAccount>)> {
    let (account, api_key) = create_account(&state, &body.name).await?;
    Ok((StatusCode::CREATED, Json(CreatedAccount { account, api_key })))
}

/// A new account with its first API key; returns the key's token, to show once.
pub(crate) async fn create_account(state: &AppState, name: &str) -> ApiResult<(Account, String)> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::field("name", "1 to 200 characters"));
    }
    let now = state.clock.now();
    let account = Account {
        id: ids::new_id(ids::ACCOUNT),
        name: name.to_owned(),
        created_at: now,
    };
    let key = new_api_key()?;
    state
        .store
        .create_account(
            &account,
            &ApiKey {
                id: key.id,
                account_id: account.id.clone(),
                secret_hash: key.secret_hash.to_vec(),
                name: None,
                scopes: Scopes::default(),
                created_at: now,
                last_used_at: None,
            },
        )
        .await?;
    Ok((account, key.token))
}

#[utoipa::path(get, path = "/v1/accounts", operation_id = "listAccounts", tag = "accounts", security(("operator_token" = [])), params(Paging), responses((status = 200, body = Page<postbode_store::Account>), crate::openapi::Errors))]
pub async fn list(
    _: Operator,
    State(state): State<AppState>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> ApiResult<Json<Page<Account>>> {
    Ok(Json(state.store.list_accounts(&paging.request(ids::ACCOUNT)?).await?))
}

/// A new key's name and what it may do; both optional (no scopes: `manage`).
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key is for ("billing backend"), 1 to 100 characters.
    name: Option<String>,
    /// `manage` (everything) when left out.
    scopes: Option<Vec<Scope>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    id: String,
    /// The token, shown this once.
    api_key: String,
    name: Option<String>,
    scopes: Vec<Scope>,
}

#[utoipa::path(post, path = "/v1/accounts/{id}/keys", operation_id = "createAccountKey", tag = "accounts", security(("operator_token" = [])), params(("id" = String, Path)), request_body(content = Option<NewKey>, description = "Optional: a name and scopes"), responses((status = 201, body = CreatedKey), crate::openapi::Errors))]
pub async fn create_key(
    _: Operator,
    State(state): State<AppState>,
    ApiPath(account_id): ApiPath<String>,
    OptionalApiJson(body): OptionalApiJson<NewKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    let (name, scopes) = key_request(body.unwrap_or_default())?;
    let (id, api_key) = add_api_key(&state, &account_id, name.clone(), scopes.clone()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            id,
            api_key,
            name,
            scopes: scopes.list().to_vec(),
        }),
    ))
}

impl NewKey {
    pub(crate) fn new(name: Option<String>, scopes: Option<Vec<Scope>>) -> NewKey {
        NewKey { name, scopes }
    }
}

/// A key request's name and scopes, checked.
pub(crate) fn key_request(body: NewKey) -> ApiResult<(Option<String>, Scopes)> {
    let name = body.name.map(|n| n.trim().to_owned());
    if name.as_ref().is_some_and(|n| n.is_empty() || n.chars().count() > 100) {
        return Err(ApiError::field("name", "1 to 100 characters, or leave it out"));
    }
    let scopes = match body.scopes {
        Some(scopes) if scopes.is_empty() => {
            return Err(ApiError::field(
                "scopes",
                "at least one scope; leave the field out for a key that may do everything (manage)",
            ));
        }
        Some(scopes) => Scopes::new(scopes),
        None => Scopes::default(),
    };
    Ok((name, scopes))
}

#[utoipa::path(get, path = "/v1/accounts/{id}/keys", operation_id = "listAccountKeys", tag = "accounts", security(("operator_token" = [])), params(("id" = String, Path)), responses((status = 200, body = Vec<ApiKeyInfo>), crate::openapi::Errors))]
pub async fn list_keys(
    _: Operator,
    State(state): State<AppState>,
    ApiPath(account_id): ApiPath<String>,
) -> ApiResult<Json<Vec<ApiKeyInfo>>> {
    state
        .store
        .get_account(&account_id)
        .await?
        .ok_or(ApiError::NotFound("account"))?;
    Ok(Json(state.store.list_api_keys(&account_id).await?))
}

/// A new API key for the account; returns its id and token (shown once).
pub(crate) async fn add_api_key(
    state: &AppState,
    account_id: &str,
    name: Option<String>,
    scopes: Scopes,
) -> ApiResult<(String, String)> {
    state
        .store
        .get_account(account_id)
        .await?
        .ok_or(ApiError::NotFound("account"))?;
    let key = new_api_key()?;
    state
        .store
        .create_api_key(&ApiKey {
            id: key.id.clone(),
            account_id: account_id.to_owned(),
            secret_hash: key.secret_hash.to_vec(),
            name,
            scopes,
            created_at: state.clock.now(),
            last_used_at: None,
        })
        .await?;
    Ok((key.id, key.token))
}

#[utoipa::path(delete, path = "/v1/accounts/{id}/keys/{key_id}", operation_id = "deleteAccountKey", tag = "accounts", security(("operator_token" = [])), params(("id" = String, Path), ("key_id" = String, Path)), responses((status = 204), crate::openapi::Errors))]
pub async fn delete_key(
    _: Operator,
    State(state): State<AppState>,
    ApiPath((account_id, key_id)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    revoke_api_key(&state, &account_id, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the key; requests (and dashboard sessions) made with it stop working at once
/// on this node.
pub(crate) async fn revoke_api_key(state: &AppState, account_id: &str, key_id: &str) -> ApiResult<()> {
    if state.store.delete_api_key(account_id, key_id).await? {
        state.keys.forget(key_id);
        Ok(())
    } else {
        Err(ApiError::NotFound("API key"))
    }
}

/// The account the key belongs to (its id is what `postbode verify --account` needs).
#[utoipa::path(get, path = "/v1/account", operation_id = "getAccount", tag = "accounts", security(("account_key" = [])), responses((status = 200, body = postbode_store::Account), crate::openapi::Errors))]
pub async fn current(key: AccountKey, State(state): State<AppState>) -> ApiResult<Json<Account>> {
    let account = state
        .store
        .get_account(&key.account_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(Json(account))
}
