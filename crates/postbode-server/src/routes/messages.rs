//! Sent messages: registering one (which makes its open pixel URL), its click URLs, and
//! the delivery reports that become `delivery`, `bounce`, `failure`, `abuse` and
//! `unsubscribe` events.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use postbode_core::ValidationError;
use postbode_core::ids;
use postbode_core::mail::{
    AbuseReport, BounceReport, DeliveryReport, FailureReport, MailEvent, Mailing, UnsubscribeReport, check_recipient,
};
use postbode_store::{MailRequest, Message, MessageContext};
use serde::{Deserialize, Serialize};

use super::events::Accepted;
use crate::auth::{AccountKey, EventsWrite, Needs};
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tracking::MAX_URL_LEN;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"mailing": {"id": "spring-2026", "tags": ["spring"]}, "email": "piet@example.com"}))]
pub struct MessageRequest {
    mailing: Mailing,
    email: String,
    #[serde(default)]
    profile_id: Option<String>,
    #[serde(default)]
    subprofile_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MessageView {
    id: String,
    open_url: String,
}

#[utoipa::path(post, path = "/v1/messages", operation_id = "createMessage", tag = "messages", security(("account_key" = ["events:write"])), request_body = MessageRequest, responses((status = 201, body = MessageView), crate::openapi::Errors))]
pub async fn create(
    key: AccountKey<EventsWrite>,
    State(state): State<AppState>,
    ApiJson(mut request): ApiJson<MessageRequest>,
) -> ApiResult<(StatusCode, Json<MessageView>)> {
    let mut errors = Vec::new();
    request.mailing.validate(&mut errors);
    if let Err(e) = check_recipient(&request.email) {
        errors.extend(e.errors);
    }
    ValidationError::check(errors)?;
    let mut profile_id = request.profile_id;
    if let Some(id) = &request.subprofile_id {
        let subprofile = match ids::has_kind(id, ids::SUBPROFILE) {
            true => state.store.get_subprofile(&key.account_id, id).await?,
            false => None,
        }
        .ok_or_else(|| ApiError::field("subprofile_id", "no subprofile with this id"))?;
        if profile_id.as_ref().is_some_and(|p| *p != subprofile.profile_id) {
            return Err(ApiError::field("subprofile_id", "belongs to another profile"));
        }
        profile_id = Some(subprofile.profile_id);
    }
    if let Some(id) = &profile_id {
        let known = ids::has_kind(id, ids::PROFILE) && state.store.get_profile(&key.account_id, id).await?.is_some();
        if !known {
            return Err(ApiError::field("profile_id", "no profile with this id"));
        }
    }
    let message = Message {
        id: ids::new_id(ids::MESSAGE),
        account_id: key.account_id,
        mailing: request.mailing,
        email: request.email,
        profile_id,
        subprofile_id: request.subprofile_id,
        created_at: state.clock.now(),
    };
    state.store.create_message(&message).await?;
    let open_url = format!("{}/t/o/{}", state.public_url, state.tracking.open_token(&message.id));
    Ok((
        StatusCode::CREATED,
        Json(MessageView {
            id: message.id,
            open_url,
        }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    url: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LinkView {
    click_url: String,
}

#[utoipa::path(post, path = "/v1/messages/{id}/links", operation_id = "createMessageLink", tag = "messages", security(("account_key" = ["events:write"])), params(("id" = String, Path)), request_body = LinkRequest, responses((status = 200, body = LinkView), crate::openapi::Errors))]
pub async fn link(
    key: AccountKey<EventsWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<LinkRequest>,
) -> ApiResult<Json<LinkView>> {
    find(&state, &key, &id).await?;
    let parsed =
        url::Url::parse(&request.url).map_err(|e| ApiError::field("url", format!("not an absolute URL: {e}")))?;
    // The parsed form is percent-encoded, so it is always a valid `Location`.
    let url = parsed.as_str();
    if !matches!(parsed.scheme(), "http" | "https") || url.len() > MAX_URL_LEN {
        return Err(ApiError::field(
            "url",
            format!("an http or https URL of at most {MAX_URL_LEN} bytes"),
        ));
    }
    let token = state.tracking.click_token(&id, url);
    Ok(Json(LinkView {
        click_url: format!("{}/t/c/{token}", state.public_url),
    }))
}

/// The caller's message with its profile data, or 404.
async fn find<S: Needs>(state: &AppState, key: &AccountKey<S>, id: &str) -> ApiResult<MessageContext> {
    if !ids::has_kind(id, ids::MESSAGE) {
        return Err(ApiError::NotFound("message"));
    }
    state
        .store
        .message_context(id)
        .await?
        .filter(|c| c.message.account_id == key.account_id)
        .ok_or(ApiError::NotFound("message"))
}

async fn report<S: Needs>(
    state: &AppState,
    key: &AccountKey<S>,
    id: &str,
    event: MailEvent,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    event.validate()?;
    let event_type = event.event_type();
    if !ids::has_kind(id, ids::MESSAGE) {
        return Err(ApiError::NotFound("message"));
    }
    let ingested = state
        .store
        .mail_event(MailRequest {
            account_id: Some(key.account_id.clone()),
            message_id: id.to_owned(),
            event,
            now: state.clock.now(),
            require_verification: state.require_verification,
        })
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    crate::telemetry::events_accepted(event_type, 1);
    Ok((StatusCode::ACCEPTED, Json(ingested.into())))
}

#[utoipa::path(post, path = "/v1/messages/{id}/deliveries", operation_id = "reportDelivery", tag = "messages", security(("account_key" = ["events:write"])), params(("id" = String, Path)), request_body = postbode_core::mail::DeliveryReport, responses((status = 202, body = Accepted), crate::openapi::Errors))]
pub async fn delivery(
    key: AccountKey<EventsWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(r): ApiJson<DeliveryReport>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    report(&state, &key, &id, MailEvent::Delivery(r)).await
}

#[utoipa::path(post, path = "/v1/messages/{id}/bounces", operation_id = "reportBounce", tag = "messages", security(("account_key" = ["events:write"])), params(("id" = String, Path)), request_body = postbode_core::mail::BounceReport, responses((status = 202, body = Accepted), crate::openapi::Errors))]
pub async fn bounce(
    key: AccountKey<EventsWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(r): ApiJson<BounceReport>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    report(&state, &key, &id, MailEvent::Bounce(r)).await
}

#[utoipa::path(post, path = "/v1/messages/{id}/failures", operation_id = "reportFailure", tag = "messages", security(("account_key" = ["events:write"])), params(("id" = String, Path)), request_body = postbode_core::mail::FailureReport, responses((status = 202, body = Accepted), crate::openapi::Errors))]
pub async fn failure(
    key: AccountKey<EventsWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(r): ApiJson<FailureReport>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    report(&state, &key, &id, MailEvent::Failure(r)).await
}

#[utoipa::path(post, path = "/v1/messages/{id}/abuses", operation_id = "reportAbuse", tag = "messages", security(("account_key" = ["events:write"])), params(("id" = String, Path)), request_body = postbode_core::mail::AbuseReport, responses((status = 202, body = Accepted), crate::openapi::Errors))]
pub async fn abuse(
    key: AccountKey<EventsWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(r): ApiJson<AbuseReport>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    report(&state, &key, &id, MailEvent::Abuse(r)).await
}

#[utoipa::path(post, path = "/v1/messages/{id}/unsubscribes", operation_id = "reportUnsubscribe", tag = "messages", security(("account_key" = ["events:write"])), params(("id" = String, Path)), request_body = postbode_core::mail::UnsubscribeReport, responses((status = 202, body = Accepted), crate::openapi::Errors))]
pub async fn unsubscribe_report(
    key: AccountKey<EventsWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(UnsubscribeReport {}): ApiJson<UnsubscribeReport>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    report(&state, &key, &id, MailEvent::Unsubscribe).await
}
