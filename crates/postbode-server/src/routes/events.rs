//! Events in, and what became of them: their deliveries.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use postbode_core::event::{self, EventScope};
use postbode_core::ids;
use postbode_core::page::Page;
use postbode_store::{
    Database, Delivery, DeliveryQuery, DeliveryStatus, IdempotencyKey, Ingested, NewEvent, Profile, RetryRequest,
    RetrySelection, Skipped,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

use super::Paging;
use super::webhooks::find;
use crate::auth::{AccountKey, EventsWrite, WebhooksRead, WebhooksWrite, sha256};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"type": "order.paid", "data": {"order": 42, "total": "19.95"}, "idempotency_key": "order-42-paid"}))]
pub struct EventRequest {
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    profile_id: Option<String>,
    #[serde(default)]
    idempotency_key: Option<String>,
    /// What a webhook with `ordering: "profile"` keeps this event's deliveries in order
    /// with (default: the `profile_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ordering_key: Option<String>,
}

/// An `ordering_key` is a short name: it is stored with every delivery.
const MAX_ORDERING_KEY_LEN: usize = 255;

impl EventRequest {
    /// Checks the request and turns it into the event to store; `field` prefixes the
    /// names of bad fields (`events[3].`) in a batch.
    fn into_event(self, field: &str, state: &AppState, profiles: &Profiles, now: DateTime<Utc>) -> ApiResult<NewEvent> {
        event::check_custom_type(&format!("{field}type"), &self.event_type).map_err(|e| ApiError::Invalid(e.into()))?;
        let mut scope = match &self.profile_id {
            None => EventScope::default(),
            Some(id) => profile_scope(profiles, id)
                .ok_or_else(|| ApiError::field(format!("{field}profile_id"), "no profile with this id"))?,
        };
        if let Some(key) = &self.ordering_key {
            if key.is_empty() || key.len() > MAX_ORDERING_KEY_LEN {
                return Err(ApiError::field(
                    format!("{field}ordering_key"),
                    format!("1 to {MAX_ORDERING_KEY_LEN} bytes"),
                ));
            }
            scope.ordering_key = Some(key.clone());
        }
        let idempotency = match &self.idempotency_key {
            None => None,
            Some(key) if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN => {
                return Err(ApiError::field(
                    format!("{field}idempotency_key"),
                    format!("1 to {MAX_IDEMPOTENCY_KEY_LEN} bytes"),
                ));
            }
            Some(key) => Some(IdempotencyKey {
                key: key.clone(),
                // The request as parsed, so a retry with other whitespace is the same request.
                request_hash: sha256(&serde_json::to_vec(&self).map_err(|e| ApiError::Internal(e.to_string()))?)
                    .to_vec(),
                expires_at: now
                    + chrono::Duration::from_std(state.settings.idempotency_ttl).unwrap_or(chrono::Duration::MAX),
            }),
        };
        // Only `data` is kept: the envelope is the event's id, type and time.
        let body = serde_json::to_vec(&self.data).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(NewEvent {
            id: ids::new_id(ids::EVENT),
            event_type: self.event_type,
            body,
            created_at: now,
            idempotency,
            scope,
            trace_parent: None,
        })
    }
}

/// The profiles the requests name, with their databases.
type Profiles = HashMap<String, (Profile, Database)>;

/// Reads the profiles a request or batch names, in one query.
async fn named_profiles(state: &AppState, account_id: &str, requests: &[EventRequest]) -> ApiResult<Profiles> {
    let named: Vec<&str> = requests
        .iter()
        .filter_map(|r| r.profile_id.as_deref())
        .filter(|id| ids::has_kind(id, ids::PROFILE))
        .collect();
    Ok(state.store.profiles_with_databases(account_id, &named).await?)
}

/// A custom event that names a profile is in that profile's database's scope, and its
/// webhooks' conditions see the profile's fields.
fn profile_scope(profiles: &Profiles, profile_id: &str) -> Option<EventScope> {
    let (profile, database) = profiles.get(profile_id)?;
    Some(EventScope {
        fields: database.fields.complete(&profile.state.values),
        database_id: Some(profile.database_id.clone()),
        profile_id: Some(profile.id.clone()),
        ..EventScope::default()
    })
}

