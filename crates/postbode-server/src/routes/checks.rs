//! URL ownership verification and the test tool: calls made at once, on request.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use postbode_core::event;
use postbode_core::ids;
use postbode_core::probe::{FileCheck, TestBody, TestReport};
use postbode_core::webhook::{VerificationStatus, Webhook};
use postbode_store::{Attempt, AttemptOutcome, AttemptResult, Trigger};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::webhooks::{all_webhooks, find, log_verification_change};
use crate::auth::{AccountKey, WebhooksWrite};
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

/// Webhooks checked at the same time by `POST /v1/webhooks/check`.
const CHECK_CONCURRENCY: usize = 8;

#[derive(Serialize, utoipa::ToSchema)]
pub struct VerifyAnswer {
    pub(crate) status: VerificationStatus,
    pub(crate) checked: Vec<FileCheck>,
}

#[utoipa::path(post, path = "/v1/webhooks/{id}/verify", operation_id = "verifyWebhook", tag = "webhooks", security(("account_key" = ["webhooks:write"])), params(("id" = String, Path)), responses((status = 200, body = VerifyAnswer), crate::openapi::Errors))]
pub async fn verify(
    key: AccountKey<WebhooksWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<VerifyAnswer>> {
    let webhook = find(&state, &key.account_id, &id).await?;
    Ok(Json(verify_webhook(&state, webhook).await?))
}

/// Fetches the ownership file and stores the result. A webhook that was verified stays
/// verified when a later check fails: the owner may delete the file after success.
pub(crate) async fn verify_webhook(state: &AppState, mut webhook: Webhook) -> ApiResult<VerifyAnswer> {
    let report = state.probe.verify(&webhook).await;
    let verified = report.verified();
    let was_verified = webhook.verification.status == VerificationStatus::Verified;
    let v = &mut webhook.verification;
    v.checked_at = Some(report.checked_at);
    v.outcome = Some(if !verified && was_verified {
        format!("re-check failed, the webhook stays verified: {}", report.summary())
    } else {
        report.summary()
    });
    let before = v.status;
    if verified {
        v.status = VerificationStatus::Verified;
        // The file proves it now, whatever domain did before.
        v.domain = None;
    } else if !was_verified {
        v.status = VerificationStatus::Failed;
    }
    webhook.updated_at = state.clock.now();
    if !state.store.update_webhook(&webhook).await? {
        return Err(ApiError::NotFound("webhook"));
    }
    log_verification_change(&webhook, before, &report.summary());
    Ok(VerifyAnswer {
        status: if verified {
            VerificationStatus::Verified
        } else {
            VerificationStatus::Failed
        },
        checked: report.checked,
    })
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"type": "order.paid", "data": {"order": 42}}))]
pub struct TestRequest {
    #[serde(rename = "type")]
    pub(crate) event_type: Option<String>,
    /// Rendered in the webhook's format like a real event of `type`.
    pub(crate) data: Option<Value>,
    /// Raw post data, sent as typed with the webhook's content type.
    pub(crate) body: Option<String>,
}

#[utoipa::path(post, path = "/v1/webhooks/{id}/test", operation_id = "testWebhook", tag = "webhooks", security(("account_key" = ["webhooks:write"])), params(("id" = String, Path)), request_body = TestRequest, responses((status = 200, body = postbode_core::probe::TestReport), crate::openapi::Errors))]
pub async fn test(
    key: AccountKey<WebhooksWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<TestRequest>,
) -> ApiResult<Json<TestReport>> {
    let webhook = find(&state, &key.account_id, &id).await?;
    Ok(Json(send_test(&state, &key.account_id, &webhook, request).await?))
}

/// The test tool: one real call with the user's post data, refused while the URL is
/// not verified (when verification is required).
pub(crate) async fn send_test(
    state: &AppState,
    account_id: &str,
    webhook: &Webhook,
    request: TestRequest,
) -> ApiResult<TestReport> {
    if state.require_verification && webhook.verification.status != VerificationStatus::Verified {
        return Err(ApiError::Conflict(format!(
            "the webhook's URL is not verified yet, and nothing is sent to an unverified URL: place the file {} \
             (GET /v1/webhooks/{}/verification-file) at {} and call POST /v1/webhooks/{}/verify",
            webhook.verification.file_name,
            webhook.id,
            webhook.verification.file_urls(&webhook.settings.url).join(" or "),
            webhook.id
        )));
    }
    let event_type = request.event_type.unwrap_or_else(|| "test".to_owned());
    event::check_type_name("type", &event_type).map_err(|e| ApiError::Invalid(e.into()))?;
    let body = match (request.data, request.body) {
        (Some(_), Some(_)) => return Err(ApiError::field("body", "send either data or body, not both")),
        (data, None) => {
            let data = data.unwrap_or(Value::Object(Default::default()));
            let event_id = ids::new_id(ids::EVENT);
            let data = serde_json::to_vec(&data).map_err(|e| ApiError::Internal(e.to_string()))?;
            let canonical_json = event::custom_body(&event_id, &event_type, state.clock.now(), &data);
            TestBody::Event {
                event_type,
                canonical_json,
            }
        }
        (None, Some(raw)) => TestBody::Raw {
            event_type,
            body: raw.into_bytes(),
        },
    };
    test_webhook(state, account_id, webhook, body).await
}

