//! Sent messages: registering one (which makes its open pixel URL), its click URLs, and
//! the delivery reports that become `delivery`, `bounce`, `failure`, `abuse` and
//! `unsubscribe` events.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use postbode_core::ValidationError;
use postbode_core::ids;
use postbode_core::mail::{
    AbuseReport, BounceReport, DeliveryReport, FailureReport, MailEvent, Mailing, UnsubscribeReport, check_recipient,
};
use postbode_core::profile::{Edit, UnsubscribeBehaviour};
use postbode_core::webhook::Source;
use postbode_store::{Change, ChangeOutcome, ChangeRequest, Message, MessageContext, NewEvent};
use serde::{Deserialize, Serialize};

use super::events::Accepted;
use crate::auth::AccountKey;
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tracking::MAX_URL_LEN;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    mailing: Mailing,
    email: String,
    #[serde(default)]
    profile_id: Option<String>,
    #[serde(default)]
    subprofile_id: Option<String>,
}

#[derive(Serialize)]
pub struct MessageView {
    id: String,
    open_url: String,
}

pub async fn create(
    key: AccountKey,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    url: String,
}

#[derive(Serialize)]
pub struct LinkView {
    click_url: String,
}

pub async fn link(
    key: AccountKey,
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
async fn find(state: &AppState, key: &AccountKey, id: &str) -> ApiResult<MessageContext> {
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

async fn report(
    state: &AppState,
    key: &AccountKey,
    id: &str,
    event: MailEvent,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    event.validate()?;
    let context = find(state, key, id).await?;
    let now = state.clock.now();
    let new_event = context.event(&event, now);
    let ingested = if matches!(event, MailEvent::Unsubscribe) {
        unsubscribe(state, &context, new_event, now).await?
    } else {
        state
            .store
            .ingest(&key.account_id, vec![new_event], now, state.require_verification)
            .await?
            .pop()
            .ok_or_else(|| ApiError::Internal("ingest answered nothing".into()))?
    };
    Ok((StatusCode::ACCEPTED, Json(ingested.into())))
}

/// The `unsubscribe` event and what the database's (and the collection's) behaviour
/// does to the profile (and subprofile), committed together; those changes fire their
/// own events with source `unsubscribe`.
async fn unsubscribe(
    state: &AppState,
    context: &MessageContext,
    event: NewEvent,
    now: DateTime<Utc>,
) -> ApiResult<postbode_store::Ingested> {
    let mut changes = vec![Change::Event(Box::new(event))];
    if let Some((subprofile, collection)) = &context.subprofile {
        match &collection.unsubscribe {
            UnsubscribeBehaviour::Nothing => {}
            UnsubscribeBehaviour::Remove => changes.push(Change::DeleteSubprofile {
                id: subprofile.id.clone(),
            }),
            UnsubscribeBehaviour::Update { fields } => changes.push(Change::EditSubprofile {
                id: subprofile.id.clone(),
                edit: Edit::Merge,
                values: fields.clone(),
            }),
        }
    }
    if let Some((profile, database)) = &context.profile {
        match &database.unsubscribe {
            UnsubscribeBehaviour::Nothing => {}
            UnsubscribeBehaviour::Remove => changes.push(Change::DeleteProfile { id: profile.id.clone() }),
            UnsubscribeBehaviour::Update { fields } => changes.push(Change::EditProfile {
                id: profile.id.clone(),
                edit: Edit::Merge,
                values: fields.clone(),
                interests: None,
            }),
        }
    }
    let outcomes = state
        .store
        .change_profiles(ChangeRequest {
            account_id: context.message.account_id.clone(),
            source: Source::Unsubscribe,
            changes,
            now,
            require_verification: state.require_verification,
        })
        .await?;
    match outcomes.into_iter().next() {
        Some(ChangeOutcome::Ingested(ingested)) => Ok(ingested),
        _ => Err(ApiError::Internal("the unsubscribe event was not stored".into())),
    }
}

pub async fn delivery(
    key: AccountKey,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(r): ApiJson<DeliveryReport>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    report(&state, &key, &id, MailEvent::Delivery(r)).await
}

pub async fn bounce(
    key: AccountKey,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(r): ApiJson<BounceReport>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    report(&state, &key, &id, MailEvent::Bounce(r)).await
}

pub async fn failure(
    key: AccountKey,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(r): ApiJson<FailureReport>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    report(&state, &key, &id, MailEvent::Failure(r)).await
}

pub async fn abuse(
    key: AccountKey,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(r): ApiJson<AbuseReport>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    report(&state, &key, &id, MailEvent::Abuse(r)).await
}

pub async fn unsubscribe_report(
    key: AccountKey,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(UnsubscribeReport {}): ApiJson<UnsubscribeReport>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    report(&state, &key, &id, MailEvent::Unsubscribe).await
}
