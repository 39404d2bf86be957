//! The dashboard (`/ui`): server-rendered HTML pages (askama templates under
//! `templates/`), a vendored htmx that only improves what already works without
//! JavaScript, and SVG charts drawn here. Every form goes through the same functions as
//! the REST API (`crate::routes`), so the two can never disagree on a rule.
//!
//! One module per page family: sign-in and sessions (`session`), webhooks and their
//! form (`webhooks`, its form in `webhook_form` with the condition editor in
//! `condition`, its health card in `health`), ownership verification
//! (`verification`), the test tool (`test_tool`), the delivery log (`log`),
//! statistics (`stats`, drawing with `chart`), profile data (`data`) and the operator's
//! pages (`operator`). `page` holds what every page shares; `form` reads posted forms.

mod assets;
mod chart;
mod condition;
mod data;
mod form;
mod health;
mod log;
mod operator;
mod page;
mod session;
mod stats;
mod test_tool;
mod verification;
mod webhook_form;
mod webhooks;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};

use crate::state::AppState;

/// The dashboard's routes, to be nested under `/ui`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(webhooks::home))
        .route("/sign-in", get(session::sign_in_page).post(session::sign_in))
        .route("/sign-out", post(session::sign_out))
        .route("/assets/{name}", get(assets::serve))
        .route("/webhooks", get(webhooks::list))
        .route("/webhooks/new", get(webhook_form::new_form).post(webhook_form::create))
        .route("/webhooks/check", post(verification::check_all))
        .route("/webhooks/{id}", get(webhooks::show))
        .route(
            "/webhooks/{id}/edit",
            get(webhook_form::edit_form).post(webhook_form::update),
        )
        .route("/webhooks/{id}/delete", post(webhooks::delete))
        .route("/webhooks/{id}/secret", post(webhooks::secret))
        .route("/webhooks/{id}/verification-file", get(verification::download))
        .route("/webhooks/{id}/verify", post(verification::verify))
        .route("/webhooks/{id}/test", get(test_tool::form).post(test_tool::send))
        .route("/webhooks/{id}/log", get(log::list))
        .route("/webhooks/{id}/export/{format}", get(log::export))
        .route("/webhooks/{id}/recover", post(log::recover))
        .route("/webhooks/{id}/stats", get(stats::webhook))
        .route("/deliveries/{id}", get(log::delivery))
        .route("/deliveries/{id}/resend", post(log::resend))
        .route("/stats", get(stats::account))
        .route("/databases", get(data::databases))
        .route("/databases/{id}", get(data::database))
        .route("/databases/{id}/profiles", get(data::profiles))
        .route("/profiles/{id}", get(data::profile).post(data::edit_profile))
        .route("/operator", get(operator::accounts).post(operator::create_account))
        .route("/operator/accounts/{id}", get(operator::account))
        .route("/operator/accounts/{id}/keys", post(operator::create_key))
        .route(
            "/operator/accounts/{id}/keys/{key_id}/revoke",
            post(operator::revoke_key),
        )
        .route("/operator/signing-keys", get(operator::signing_keys))
        .route("/operator/signing-keys/rotate", post(operator::rotate))
        .fallback(page::not_found)
        .layer(middleware::map_response(page::security_headers))
}
