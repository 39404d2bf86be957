//! The event-type catalogue: the suite's own types (read only) and each account's
//! custom ones, with a JSON Schema that `POST /v1/events` checks `data` against.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use postbode_core::event_type::{BUILTINS, Builtin, DataSchema, Definition, check_definition};
use postbode_store::{EventTypeRecord, Removal};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::auth::{AccountKey, Manage, WebhooksRead};
use crate::decode::decode_value;
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

/// A type as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EventTypeView {
    name: String,
    description: Option<String>,
    /// For a custom type: JSON Schema (2020-12) of the events' `data`. For a built-in
    /// one: the schema of the whole body a receiver gets.
    schema: Option<Value>,
    example: Option<Value>,
    archived: bool,
    /// One of the suite's own types (read only).
    builtin: bool,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

impl From<EventTypeRecord> for EventTypeView {
    fn from(t: EventTypeRecord) -> Self {
        EventTypeView {
            name: t.name,
            description: t.description,
            schema: t.schema,
            example: t.example,
            archived: t.archived,
            builtin: false,
            created_at: Some(t.created_at),
            updated_at: Some(t.updated_at),
        }
    }
}

impl From<&Builtin> for EventTypeView {
    fn from(b: &Builtin) -> Self {
        EventTypeView {
            name: b.name.to_owned(),
            description: Some(b.description.to_owned()),
            schema: Some(b.schema()),
            example: Some(b.example()),
            archived: false,
            builtin: true,
            created_at: None,
            updated_at: None,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "order.paid", "description": "An order was paid.",
    "schema": {"type": "object", "required": ["order"], "properties": {"order": {"type": "object",
    "required": ["total"], "properties": {"total": {"type": "number"}}}}},
    "example": {"order": {"total": 19.95}}}))]
pub struct NewEventType {
    name: String,
    #[serde(default)]
    description: Option<String>,
    /// JSON Schema (2020-12) for `data`; a `$ref` may point only inside it.
    #[serde(default)]
    schema: Option<Value>,
    /// An example `data`, valid under `schema`.
    #[serde(default)]
    example: Option<Value>,
}

/// What PATCH may change: the rest of a type; `null` clears a field.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Changeable {
    description: Option<String>,
    schema: Option<Value>,
    example: Option<Value>,
    archived: bool,
}

fn builtin_refusal(name: &str) -> ApiError {
    ApiError::Conflict(format!(
        "{name:?} is one of the suite's own types: it cannot be changed"
    ))
}

/// The built-in types, then the account's by name.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct EventTypeList(Vec<EventTypeView>);

#[utoipa::path(get, path = "/v1/event-types", operation_id = "listEventTypes", tag = "event types", security(("account_key" = ["webhooks:read"])), responses((status = 200, body = EventTypeList), crate::openapi::Errors))]
pub async fn list(key: AccountKey<WebhooksRead>, State(state): State<AppState>) -> ApiResult<Json<EventTypeList>> {
    let mut types: Vec<EventTypeView> = BUILTINS.iter().map(EventTypeView::from).collect();
    let own = state.store.list_event_types(&key.account_id).await?;
    types.extend(own.into_iter().map(EventTypeView::from));
    Ok(Json(EventTypeList(types)))
}

#[utoipa::path(post, path = "/v1/event-types", operation_id = "createEventType", tag = "event types", security(("account_key" = ["manage"])), request_body = NewEventType, responses((status = 201, body = EventTypeView), crate::openapi::Errors))]
pub async fn create(
    key: AccountKey<Manage>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewEventType>,
) -> ApiResult<(StatusCode, Json<EventTypeView>)> {
    let definition = Definition {
        description: body.description,
        schema: body.schema,
        example: body.example,
    };
    check_definition("name", &body.name, &definition)?;
    let now = state.clock.now();
    let record = EventTypeRecord {
        account_id: key.account_id.clone(),
        name: body.name,
        description: definition.description,
        schema: definition.schema,
        example: definition.example,
        archived: false,
        created_at: now,
        updated_at: now,
    };
    if !state.store.create_event_type(&record).await? {
        return Err(ApiError::Conflict(format!(
            "the event type {:?} exists already",
            record.name
        )));
    }
    state.event_types.forget(&key.account_id);
    Ok((StatusCode::CREATED, Json(record.into())))
}