/// The answer to an accepted event: its id, how many deliveries it made (held ones
/// included), and of the webhooks that want its type, which did not get a delivery going
/// out at once and why.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Accepted {
    id: String,
    deliveries: u32,
    skipped: Skipped,
}

impl From<Ingested> for Accepted {
    fn from(ingested: Ingested) -> Self {
        Self {
            id: ingested.event_id,
            deliveries: ingested.deliveries,
            skipped: ingested.skipped,
        }
    }
}

/// The common `Idempotency-Key` request header means the body's `idempotency_key`.
const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The request's idempotency key, from the body or the `Idempotency-Key` header (the
/// same one when both are given).
fn idempotency_key(headers: &HeaderMap, in_body: Option<String>) -> ApiResult<Option<String>> {
    let Some(value) = headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(in_body);
    };
    let Ok(in_header) = value.to_str() else {
        return Err(ApiError::field(
            "idempotency_key",
            "the Idempotency-Key header must be visible ASCII text",
        ));
    };
    match in_body {
        Some(in_body) if in_body != in_header => Err(ApiError::field(
            "idempotency_key",
            format!(
                "the Idempotency-Key header ({in_header:?}) and the body's idempotency_key ({in_body:?}) differ; \
                 give one of them, or the same in both"
            ),
        )),
        _ => Ok(Some(in_header.to_owned())),
    }
}

#[utoipa::path(post, path = "/v1/events", operation_id = "createEvent", tag = "events", security(("account_key" = ["events:write"])), params(("Idempotency-Key" = Option<String>, Header, description = "the same as the body's idempotency_key")), request_body = EventRequest, responses((status = 202, body = Accepted), crate::openapi::Errors))]
pub async fn create(
    key: AccountKey<EventsWrite>,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(mut request): ApiJson<EventRequest>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    request.idempotency_key = idempotency_key(&headers, request.idempotency_key.take())?;
    let now = state.clock.now();
    let profiles = named_profiles(&state, &key.account_id, std::slice::from_ref(&request)).await?;
    let mut event = request.into_event("", &state, &profiles, now)?;
    event.trace_parent = crate::telemetry::event_trace(&headers);
    let mut outcome = state
        .store
        .ingest(&key.account_id, vec![event], now, state.require_verification)
        .await?;
    let ingested = outcome
        .pop()
        .ok_or_else(|| ApiError::Internal("ingest answered nothing".into()))?;
    if !ingested.duplicate {
        crate::telemetry::events_accepted("custom", 1);
    }
    Ok((StatusCode::ACCEPTED, Json(ingested.into())))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"events": [{"type": "order.paid", "data": {"order": 42}}, {"type": "order.shipped", "data": {"order": 41}}]}))]
pub struct BatchRequest {
    events: Vec<EventRequest>,
}

/// The answer to an accepted batch: the events' ids in order, and their deliveries and
/// skips summed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BatchAccepted {
    ids: Vec<String>,
    deliveries: u32,
    skipped: Skipped,
}

