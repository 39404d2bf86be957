//! Accounts and their API keys: the operator's routes, and `GET /v1/account` for a
//! key holder to learn whose key it is.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use postbode_core::ids;
use postbode_core::page::Page;
use postbode_store::{Account, ApiKey};
use serde::{Deserialize, Serialize};

use super::Paging;
use crate::auth::{AccountKey, Operator, new_api_key};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
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
                created_at: now,
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

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    id: String,
    api_key: String,
}

#[utoipa::path(post, path = "/v1/accounts/{id}/keys", operation_id = "createAccountKey", tag = "accounts", security(("operator_token" = [])), params(("id" = String, Path)), responses((status = 201, body = CreatedKey), crate::openapi::Errors))]
pub async fn create_key(
    _: Operator,
    State(state): State<AppState>,
    ApiPath(account_id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    let (id, api_key) = add_api_key(&state, &account_id).await?;
    Ok((StatusCode::CREATED, Json(CreatedKey { id, api_key })))
}

/// A new API key for the account; returns its id and token (shown once).
pub(crate) async fn add_api_key(state: &AppState, account_id: &str) -> ApiResult<(String, String)> {
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
            created_at: state.clock.now(),
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