/// One real, signed call now, logged as a test attempt and never retried.
async fn test_webhook(state: &AppState, account_id: &str, webhook: &Webhook, body: TestBody) -> ApiResult<TestReport> {
    let delivery_id = ids::new_id(ids::DELIVERY);
    let report = state.probe.test_call(webhook, body, &delivery_id).await;
    let succeeded = report.status_code.is_some_and(|c| (200..300).contains(&c));
    let attempt = Attempt {
        id: ids::new_id(ids::ATTEMPT),
        delivery_id: None,
        webhook_id: webhook.id.clone(),
        event_id: None,
        number: 1,
        trigger: Trigger::Test,
        started_at: report.started_at,
        duration_ms: report.duration_ms,
        status_code: report.status_code,
        error_kind: report.error_kind.clone(),
        error: report.error.clone(),
        // Already cut to `delivery.logged_response_bytes` by the probe.
        response_body: report.response_body.clone(),
    };
    state
        .store
        .record_attempt(AttemptResult {
            account_id: account_id.to_owned(),
            attempt,
            outcome: if succeeded {
                AttemptOutcome::Delivered
            } else {
                AttemptOutcome::Failed
            },
            disable_webhook: None,
            disable_if_failing_since: DateTime::<Utc>::MIN_UTC,
        })
        .await?;
    Ok(report)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CheckLine {
    pub(crate) webhook_id: String,
    pub(crate) url: String,
    /// `test` for a verified webhook, `verify` for the others.
    pub(crate) action: &'static str,
    pub(crate) ok: bool,
    pub(crate) outcome: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CheckAnswer {
    data: Vec<CheckLine>,
}

/// The suite's "check now": a test call to every verified webhook, a new ownership check
/// for the others (a test call to every webhook when verification is not required).
#[utoipa::path(post, path = "/v1/webhooks/check", operation_id = "checkWebhooks", tag = "webhooks", security(("account_key" = ["webhooks:write"])), responses((status = 200, body = CheckAnswer), crate::openapi::Errors))]
pub async fn check_all(key: AccountKey<WebhooksWrite>, State(state): State<AppState>) -> ApiResult<Json<CheckAnswer>> {
    Ok(Json(CheckAnswer {
        data: check_all_webhooks(&state, &key.account_id).await?,
    }))
}

pub(crate) async fn check_all_webhooks(state: &AppState, account_id: &str) -> ApiResult<Vec<CheckLine>> {
    let webhooks = all_webhooks(state, account_id).await?;
    let lines: Vec<ApiResult<CheckLine>> = futures_util::stream::iter(webhooks)
        .map(|webhook| check_one(state, account_id, webhook))
        .buffered(CHECK_CONCURRENCY)
        .collect()
        .await;
    lines.into_iter().collect()
}

async fn check_one(state: &AppState, account_id: &str, webhook: Webhook) -> ApiResult<CheckLine> {
    let (webhook_id, url) = (webhook.id.clone(), webhook.settings.url.clone());
    // Without the requirement every webhook receives calls, so every one is tested.
    if !state.require_verification || webhook.verification.status == VerificationStatus::Verified {
        let canonical_json = event::custom_body(&ids::new_id(ids::EVENT), "test", state.clock.now(), b"{}");
        let body = TestBody::Event {
            event_type: "test".into(),
            canonical_json,
        };
        let report = test_webhook(state, account_id, &webhook, body).await?;
        let ok = report.status_code.is_some_and(|c| (200..300).contains(&c));
        let outcome = match (report.status_code, &report.error) {
            (Some(code), _) => format!("HTTP {code} in {} ms", report.duration_ms),
            (None, Some(error)) => error.clone(),
            (None, None) => "no answer".into(),
        };
        Ok(CheckLine {
            webhook_id,
            url,
            action: "test",
            ok,
            outcome,
        })
    } else {
        let answer = verify_webhook(state, webhook).await?;
        let outcome = answer
            .checked
            .iter()
            .map(|c| format!("{}: {}", c.url, c.outcome))
            .collect::<Vec<_>>()
            .join("; ");
        Ok(CheckLine {
            webhook_id,
            url,
            action: "verify",
            ok: answer.status == VerificationStatus::Verified,
            outcome,
        })
    }
}
