//! Publishing Postbode's signing keys, and rotating them on demand.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::auth::Operator;
use crate::problem::ApiResult;
use crate::signing_keys;
use crate::state::AppState;

/// Public: what receivers fetch and cache to verify calls.
#[utoipa::path(get, path = "/.well-known/postbode/keys", operation_id = "getKeySet", tag = "signing keys", security(()), responses((status = 200, body = crate::openapi::KeySet, description = "the key set receivers fetch (docs/payloads.md)"), crate::openapi::Errors))]
pub async fn well_known(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let keys = state.store.list_signing_keys().await?;
    let set = signing_keys::key_set(&keys, state.clock.now(), &state.key_domain)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            // Short enough that a rotation (published 48 h ahead) is always seen in time.
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        set.to_json(),
    ))
}

#[utoipa::path(get, path = "/v1/signing-keys", operation_id = "listSigningKeys", tag = "signing keys", security(("operator_token" = [])), responses((status = 200, body = crate::openapi::SigningKeys), crate::openapi::Errors))]
pub async fn list(_: Operator, State(state): State<AppState>) -> ApiResult<Json<Value>> {
    operator_view(&state).await
}

#[utoipa::path(post, path = "/v1/signing-keys/rotate", operation_id = "rotateSigningKeys", tag = "signing keys", security(("operator_token" = [])), responses((status = 200, body = crate::openapi::SigningKeys), crate::openapi::Errors))]
pub async fn rotate(_: Operator, State(state): State<AppState>) -> ApiResult<Json<Value>> {
    signing_keys::rotate(state.store.as_ref(), &state.master, state.clock.now(), &state.signature).await?;
    operator_view(&state).await
}

/// The published keys with their DNS records, the key domain, and a warning when that
/// domain cannot be published.
async fn operator_view(state: &AppState) -> ApiResult<Json<Value>> {
    let keys = state.store.list_signing_keys().await?;
    let views = signing_keys::views(&keys, state.clock.now(), &state.key_domain)?;
    Ok(Json(json!({
        "data": views,
        "key_domain": &*state.key_domain,
        "warning": state.key_domain_warning.as_deref(),
    })))
}
