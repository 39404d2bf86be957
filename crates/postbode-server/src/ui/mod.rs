//! The dashboard (`/ui`): server-rendered HTML pages (askama templates under
//! `templates/`), a vendored htmx that only improves what already works without
//! JavaScript, and SVG charts drawn here. Every form goes through the same functions as
//! the REST API (`crate::routes`), so the two can never disagree on a rule.
//!
//! One module per page family: sign-in and sessions (`session`), webhooks and their
//! form (`webhooks`, its form in `webhook_form` with the condition editor in
//! `condition`, its health card in `health`, signature snippets in `snippets`),
//! ownership verification (`verification`), the test tool (`test_tool`), the delivery
//! log (`log`, a delivery's page in `delivery`), statistics (`stats`, drawing with
//! `chart`), profile data (`data`) and the operator's pages (`operator`). `page` holds
//! what every page shares; `form` reads posted forms.
//!
//! Every form answers with a redirect to a page (post/redirect/get) that says what it
//! did (`flash`), and acts once however often it is sent (`once`). A form's address
//! opened as a page leads to the page the form is on.

mod assets;
mod chart;
mod condition;
mod data;
mod delivery;
mod flash;
mod form;
mod form_words;
mod health;
mod log;
mod once;
mod operator;
mod page;
mod replay;
mod scope_fields;
mod session;
mod snippets;
mod stats;
mod test_tool;
mod verification;
mod webhook_form;
mod webhooks;

use axum::Router;
use axum::extract::Path;
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};

use crate::state::AppState;

/// A GET on a form's address (a bookmark, a new tab) goes to the page the form is on.
fn to_form(page: fn(&str) -> String) -> axum::routing::MethodRouter<AppState> {
    get(move |Path(id): Path<String>| async move { page::see_other(&page(&id)) })
}

fn webhook_page(id: &str) -> String {
    format!("/ui/webhooks/{id}")
}

async fn to(path: &'static str) -> Response {
    page::see_other(path)
}

/// The dashboard's routes, to be nested under `/ui`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(webhooks::home))
        .route("/sign-in", get(session::sign_in_page).post(session::sign_in))
        .route("/sign-out", post(session::sign_out).get(|| to("/ui")))
        .route("/assets/{name}", get(assets::serve))
        .route("/webhooks", get(webhooks::list))
        .route("/webhooks/new", get(webhook_form::new_form).post(webhook_form::create))
        .route("/webhooks/scope-fields", get(scope_fields::fragment))
        .route(
            "/webhooks/check",
            post(verification::check_all).get(|| to("/ui/webhooks")),
        )
        .route("/webhooks/{id}", get(webhooks::show))
        .route(
            "/webhooks/{id}/edit",
            get(webhook_form::edit_form).post(webhook_form::update),
        )
        .route("/webhooks/{id}/delete", to_form(webhook_page).post(webhooks::delete))
        .route("/webhooks/{id}/secret", to_form(webhook_page).post(webhooks::secret))
        .route("/webhooks/{id}/verification-file", get(verification::download))
        .route(
            "/webhooks/{id}/verify",
            to_form(webhook_page).post(verification::verify),
        )
        .route("/webhooks/{id}/test", get(test_tool::form).post(test_tool::send))
        .route("/webhooks/{id}/log", get(log::list))
        .route("/webhooks/{id}/export/{file}", get(log::export))
        .route(
            "/webhooks/{id}/recover",
            to_form(|id| format!("/ui/webhooks/{id}/log")).post(log::recover),
        )
        .route(
            "/webhooks/{id}/replay",
            to_form(|id| format!("/ui/webhooks/{id}/log")).post(replay::replay),
        )
        .route("/jobs/{id}", get(replay::page))
        .route("/webhooks/{id}/stats", get(stats::webhook))
        .route("/deliveries/{id}", get(delivery::page))
        .route(
            "/deliveries/{id}/resend",
            to_form(|id| format!("/ui/deliveries/{id}")).post(delivery::resend),
        )
        .route("/stats", get(stats::account))
        .route("/databases", get(data::databases))
        .route("/databases/{id}", get(data::database))
        .route("/databases/{id}/profiles", get(data::profiles))
        .route("/profiles/{id}", get(data::profile).post(data::edit_profile))
        .route("/operator", get(operator::accounts).post(operator::create_account))
        .route("/operator/accounts/{id}", get(operator::account))
        .route(
            "/operator/accounts/{id}/keys",
            to_form(|id| format!("/ui/operator/accounts/{id}")).post(operator::create_key),
        )
        .route(
            "/operator/accounts/{id}/keys/{key_id}/revoke",
            get(|Path((id, _)): Path<(String, String)>| async move {
                page::see_other(&format!("/ui/operator/accounts/{id}"))
            })
            .post(operator::revoke_key),
        )
        .route("/operator/signing-keys", get(operator::signing_keys))
        .route(
            "/operator/signing-keys/rotate",
            post(operator::rotate).get(|| to("/ui/operator/signing-keys")),
        )
        .fallback(page::not_found)
        .method_not_allowed_fallback(page::not_allowed)
        .layer(middleware::from_fn(flash::clear_when_shown))
        .layer(middleware::map_response(page::security_headers))
}
