use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::problem::ApiResult;
use crate::state::AppState;

/// The process is up.
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The process can serve: its database answers.
pub async fn ready(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    state.store.get_account("").await?;
    Ok(Json(json!({"status": "ready"})))
}
