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

pub async fn list(_: Operator, State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let keys = state.store.list_signing_keys().await?;
    let views = signing_keys::views(&keys, state.clock.now(), &state.key_domain)?;
    Ok(Json(json!({ "data": views })))
}

pub async fn rotate(_: Operator, State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let now = state.clock.now();
    signing_keys::rotate(state.store.as_ref(), &state.master, now, &state.signature).await?;
    let keys = state.store.list_signing_keys().await?;
    let views = signing_keys::views(&keys, now, &state.key_domain)?;
    Ok(Json(json!({ "data": views })))
}