#[utoipa::path(get, path = "/v1/event-types/{name}", operation_id = "getEventType", tag = "event types", security(("account_key" = ["webhooks:read"])), params(("name" = String, Path)), responses((status = 200, body = EventTypeView), crate::openapi::Errors))]
pub async fn get(
    key: AccountKey<WebhooksRead>,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<EventTypeView>> {
    if let Some(builtin) = Builtin::find(&name) {
        return Ok(Json(builtin.into()));
    }
    Ok(Json(find(&state, &key.account_id, &name).await?.into()))
}

async fn find(state: &AppState, account_id: &str, name: &str) -> ApiResult<EventTypeRecord> {
    state
        .store
        .get_event_type(account_id, name)
        .await?
        .ok_or(ApiError::NotFound("event type"))
}

#[utoipa::path(patch, path = "/v1/event-types/{name}", operation_id = "updateEventType", tag = "event types", security(("account_key" = ["manage"])), params(("name" = String, Path)), request_body = crate::openapi::EventTypePatch, responses((status = 200, body = EventTypeView), crate::openapi::Errors))]
pub async fn update(
    key: AccountKey<Manage>,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(patch): ApiJson<Map<String, Value>>,
) -> ApiResult<Json<EventTypeView>> {
    if Builtin::find(&name).is_some() {
        return Err(builtin_refusal(&name));
    }
    let current = find(&state, &key.account_id, &name).await?;
    let stored = Changeable {
        description: current.description.clone(),
        schema: current.schema.clone(),
        example: current.example.clone(),
        archived: current.archived,
    };
    let Value::Object(mut merged) = serde_json::to_value(stored).map_err(|e| ApiError::Internal(e.to_string()))? else {
        return Err(ApiError::Internal("an event type is not an object".into()));
    };
    merged.extend(patch);
    let changed: Changeable = decode_value(&Value::Object(merged))?;
    let definition = Definition {
        description: changed.description,
        schema: changed.schema,
        example: changed.example,
    };
    check_definition("name", &name, &definition)?;
    let record = EventTypeRecord {
        description: definition.description,
        schema: definition.schema,
        example: definition.example,
        archived: changed.archived,
        updated_at: state.clock.now(),
        ..current
    };
    if !state.store.update_event_type(&record).await? {
        return Err(ApiError::NotFound("event type"));
    }
    state.event_types.forget(&key.account_id);
    Ok(Json(record.into()))
}

/// Deletes a type, or archives it when events of it exist.
#[utoipa::path(delete, path = "/v1/event-types/{name}", operation_id = "deleteEventType", tag = "event types", security(("account_key" = ["manage"])), params(("name" = String, Path)), responses((status = 204, description = "deleted"), (status = 200, body = EventTypeView, description = "archived: events of it exist"), crate::openapi::Errors))]
pub async fn delete(
    key: AccountKey<Manage>,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    if Builtin::find(&name).is_some() {
        return Err(builtin_refusal(&name));
    }
    let removal = state
        .store
        .remove_event_type(&key.account_id, &name, state.clock.now())
        .await?
        .ok_or(ApiError::NotFound("event type"))?;
    state.event_types.forget(&key.account_id);
    Ok(match removal {
        Removal::Deleted => StatusCode::NO_CONTENT.into_response(),
        Removal::Archived => Json(EventTypeView::from(find(&state, &key.account_id, &name).await?)).into_response(),
    })
}

/// Each account's compiled schemas, so checking an event's `data` costs no database
/// read: read once per [`SchemaCache::TTL`] per account, dropped at once on this node
/// when the account changes a type (another node of the same database follows within
/// the TTL).
#[derive(Default)]
pub struct SchemaCache {
    accounts: Mutex<HashMap<String, (Instant, Schemas)>>,
}

/// An account's types that have a schema, by name.
pub type Schemas = Arc<HashMap<String, Arc<DataSchema>>>;

impl SchemaCache {
    pub const TTL: Duration = Duration::from_secs(10);
    /// Bounds the memory many accounts can take.
    const MAX_ACCOUNTS: usize = 10_000;

    fn lock(&self) -> MutexGuard<'_, HashMap<String, (Instant, Schemas)>> {
        self.accounts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn forget(&self, account_id: &str) {
        self.lock().remove(account_id);
    }

    /// The account's schemas, from memory or read and compiled now.
    pub async fn of(&self, state: &AppState, account_id: &str) -> ApiResult<Schemas> {
        if let Some((fetched, schemas)) = self.lock().get(account_id)
            && fetched.elapsed() < Self::TTL
        {
            return Ok(schemas.clone());
        }
        let mut compiled = HashMap::new();
        for t in state.store.list_event_types(account_id).await? {
            // A stored schema compiled when it was accepted; one that no longer does
            // (a newer validator) is skipped rather than refusing every event.
            if let Some(schema) = t.schema.as_ref().and_then(|s| DataSchema::compile(s).ok()) {
                compiled.insert(t.name, Arc::new(schema));
            }
        }
        let schemas: Schemas = Arc::new(compiled);
        let mut accounts = self.lock();
        if accounts.len() >= Self::MAX_ACCOUNTS {
            accounts.retain(|_, (fetched, _)| fetched.elapsed() < Self::TTL);
            if accounts.len() >= Self::MAX_ACCOUNTS {
                accounts.clear();
            }
        }
        accounts.insert(account_id.to_owned(), (Instant::now(), schemas.clone()));
        Ok(schemas)
    }
}
