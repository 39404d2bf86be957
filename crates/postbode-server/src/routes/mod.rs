pub(crate) mod accounts;
pub(crate) mod checks;
pub(crate) mod databases;
pub(crate) mod domains;
pub(crate) mod event_types;
pub(crate) mod events;
pub(crate) mod health;
pub(crate) mod import;
pub(crate) mod keys;
pub(crate) mod messages;
pub(crate) mod profiles;
pub(crate) mod replay;
pub(crate) mod tracking;
pub(crate) mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::DefaultBodyLimit as BodyLimit;
use axum::routing::{delete, get, post};
use postbode_core::page::PageRequest;
use serde::Deserialize;

use crate::problem::ApiError;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let limit = state.settings.max_body_bytes;
    routes()
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(crate::telemetry::observe))
        .with_state(state)
}

/// Every route and its handler (the OpenAPI document lists the same, see `openapi`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/.well-known/postbode/keys", get(keys::well_known))
        .route("/v1/signing-keys", get(keys::list))
        .route("/v1/signing-keys/rotate", post(keys::rotate))
        .route("/v1/account", get(accounts::current))
        .route("/v1/accounts", post(accounts::create).get(accounts::list))
        .route(
            "/v1/accounts/{id}/keys",
            post(accounts::create_key).get(accounts::list_keys),
        )
        .route("/v1/accounts/{id}/keys/{key_id}", delete(accounts::delete_key))
        .route("/v1/domains", post(domains::create).get(domains::list))
        .route("/v1/domains/{id}", get(domains::get).delete(domains::delete))
        .route("/v1/domains/{id}/validate", post(domains::validate))
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
        .route("/v1/webhooks/{id}/deliveries", get(events::list_deliveries))
        .route("/v1/webhooks/{id}/recover", post(webhooks::recover))
        .route("/v1/event-types", get(event_types::list).post(event_types::create))
        .route(
            "/v1/event-types/{name}",
            get(event_types::get)
                .patch(event_types::update)
                .delete(event_types::delete),
        )
        .route("/v1/webhooks/{id}/replay", post(replay::replay))
        .route("/v1/jobs/{id}", get(replay::get_job))
        .route("/v1/events", post(events::create))
        .route("/v1/events/batch", post(events::create_batch))
        .route("/v1/events/{id}", get(events::get))
        .route("/v1/deliveries/{id}", get(events::get_delivery))
        .route("/v1/deliveries/{id}/resend", post(events::resend))
        .route("/v1/databases", post(databases::create).get(databases::list))
        .route(
            "/v1/databases/{id}",
            get(databases::get).patch(databases::update).delete(databases::delete),
        )
        .route(
            "/v1/databases/{id}/collections",
            post(databases::create_collection).get(databases::list_collections),
        )
        .route(
            "/v1/collections/{id}",
            get(databases::get_collection)
                .patch(databases::update_collection)
                .delete(databases::delete_collection),
        )
        .route(
            "/v1/databases/{id}/profiles",
            post(profiles::create).get(profiles::list),
        )
        // The import body is streamed and bounded by `server.max_import_bytes` instead.
        .route(
            "/v1/databases/{id}/import",
            post(import::import).layer(BodyLimit::disable()),
        )
        .route(
            "/v1/profiles/{id}",
            get(profiles::get)
                .put(profiles::replace)
                .patch(profiles::merge)
                .delete(profiles::delete),
        )
        .route(
            "/v1/profiles/{id}/subprofiles",
            post(profiles::create_subprofile).get(profiles::list_subprofiles),
        )
        .route(
            "/v1/subprofiles/{id}",
            get(profiles::get_subprofile)
                .put(profiles::replace_subprofile)
                .patch(profiles::merge_subprofile)
                .delete(profiles::delete_subprofile),
        )
        .route("/v1/messages", post(messages::create))
        .route("/v1/messages/{id}/links", post(messages::link))
        .route("/v1/messages/{id}/deliveries", post(messages::delivery))
        .route("/v1/messages/{id}/bounces", post(messages::bounce))
        .route("/v1/messages/{id}/failures", post(messages::failure))
        .route("/v1/messages/{id}/abuses", post(messages::abuse))
        .route("/v1/messages/{id}/unsubscribes", post(messages::unsubscribe_report))
        .route("/t/o/{token}", get(tracking::open))
        .route("/t/c/{token}", get(tracking::click))
        .nest("/ui", crate::ui::router())
        .route("/metrics", get(crate::telemetry::metrics))
        .route("/openapi.json", get(crate::openapi::serve))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}

/// Axum adds the `Allow` header listing the route's methods to this answer.
async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// `?limit=` and `?cursor=`, shared by every list.
#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl Paging {
    /// The page of a list of `kind` ids (`ids::WEBHOOK`, ...).
    pub fn request(self, kind: &str) -> Result<PageRequest, ApiError> {
        PageRequest::new(self.limit, self.cursor, kind).map_err(|e| ApiError::Invalid(e.into()))
    }
}