/// All or nothing: one bad event refuses the whole batch.
#[utoipa::path(post, path = "/v1/events/batch", operation_id = "createEventBatch", tag = "events", security(("account_key" = ["events:write"])), request_body = BatchRequest, responses((status = 202, body = BatchAccepted), crate::openapi::Errors))]
pub async fn create_batch(
    key: AccountKey<EventsWrite>,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<BatchRequest>,
) -> ApiResult<(StatusCode, Json<BatchAccepted>)> {
    if headers.contains_key(IDEMPOTENCY_HEADER) {
        return Err(ApiError::field(
            "idempotency_key",
            "a batch takes an idempotency_key per event, not the Idempotency-Key header",
        ));
    }
    let max = state.settings.max_batch_events;
    if request.events.is_empty() || request.events.len() > max {
        return Err(ApiError::field("events", format!("1 to {max} events")));
    }
    let now = state.clock.now();
    let profiles = named_profiles(&state, &key.account_id, &request.events).await?;
    let mut events = request
        .events
        .into_iter()
        .enumerate()
        .map(|(i, e)| e.into_event(&format!("events[{i}]."), &state, &profiles, now))
        .collect::<ApiResult<Vec<_>>>()?;
    let trace = crate::telemetry::event_trace(&headers);
    events.iter_mut().for_each(|event| event.trace_parent = trace);
    let outcome = state
        .store
        .ingest(&key.account_id, events, now, state.require_verification)
        .await?;
    crate::telemetry::events_accepted("custom", outcome.iter().filter(|i| !i.duplicate).count() as u64);
    let mut accepted = BatchAccepted {
        ids: Vec::with_capacity(outcome.len()),
        deliveries: 0,
        skipped: Skipped::default(),
    };
    for ingested in outcome {
        accepted.deliveries += ingested.deliveries;
        accepted.skipped.add(ingested.skipped);
        accepted.ids.push(ingested.event_id);
    }
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventView {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created_at: DateTime<Utc>,
    body: Value,
    deliveries: Vec<Delivery>,
}

#[utoipa::path(get, path = "/v1/events/{id}", operation_id = "getEvent", tag = "events", security(("account_key" = ["webhooks:read"])), params(("id" = String, Path)), responses((status = 200, body = EventView), crate::openapi::Errors))]
pub async fn get(
    key: AccountKey<WebhooksRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<EventView>> {
    if !ids::has_kind(&id, ids::EVENT) {
        return Err(ApiError::NotFound("event"));
    }
    let (event, deliveries) = state
        .store
        .get_event(&key.account_id, &id)
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    Ok(Json(EventView {
        body: serde_json::from_slice(&event.body).map_err(|e| ApiError::Internal(e.to_string()))?,
        id: event.id,
        event_type: event.event_type,
        created_at: event.created_at,
        deliveries,
    }))
}

#[utoipa::path(get, path = "/v1/deliveries/{id}", operation_id = "getDelivery", tag = "events", security(("account_key" = ["webhooks:read"])), params(("id" = String, Path)), responses((status = 200, body = postbode_store::Delivery), crate::openapi::Errors))]
pub async fn get_delivery(
    key: AccountKey<WebhooksRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Delivery>> {
    Ok(Json(find_delivery(&state, &key.account_id, &id).await?))
}

/// The caller's delivery, or 404.
pub(crate) async fn find_delivery(state: &AppState, account_id: &str, id: &str) -> ApiResult<Delivery> {
    if !ids::has_kind(id, ids::DELIVERY) {
        return Err(ApiError::NotFound("delivery"));
    }
    state
        .store
        .get_delivery(account_id, id)
        .await?
        .ok_or(ApiError::NotFound("delivery"))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    status: Option<DeliveryStatus>,
    event_type: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// A webhook's deliveries, newest first: what is pending, delivered, failed or skipped.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", operation_id = "listWebhookDeliveries", tag = "events", security(("account_key" = ["webhooks:read"])), params(("id" = String, Path), DeliveriesQuery), responses((status = 200, body = Page<postbode_store::Delivery>), crate::openapi::Errors))]
pub async fn list_deliveries(
    key: AccountKey<WebhooksRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> ApiResult<Json<Page<Delivery>>> {
    let webhook = find(&state, &key.account_id, &id).await?;
    let query = DeliveryQuery {
        webhook_id: webhook.id,
        status: q.status,
        event_type: q.event_type,
        since: q.since,
        until: q.until,
        page: Paging {
            limit: q.limit,
            cursor: q.cursor,
        }
        .request(ids::DELIVERY)?,
        ..DeliveryQuery::default()
    };
    Ok(Json(state.store.list_deliveries(&key.account_id, &query).await?))
}

/// One more attempt on the same delivery, with the same id, so receivers still drop
/// duplicates.
#[utoipa::path(post, path = "/v1/deliveries/{id}/resend", operation_id = "resendDelivery", tag = "events", security(("account_key" = ["webhooks:write"])), params(("id" = String, Path)), responses((status = 202, body = postbode_store::Delivery), crate::openapi::Errors))]
pub async fn resend(
    key: AccountKey<WebhooksWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(resend_delivery(&state, &key.account_id, &id).await?),
    ))
}

pub(crate) async fn resend_delivery(state: &AppState, account_id: &str, id: &str) -> ApiResult<Delivery> {
    if !ids::has_kind(id, ids::DELIVERY) {
        return Err(ApiError::NotFound("delivery"));
    }
    let retried = state
        .store
        .retry(RetryRequest {
            account_id: account_id.to_owned(),
            selection: RetrySelection::Delivery(id.to_owned()),
            now: state.clock.now(),
        })
        .await?;
    if retried.is_empty() {
        return Err(ApiError::NotFound("delivery"));
    }
    find_delivery(state, account_id, id).await
}
