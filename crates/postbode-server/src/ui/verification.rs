//! The verification panel's actions: the ownership file as a download, Verify (the
//! outcome per URL), and "Check now" for every webhook, through the API's own checks
//! (`routes::checks`). Both say what they found on the page they redirect to.

use axum::extract::{Path, State};

use super::flash::Flash;
use super::page::UiResult;
use super::session::{AccountSession, Posted};
use crate::routes::checks::{check_all_webhooks, verify_webhook};
use crate::routes::webhooks::{find, verification_file_download};
use crate::state::AppState;

pub async fn download(session: AccountSession, State(state): State<AppState>, Path(id): Path<String>) -> UiResult {
    let webhook = find(&state, &session.account_id, &id).await?;
    Ok(verification_file_download(webhook))
}

pub async fn verify(State(state): State<AppState>, Path(id): Path<String>, posted: Posted<AccountSession>) -> UiResult {
    posted
        .once(async {
            let webhook = find(&state, &posted.session.account_id, &id).await?;
            let answer = verify_webhook(&state, webhook).await?;
            let mut flash = if answer.status == postbode_core::webhook::VerificationStatus::Verified {
                Flash::ok("Verified.")
            } else {
                Flash::bad("Not verified: the file was not found with its content at any of these places.")
            };
            for check in &answer.checked {
                flash = flash.line(format!("{}: {}", check.url, check.outcome));
            }
            posted.redirect(&state, &format!("/ui/webhooks/{id}#verification"), flash)
        })
        .await
}

/// A test call to every verified webhook, a new ownership check for the others; the
/// list shows each one's state and last call, the flash what failed.
pub async fn check_all(State(state): State<AppState>, posted: Posted<AccountSession>) -> UiResult {
    posted
        .once(async {
            let lines = check_all_webhooks(&state, &posted.session.account_id).await?;
            let failed: Vec<_> = lines.iter().filter(|l| !l.ok).collect();
            let count = |n: usize| {
                if n == 1 {
                    "1 webhook".to_owned()
                } else {
                    format!("{n} webhooks")
                }
            };
            let mut flash = if failed.is_empty() {
                Flash::ok(format!("Checked {}: all answered.", count(lines.len())))
            } else {
                Flash::warn(format!(
                    "Checked {}: {} did not pass.",
                    count(lines.len()),
                    failed.len()
                ))
            };
            for line in failed {
                flash = flash.line(format!("{} ({}): {}", line.url, line.action, line.outcome));
            }
            posted.redirect(&state, "/ui/webhooks", flash)
        })
        .await
}
