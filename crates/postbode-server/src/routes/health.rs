use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/health", operation_id = "getHealth", tag = "operations", security(()), responses((status = 200, body = crate::openapi::Status), crate::openapi::Errors))]
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The process can serve: its database answers. Whatever keeps it from answering is
/// an outage to wait out (503 with `Retry-After`), never a fault of the request.
#[utoipa::path(get, path = "/ready", operation_id = "getReadiness", tag = "operations", security(()), responses((status = 200, body = crate::openapi::Status), (status = 503, body = crate::openapi::Problem, content_type = "application/problem+json", description = "the database does not answer; Retry-After says when to ask again"), crate::openapi::Errors))]
pub async fn ready(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    state
        .store
        .get_account("")
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(Json(json!({"status": "ready"})))
}
