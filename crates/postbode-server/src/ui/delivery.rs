//! A delivery's page: the event, every attempt, what comes next, the request its calls
//! carry and that request as a `curl` command (signed now, so it can be sent to a
//! receiver again); Resend, which says when the new attempt goes.

use askama::Template;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use postbode_core::webhook::{SignatureScheme, Webhook};
use postbode_signature::standard_webhooks::{self, Secret};
use postbode_store::{Attempt, Delivery, EventRecord};

use super::flash::Flash;
use super::log::next_step;
use super::page::{Chrome, CopyId, MaybeTime, Time, UiResult, render};
use super::session::{AccountSession, Posted};
use super::webhooks::attempt_result;
use crate::problem::ApiError;
use crate::routes::events::{find_delivery, resend_delivery};
use crate::routes::webhooks::{find, secrets};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "delivery.html")]
struct DeliveryPage {
    chrome: Chrome,
    delivery: Delivery,
    event: EventRecord,
    webhook: Webhook,
    attempts: Vec<Attempt>,
    /// The headers every call of this delivery carries (signature values differ per
    /// attempt and are not logged).
    headers: Vec<(String, String)>,
    next: String,
    curl: String,
}

impl DeliveryPage {
    fn body(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.event.body)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| String::from_utf8_lossy(&self.event.body).into_owned())
    }

    fn time(&self, at: &DateTime<Utc>) -> Time {
        Time(*at)
    }

    fn created(&self) -> Time {
        Time(self.delivery.created_at)
    }

    fn delivered(&self) -> MaybeTime {
        MaybeTime(self.delivery.delivered_at)
    }

    fn result(&self, attempt: &Attempt) -> String {
        attempt_result(attempt)
    }

    fn id(&self) -> CopyId<'_> {
        CopyId(&self.delivery.id)
    }

    fn event_id(&self) -> CopyId<'_> {
        CopyId(&self.event.id)
    }

    fn signs_elsewhere(&self) -> bool {
        self.webhook
            .settings
            .signatures
            .iter()
            .any(|s| *s != SignatureScheme::StandardWebhooks)
    }
}

/// What a call of this delivery carries besides its body.
fn call_headers(webhook: &Webhook, delivery: &Delivery, event_type: &str) -> Vec<(String, String)> {
    let signed = "(signed at send time)".to_owned();
    let mut headers: Vec<(String, String)> = webhook
        .settings
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    headers.push(("Content-Type".into(), webhook.settings.format.content_type().into()));
    headers.push(("X-Postbode-Delivery".into(), delivery.id.clone()));
    headers.push(("X-Postbode-Event".into(), event_type.to_owned()));
    for scheme in &webhook.settings.signatures {
        match scheme {
            SignatureScheme::StandardWebhooks => {
                headers.push(("webhook-id".into(), delivery.id.clone()));
                headers.push(("webhook-timestamp".into(), signed.clone()));
                headers.push(("webhook-signature".into(), signed.clone()));
            }
            SignatureScheme::HttpSignature => {
                headers.push(("Digest".into(), signed.clone()));
                headers.push(("Signature".into(), signed.clone()));
            }
            SignatureScheme::Rfc9421 => {
                headers.push(("Content-Digest".into(), signed.clone()));
                headers.push(("Signature-Input".into(), signed.clone()));
                headers.push(("Signature".into(), signed.clone()));
            }
        }
    }
    headers
}

/// A text as one shell word.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The call as a `curl` command: the body in the webhook's format, its headers, and a
/// Standard Webhooks signature made now with the current secret (receivers accept it
/// for five minutes). The other schemes sign with Postbode's private keys, at send time
/// only.
fn curl(state: &AppState, webhook: &Webhook, delivery: &Delivery, event: &EventRecord) -> Result<String, ApiError> {
    let body = postbode_core::render::render(webhook.settings.format, &event.body)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut lines = vec![format!("curl -sS -X POST {}", shell_quote(&webhook.settings.url))];
    let mut header = |name: &str, value: &str| lines.push(format!("-H {}", shell_quote(&format!("{name}: {value}"))));
    for (name, value) in &webhook.settings.headers {
        header(name, value);
    }
    header("Content-Type", webhook.settings.format.content_type());
    header("X-Postbode-Delivery", &delivery.id);
    header("X-Postbode-Event", &event.event_type);
    if webhook.settings.signatures.contains(&SignatureScheme::StandardWebhooks) {
        let (plain, _) = secrets(state, webhook)?;
        let secret = Secret::parse(&plain).map_err(|e| ApiError::Internal(e.to_string()))?;
        let timestamp = state.clock.now().timestamp();
        header("webhook-id", &delivery.id);
        header("webhook-timestamp", &timestamp.to_string());
        header(
            "webhook-signature",
            &standard_webhooks::sign(&secret, &delivery.id, timestamp, &body),
        );
    }
    lines.push(format!(
        "--data-binary {}",
        shell_quote(&String::from_utf8_lossy(&body))
    ));
    Ok(lines.join(" \\\n  "))
}

async fn load(state: &AppState, session: &AccountSession, id: &str) -> UiResult<DeliveryPage> {
    let account = &session.account_id;
    let delivery = find_delivery(state, account, id).await?;
    let (event, _) = state
        .store
        .get_event(account, &delivery.event_id)
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    let webhook = find(state, account, &delivery.webhook_id).await?;
    let attempts = state.store.delivery_attempts(account, &delivery.id).await?;
    Ok(DeliveryPage {
        chrome: session.chrome(format!("Delivery {}", delivery.id), "webhooks"),
        headers: call_headers(&webhook, &delivery, &event.event_type),
        next: next_step(state, &webhook, &delivery, state.clock.now()),
        curl: curl(state, &webhook, &delivery, &event)?,
        delivery,
        event,
        webhook,
        attempts,
    })
}

pub async fn page(session: AccountSession, State(state): State<AppState>, Path(id): Path<String>) -> UiResult {
    Ok(render(&load(&state, &session, &id).await?))
}

/// A new attempt on the same delivery; the flash says when it goes: now, or when what
/// holds the webhook's calls lets go.
pub async fn resend(State(state): State<AppState>, Path(id): Path<String>, posted: Posted<AccountSession>) -> UiResult {
    posted
        .once(async {
            let account = &posted.session.account_id;
            let delivery = resend_delivery(&state, account, &id).await?;
            let webhook = find(&state, account, &delivery.webhook_id).await?;
            let next = next_step(&state, &webhook, &delivery, state.clock.now());
            let flash = if next.starts_with("held") {
                Flash::warn(format!("Sent again, with the same delivery id; the attempt is {next}."))
            } else {
                Flash::ok("Sent again: a new attempt goes out now, with the same delivery id.")
            };
            posted.redirect(&state, &format!("/ui/deliveries/{id}"), flash)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shell_word_keeps_its_quotes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("a b"), "'a b'");
    }
}
