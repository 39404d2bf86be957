//! Databases and collections: the field definitions profiles and subprofiles follow,
//! and what an unsubscribe does to them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use postbode_core::FieldError;
use postbode_core::ValidationError;
use postbode_core::ids;
use postbode_core::page::Page;
use postbode_core::profile::{Schema, UnsubscribeBehaviour};
use postbode_store::{Collection, Database};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Paging;
use crate::auth::{AccountKey, DataRead, DataWrite};
use crate::decode::decode_value;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

const MAX_NAME_LEN: usize = 200;

/// What a user sets on a database or a collection; `PATCH` merges into it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "customers", "fields": [{"name": "email", "type": "email"}, {"name": "age", "type": "integer"}], "unsubscribe": {"action": "remove"}}))]
pub struct Definition {
    name: String,
    #[serde(default)]
    fields: Schema,
    #[serde(default)]
    unsubscribe: UnsubscribeBehaviour,
}

impl Definition {
    fn validate(&mut self) -> Result<(), ValidationError> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() || self.name.len() > MAX_NAME_LEN {
            errors.push(FieldError::new("name", format!("1 to {MAX_NAME_LEN} bytes")));
        }
        if let Err(e) = self.fields.validate("fields") {
            errors.extend(e.errors);
        } else if let Err(e) = self.unsubscribe.validate("unsubscribe", &self.fields) {
            errors.extend(e.errors);
        }
        ValidationError::check(errors)
    }

    /// Merges `patch` into a stored definition (a database's or a collection's), checked
    /// as a whole. A field keeps its type: stored values were checked against it (add a
    /// field of the new type instead).
    fn patch(
        name: &mut String,
        fields: &mut Schema,
        unsubscribe: &mut UnsubscribeBehaviour,
        given: Map<String, Value>,
    ) -> ApiResult<()> {
        let current = Definition {
            name: name.clone(),
            fields: fields.clone(),
            unsubscribe: unsubscribe.clone(),
        };
        let before = &*fields;
        let mut merged = match serde_json::to_value(current).map_err(internal)? {
            Value::Object(map) => map,
            _ => return Err(internal("a definition is an object")),
        };
        merged.extend(given);
        let mut definition: Definition = decode_value(&Value::Object(merged))?;
        definition.validate()?;
        for (index, def) in definition.fields.0.iter().enumerate() {
            if before
                .get(&def.name)
                .is_some_and(|old| old.field_type != def.field_type)
            {
                return Err(ApiError::field(
                    format!("fields[{index}].type"),
                    "a field keeps its type; add a field with a new name instead",
                ));
            }
        }
        (*name, *fields, *unsubscribe) = (definition.name, definition.fields, definition.unsubscribe);
        Ok(())
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DatabaseView {
    id: String,
    name: String,
    fields: Schema,
    unsubscribe: UnsubscribeBehaviour,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Database> for DatabaseView {
    fn from(d: Database) -> Self {
        Self {
            id: d.id,
            name: d.name,
            fields: d.fields,
            unsubscribe: d.unsubscribe,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CollectionView {
    id: String,
    database_id: String,
    name: String,
    fields: Schema,
    unsubscribe: UnsubscribeBehaviour,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Collection> for CollectionView {
    fn from(c: Collection) -> Self {
        Self {
            id: c.id,
            database_id: c.database_id,
            name: c.name,
            fields: c.fields,
            unsubscribe: c.unsubscribe,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// The caller's database, or 404: another account's does not exist for it.
pub(crate) async fn find_database(state: &AppState, account_id: &str, id: &str) -> ApiResult<Database> {
    if !ids::has_kind(id, ids::DATABASE) {
        return Err(ApiError::NotFound("database"));
    }
    state
        .store
        .get_database(account_id, id)
        .await?
        .ok_or(ApiError::NotFound("database"))
}

pub(crate) async fn find_collection(state: &AppState, account_id: &str, id: &str) -> ApiResult<Collection> {
    if !ids::has_kind(id, ids::COLLECTION) {
        return Err(ApiError::NotFound("collection"));
    }
    state
        .store
        .get_collection(account_id, id)
        .await?
        .ok_or(ApiError::NotFound("collection"))
}

#[utoipa::path(post, path = "/v1/databases", operation_id = "createDatabase", tag = "profiles", security(("account_key" = ["data:write"])), request_body = Definition, responses((status = 201, body = DatabaseView), crate::openapi::Errors))]
pub async fn create(
    key: AccountKey<DataWrite>,
    State(state): State<AppState>,
    ApiJson(mut definition): ApiJson<Definition>,
) -> ApiResult<(StatusCode, Json<DatabaseView>)> {
    definition.validate()?;
    let now = state.clock.now();
    let database = Database {
        id: ids::new_id(ids::DATABASE),
        account_id: key.account_id,
        name: definition.name,
        fields: definition.fields,
        unsubscribe: definition.unsubscribe,
        created_at: now,
        updated_at: now,
    };
    state.store.create_database(&database).await?;
    Ok((StatusCode::CREATED, Json(database.into())))
}

#[utoipa::path(get, path = "/v1/databases", operation_id = "listDatabases", tag = "profiles", security(("account_key" = ["data:read"])), params(Paging), responses((status = 200, body = Page<DatabaseView>), crate::openapi::Errors))]
pub async fn list(
    key: AccountKey<DataRead>,
    State(state): State<AppState>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> ApiResult<Json<Page<DatabaseView>>> {
    let page = state
        .store
        .list_databases(&key.account_id, &paging.request(ids::DATABASE)?)
        .await?;
    Ok(Json(page.map(DatabaseView::from)))
}

#[utoipa::path(get, path = "/v1/databases/{id}", operation_id = "getDatabase", tag = "profiles", security(("account_key" = ["data:read"])), params(("id" = String, Path)), responses((status = 200, body = DatabaseView), crate::openapi::Errors))]
pub async fn get(
    key: AccountKey<DataRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<DatabaseView>> {
    Ok(Json(find_database(&state, &key.account_id, &id).await?.into()))
}

#[utoipa::path(patch, path = "/v1/databases/{id}", operation_id = "updateDatabase", tag = "profiles", security(("account_key" = ["data:write"])), params(("id" = String, Path)), request_body = crate::openapi::DefinitionPatch, responses((status = 200, body = DatabaseView), crate::openapi::Errors))]
pub async fn update(
    key: AccountKey<DataWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<Map<String, Value>>,
) -> ApiResult<Json<DatabaseView>> {
    let mut database = find_database(&state, &key.account_id, &id).await?;
    let d = &mut database;
    Definition::patch(&mut d.name, &mut d.fields, &mut d.unsubscribe, patch)?;
    database.updated_at = state.clock.now();
    if !state.store.update_database(&database).await? {
        return Err(ApiError::NotFound("database"));
    }
    Ok(Json(database.into()))
}

/// Deletes the database with everything in it. No `delete` event is fired per profile:
/// this is a bulk action of the account itself, not a change to a profile.
#[utoipa::path(delete, path = "/v1/databases/{id}", operation_id = "deleteDatabase", tag = "profiles", security(("account_key" = ["data:write"])), params(("id" = String, Path)), responses((status = 204), crate::openapi::Errors))]
pub async fn delete(
    key: AccountKey<DataWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    if !state.store.delete_database(&key.account_id, &id).await? {
        return Err(ApiError::NotFound("database"));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/databases/{id}/collections", operation_id = "createCollection", tag = "profiles", security(("account_key" = ["data:write"])), params(("id" = String, Path)), request_body = Definition, responses((status = 201, body = CollectionView), crate::openapi::Errors))]
pub async fn create_collection(
    key: AccountKey<DataWrite>,
    State(state): State<AppState>,
    ApiPath(database_id): ApiPath<String>,
    ApiJson(mut definition): ApiJson<Definition>,
) -> ApiResult<(StatusCode, Json<CollectionView>)> {
    let database = find_database(&state, &key.account_id, &database_id).await?;
    definition.validate()?;
    let now = state.clock.now();
    let collection = Collection {
        id: ids::new_id(ids::COLLECTION),
        account_id: key.account_id,
        database_id: database.id,
        name: definition.name,
        fields: definition.fields,
        unsubscribe: definition.unsubscribe,
        created_at: now,
        updated_at: now,
    };
    state.store.create_collection(&collection).await?;
    Ok((StatusCode::CREATED, Json(collection.into())))
}

#[utoipa::path(get, path = "/v1/databases/{id}/collections", operation_id = "listCollections", tag = "profiles", security(("account_key" = ["data:read"])), params(("id" = String, Path), Paging), responses((status = 200, body = Page<CollectionView>), crate::openapi::Errors))]
pub async fn list_collections(
    key: AccountKey<DataRead>,
    State(state): State<AppState>,
    ApiPath(database_id): ApiPath<String>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> ApiResult<Json<Page<CollectionView>>> {
    let database = find_database(&state, &key.account_id, &database_id).await?;
    let page = state
        .store
        .list_collections(&key.account_id, &database.id, &paging.request(ids::COLLECTION)?)
        .await?;
    Ok(Json(page.map(CollectionView::from)))
}

#[utoipa::path(get, path = "/v1/collections/{id}", operation_id = "getCollection", tag = "profiles", security(("account_key" = ["data:read"])), params(("id" = String, Path)), responses((status = 200, body = CollectionView), crate::openapi::Errors))]
pub async fn get_collection(
    key: AccountKey<DataRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<CollectionView>> {
    Ok(Json(find_collection(&state, &key.account_id, &id).await?.into()))
}

#[utoipa::path(patch, path = "/v1/collections/{id}", operation_id = "updateCollection", tag = "profiles", security(("account_key" = ["data:write"])), params(("id" = String, Path)), request_body = crate::openapi::DefinitionPatch, responses((status = 200, body = CollectionView), crate::openapi::Errors))]
pub async fn update_collection(
    key: AccountKey<DataWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<Map<String, Value>>,
) -> ApiResult<Json<CollectionView>> {
    let mut collection = find_collection(&state, &key.account_id, &id).await?;
    let c = &mut collection;
    Definition::patch(&mut c.name, &mut c.fields, &mut c.unsubscribe, patch)?;
    collection.updated_at = state.clock.now();
    if !state.store.update_collection(&collection).await? {
        return Err(ApiError::NotFound("collection"));
    }
    Ok(Json(collection.into()))
}

#[utoipa::path(delete, path = "/v1/collections/{id}", operation_id = "deleteCollection", tag = "profiles", security(("account_key" = ["data:write"])), params(("id" = String, Path)), responses((status = 204), crate::openapi::Errors))]
pub async fn delete_collection(
    key: AccountKey<DataWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    if !state.store.delete_collection(&key.account_id, &id).await? {
        return Err(ApiError::NotFound("collection"));
    }
    Ok(StatusCode::NO_CONTENT)
}
