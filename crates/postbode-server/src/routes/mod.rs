mod accounts;
mod checks;
mod events;
mod health;
mod keys;
mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use postbode_core::page::{DEFAULT_LIMIT, MAX_LIMIT, PageRequest};
use serde::Deserialize;

use crate::problem::ApiError;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let limit = state.settings.max_body_bytes;
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/.well-known/postbode/keys", get(keys::well_known))
        .route("/v1/signing-keys", get(keys::list))
        .route("/v1/signing-keys/rotate", post(keys::rotate))
        .route("/v1/accounts", post(accounts::create).get(accounts::list))
        .route("/v1/accounts/{id}/keys", post(accounts::create_key))
        .route("/v1/accounts/{id}/keys/{key_id}", delete(accounts::delete_key))
        .route("/v1/webhooks", post(webhooks::create).get(webhooks::list))
        .route("/v1/webhooks/check", post(checks::check_all))
        .route("/v1/webhooks/{id}/verify", post(checks::verify))
        .route("/v1/webhooks/{id}/test", post(checks::test))
        .route(
            "/v1/webhooks/{id}",
            get(webhooks::get).patch(webhooks::update).delete(webhooks::delete),
        )
        .route("/v1/webhooks/{id}/secret", get(webhooks::secret))
        .route("/v1/webhooks/{id}/secret/rotate", post(webhooks::rotate_secret))
        .route("/v1/webhooks/{id}/verification-file", get(webhooks::verification_file))
        .route("/v1/webhooks/{id}/attempts", get(webhooks::attempts))
        .route("/v1/webhooks/{id}/stats", get(webhooks::stats))
        .route("/v1/webhooks/{id}/recover", post(webhooks::recover))
        .route("/v1/events", post(events::create))
        .route("/v1/events/batch", post(events::create_batch))
        .route("/v1/events/{id}", get(events::get))
        .route("/v1/deliveries/{id}", get(events::get_delivery))
        .route("/v1/deliveries/{id}/resend", post(events::resend))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::BadRequest {
        detail: "this method is not allowed on this route".into(),
        errors: Vec::new(),
    }
}

/// `?limit=` and `?cursor=`, shared by every list.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl Paging {
    pub fn request(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::field("limit", format!("between 1 and {MAX_LIMIT}")));
        }
        Ok(PageRequest {
            after: self.cursor.clone(),
            limit,
        })
    }
}
