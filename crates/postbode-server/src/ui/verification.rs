//! The verification panel's actions: the ownership file as a download, Verify (the
//! outcome per URL), and "Check now" for every webhook, through the API's own checks
//! (`routes::checks`).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use super::page::{Chrome, UiResult, render};
use super::session::{AccountSession, Posted};
use super::webhooks::WebhookPage;
use crate::routes::checks::{CheckLine, check_all_webhooks, verify_webhook};
use crate::routes::webhooks::{find, verification_file_download};
use crate::state::AppState;

pub async fn download(session: AccountSession, State(state): State<AppState>, Path(id): Path<String>) -> UiResult {
    let webhook = find(&state, &session.account_id, &id).await?;
    Ok(verification_file_download(webhook))
}

pub async fn verify(State(state): State<AppState>, Path(id): Path<String>, posted: Posted<AccountSession>) -> UiResult {
    let session = posted.session;
    let webhook = find(&state, &session.account_id, &id).await?;
    let answer = verify_webhook(&state, webhook).await?;
    let mut page = WebhookPage::load(&state, &session, &id).await?;
    page.checked = Some((
        answer.status == postbode_core::webhook::VerificationStatus::Verified,
        answer.checked,
    ));
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "check.html")]
struct CheckPage {
    chrome: Chrome,
    lines: Vec<CheckLine>,
}

pub async fn check_all(
    State(state): State<AppState>,
    posted: Posted<AccountSession>,
) -> Result<Response, super::page::UiError> {
    let lines = check_all_webhooks(&state, &posted.session.account_id).await?;
    Ok(render(&CheckPage {
        chrome: posted.session.chrome("Check now", "webhooks"),
        lines,
    }))
}
