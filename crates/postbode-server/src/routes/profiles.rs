//! Profiles and subprofiles. Every change goes to the store as a [`Change`], which
//! commits it together with its `create`/`update`/`delete` event and deliveries.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use postbode_core::ValidationError;
use postbode_core::ids;
use postbode_core::page::{MAX_LIMIT, Page};
use postbode_core::profile::{Edit, Values, check_interests};
use postbode_core::webhook::Source;
use postbode_store::{
    Change, ChangeOutcome, ChangeRequest, Database, Erased, Profile, ProfileQuery, Record, Subprofile,
};
use serde::{Deserialize, Serialize};

/// Events (with their deliveries and attempts) removed per transaction by an erasure.
const ERASE_BATCH: u32 = 500;

use super::Paging;
use super::databases::{find_collection, find_database};
use crate::auth::{AccountKey, DataRead, DataWrite};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use crate::views::{ProfileView, SubprofileView};
use std::collections::HashMap;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"fields": {"email": "piet@example.com", "age": 31}, "interests": ["news"]}))]
pub struct ProfileRequest {
    #[serde(default)]
    #[schema(value_type = Object)]
    fields: Values,
    #[serde(default)]
    interests: Option<Vec<String>>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubprofileRequest {
    collection_id: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    fields: Values,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubprofileEdit {
    #[serde(default)]
    #[schema(value_type = Object)]
    fields: Values,
}

/// Commits API changes (source `api`) and returns their outcomes.
pub(super) async fn commit(state: &AppState, account_id: &str, changes: Vec<Change>) -> ApiResult<Vec<ChangeOutcome>> {
    commit_from(state, account_id, Source::Api, changes).await
}

async fn commit_from(
    state: &AppState,
    account_id: &str,
    source: Source,
    changes: Vec<Change>,
) -> ApiResult<Vec<ChangeOutcome>> {
    let outcomes = state
        .store
        .change_profiles(ChangeRequest {
            account_id: account_id.to_owned(),
            source,
            changes,
            now: state.clock.now(),
            require_verification: state.require_verification,
        })
        .await?;
    crate::telemetry::changes_accepted(&outcomes);
    Ok(outcomes)
}

fn single(mut outcomes: Vec<ChangeOutcome>, what: &'static str) -> ApiResult<ChangeOutcome> {
    match outcomes.pop() {
        Some(ChangeOutcome::NotFound) => Err(ApiError::NotFound(what)),
        Some(outcome) => Ok(outcome),
        None => Err(ApiError::Internal("a change answered nothing".into())),
    }
}

fn record(outcome: ChangeOutcome, what: &'static str) -> ApiResult<Record> {
    match outcome {
        ChangeOutcome::Created(r) | ChangeOutcome::Updated(r) | ChangeOutcome::Unchanged(r) => Ok(r),
        ChangeOutcome::NotFound | ChangeOutcome::Deleted => Err(ApiError::NotFound(what)),
        ChangeOutcome::Ingested(_) => Err(ApiError::Internal("a change answered with an event".into())),
    }
}

fn profile_of(outcome: ChangeOutcome) -> ApiResult<Profile> {
    match record(outcome, "profile")? {
        Record::Profile(p) => Ok(p),
        Record::Subprofile(_) => Err(ApiError::Internal("a profile change answered a subprofile".into())),
    }
}

fn subprofile_of(outcome: ChangeOutcome) -> ApiResult<Subprofile> {
    match record(outcome, "subprofile")? {
        Record::Subprofile(s) => Ok(s),
        Record::Profile(_) => Err(ApiError::Internal("a subprofile change answered a profile".into())),
    }
}

pub(crate) async fn find_profile(state: &AppState, account_id: &str, id: &str) -> ApiResult<Profile> {
    if !ids::has_kind(id, ids::PROFILE) {
        return Err(ApiError::NotFound("profile"));
    }
    state
        .store
        .get_profile(account_id, id)
        .await?
        .ok_or(ApiError::NotFound("profile"))
}

async fn find_subprofile(state: &AppState, account_id: &str, id: &str) -> ApiResult<Subprofile> {
    if !ids::has_kind(id, ids::SUBPROFILE) {
        return Err(ApiError::NotFound("subprofile"));
    }
    state
        .store
        .get_subprofile(account_id, id)
        .await?
        .ok_or(ApiError::NotFound("subprofile"))
}

fn checked_interests(interests: Option<Vec<String>>) -> Result<Option<Vec<String>>, ValidationError> {
    interests
        .map(|list| check_interests("interests", &list))
        .transpose()
        .map_err(ValidationError::from)
}

#[utoipa::path(post, path = "/v1/databases/{id}/profiles", operation_id = "createProfile", tag = "profiles", security(("account_key" = ["data:write"])), params(("id" = String, Path)), request_body = ProfileRequest, responses((status = 201, body = ProfileView), crate::openapi::Errors))]
pub async fn create(
    key: AccountKey<DataWrite>,
    State(state): State<AppState>,
    ApiPath(database_id): ApiPath<String>,
    ApiJson(request): ApiJson<ProfileRequest>,
) -> ApiResult<(StatusCode, Json<ProfileView>)> {
    let database = find_database(&state, &key.account_id, &database_id).await?;
    let values = database.fields.check_values("fields", &request.fields)?;
    let interests = checked_interests(request.interests)?.unwrap_or_default();
    let change = Change::CreateProfile {
        id: ids::new_id(ids::PROFILE),
        database_id: database.id.clone(),
        values,
        interests,
    };
    let outcome = single(commit(&state, &key.account_id, vec![change]).await?, "database")?;
    let profile = profile_of(outcome)?;
    Ok((StatusCode::CREATED, Json(ProfileView::new(profile, &database.fields))))
}

/// `?limit=`, `?cursor=` and at most one `?fields.<name>=<value>`.
#[utoipa::path(get, path = "/v1/databases/{id}/profiles", operation_id = "listProfiles", tag = "profiles", security(("account_key" = ["data:read"])), params(("id" = String, Path), Paging, ("fields.<name>" = Option<String>, Query, description = "filters on one field's value (one at a time)")), responses((status = 200, body = Page<ProfileView>), crate::openapi::Errors))]
pub async fn list(
    key: AccountKey<DataRead>,
    State(state): State<AppState>,
    ApiPath(database_id): ApiPath<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Page<ProfileView>>> {
    let database = find_database(&state, &key.account_id, &database_id).await?;
    let mut paging = Paging::default();
    let mut field = None;
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "limit" => {
                paging.limit = Some(
                    value
                        .parse()
                        .map_err(|_| ApiError::field("limit", format!("between 1 and {MAX_LIMIT}")))?,
                );
            }
            "cursor" => paging.cursor = Some(value.into_owned()),
            other => {
                let Some(field_name) = other.strip_prefix("fields.") else {
                    return Err(ApiError::field(other, "unknown query parameter"));
                };
                if field.is_some() {
                    return Err(ApiError::field(other, "filter on one field at a time"));
                }
                field = Some(field_filter(&database, other, field_name, value.into_owned())?);
            }
        }
    }
    let listed = state
        .store
        .list_profiles(
            &key.account_id,
            &database.id,
            &ProfileQuery {
                field,
                page: paging.request(ids::PROFILE)?,
            },
        )
        .await?;
    Ok(Json(listed.map(|p| ProfileView::new(p, &database.fields))))
}

/// A search by one field: the value typed as the field's type reads it; errors name
/// `param`.
pub(crate) fn field_filter(
    database: &Database,
    param: &str,
    field_name: &str,
    value: String,
) -> ApiResult<(String, serde_json::Value)> {
    let def = database
        .fields
        .get(field_name)
        .ok_or_else(|| ApiError::field(param, "no such field in this database"))?;
    let typed = def
        .field_type
        .coerce(param, &serde_json::Value::String(value))
        .map_err(|e| ApiError::Invalid(e.into()))?;
    if typed.is_null() {
        return Err(ApiError::field(param, "give a value to filter on"));
    }
    Ok((field_name.to_owned(), typed))
}

#[utoipa::path(get, path = "/v1/profiles/{id}", operation_id = "getProfile", tag = "profiles", security(("account_key" = ["data:read"])), params(("id" = String, Path)), responses((status = 200, body = ProfileView), crate::openapi::Errors))]
pub async fn get(
    key: AccountKey<DataRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ProfileView>> {
    let profile = find_profile(&state, &key.account_id, &id).await?;
    let database = find_database(&state, &key.account_id, &profile.database_id).await?;
    Ok(Json(ProfileView::new(profile, &database.fields)))
}

#[utoipa::path(put, path = "/v1/profiles/{id}", operation_id = "replaceProfile", tag = "profiles", security(("account_key" = ["data:write"])), params(("id" = String, Path)), request_body = ProfileRequest, responses((status = 200, body = ProfileView), crate::openapi::Errors))]
pub async fn replace(
    key: AccountKey<DataWrite>,
    state: State<AppState>,
    id: ApiPath<String>,
    request: ApiJson<ProfileRequest>,
) -> ApiResult<Json<ProfileView>> {
    edit(key, state, id, request, Edit::Replace).await
}

#[utoipa::path(patch, path = "/v1/profiles/{id}", operation_id = "updateProfile", tag = "profiles", security(("account_key" = ["data:write"])), params(("id" = String, Path)), request_body = ProfileRequest, responses((status = 200, body = ProfileView), crate::openapi::Errors))]
pub async fn merge(
    key: AccountKey<DataWrite>,
    state: State<AppState>,
    id: ApiPath<String>,
    request: ApiJson<ProfileRequest>,
) -> ApiResult<Json<ProfileView>> {
    edit(key, state, id, request, Edit::Merge).await
}

async fn edit(
    key: AccountKey<DataWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<ProfileRequest>,
    edit: Edit,
) -> ApiResult<Json<ProfileView>> {
    let (fields, interests) = (request.fields, request.interests);
    let view = edit_profile(&state, &key.account_id, &id, (fields, interests), edit, Source::Api).await?;
    Ok(Json(view))
}

/// Changes a profile's fields (and interests when given), committed with its `update`
/// event marked with `source`.
pub(crate) async fn edit_profile(
    state: &AppState,
    account_id: &str,
    id: &str,
    (fields, interests): (Values, Option<Vec<String>>),
    edit: Edit,
    source: Source,
) -> ApiResult<ProfileView> {
    let profile = find_profile(state, account_id, id).await?;
    let database = find_database(state, account_id, &profile.database_id).await?;
    let values = database.fields.check_values("fields", &fields)?;
    let interests = checked_interests(interests)?;
    let change = Change::EditProfile {
        id: profile.id,
        edit,
        values,
        interests,
    };
    let outcome = single(commit_from(state, account_id, source, vec![change]).await?, "profile")?;
    Ok(ProfileView::new(profile_of(outcome)?, &database.fields))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Also remove every stored event, delivery and attempt that concerns the profile,
    /// and the messages sent to it.
    #[serde(default)]
    erase: bool,
}

/// What an erasure removed besides the profile and its subprofiles.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErasureView {
    profile_id: String,
    erased: Erased,
}

/// Deletes the profile with its subprofiles, each firing its `delete`. With
/// `?erase=true` those events carry the ids only, and every stored event (with its
/// deliveries and attempts) that concerns the profile, and each message sent to it, is
/// removed too, in batches; the answer counts them.
#[utoipa::path(delete, path = "/v1/profiles/{id}", operation_id = "deleteProfile", tag = "profiles", security(("account_key" = ["data:write"])), params(("id" = String, Path), DeleteQuery), responses((status = 204, description = "deleted"), (status = 200, body = ErasureView, description = "deleted and erased (?erase=true)"), crate::openapi::Errors))]
pub async fn delete(
    key: AccountKey<DataWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> ApiResult<Response> {
    if !query.erase {
        single(
            commit(&state, &key.account_id, vec![Change::DeleteProfile { id }]).await?,
            "profile",
        )?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    // Ids sort by creation: the `delete` events of the erasure come after this one, and
    // are kept (they hold no data); every event before it is erased.
    let mark = ids::new_id(ids::EVENT);
    single(
        commit(&state, &key.account_id, vec![Change::EraseProfile { id: id.clone() }]).await?,
        "profile",
    )?;
    let mut erased = Erased::default();
    loop {
        let batch = state
            .store
            .erase_profile_batch(&key.account_id, &id, &mark, ERASE_BATCH)
            .await?;
        if batch.is_empty() {
            break;
        }
        erased.add(batch);
    }
    tracing::info!(
        profile = %id,
        account = %key.account_id,
        events = erased.events,
        messages = erased.messages,
        "profile erased"
    );
    Ok(Json(ErasureView { profile_id: id, erased }).into_response())
}

#[utoipa::path(post, path = "/v1/profiles/{id}/subprofiles", operation_id = "createSubprofile", tag = "profiles", security(("account_key" = ["data:write"])), params(("id" = String, Path)), request_body = SubprofileRequest, responses((status = 201, body = SubprofileView), crate::openapi::Errors))]
pub async fn create_subprofile(
    key: AccountKey<DataWrite>,
    State(state): State<AppState>,
    ApiPath(profile_id): ApiPath<String>,
    ApiJson(request): ApiJson<SubprofileRequest>,
) -> ApiResult<(StatusCode, Json<SubprofileView>)> {
    let profile = find_profile(&state, &key.account_id, &profile_id).await?;
    let collection = match find_collection(&state, &key.account_id, &request.collection_id).await {
        Ok(c) if c.database_id == profile.database_id => c,
        _ => {
            return Err(ApiError::field(
                "collection_id",
                "no collection with this id in the profile's database",
            ));
        }
    };
    let values = collection.fields.check_values("fields", &request.fields)?;
    let change = Change::CreateSubprofile {
        id: ids::new_id(ids::SUBPROFILE),
        profile_id: profile.id,
        collection_id: collection.id.clone(),
        values,
    };
    let outcome = single(commit(&state, &key.account_id, vec![change]).await?, "profile")?;
    Ok((
        StatusCode::CREATED,
        Json(SubprofileView::new(subprofile_of(outcome)?, &collection.fields)),
    ))
}

#[utoipa::path(get, path = "/v1/profiles/{id}/subprofiles", operation_id = "listSubprofiles", tag = "profiles", security(("account_key" = ["data:read"])), params(("id" = String, Path), Paging), responses((status = 200, body = Page<SubprofileView>), crate::openapi::Errors))]
pub async fn list_subprofiles(
    key: AccountKey<DataRead>,
    State(state): State<AppState>,
    ApiPath(profile_id): ApiPath<String>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> ApiResult<Json<Page<SubprofileView>>> {
    let profile = find_profile(&state, &key.account_id, &profile_id).await?;
    let page = state
        .store
        .list_subprofiles(&key.account_id, &profile.id, &paging.request(ids::SUBPROFILE)?)
        .await?;
    let mut schemas = HashMap::new();
    let mut views = Vec::with_capacity(page.data.len());
    for subprofile in page.data {
        if !schemas.contains_key(&subprofile.collection_id) {
            let collection = find_collection(&state, &key.account_id, &subprofile.collection_id).await?;
            schemas.insert(collection.id, collection.fields);
        }
        let schema = schemas.get(&subprofile.collection_id).cloned().unwrap_or_default();
        views.push(SubprofileView::new(subprofile, &schema));
    }
    Ok(Json(Page {
        data: views,
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(get, path = "/v1/subprofiles/{id}", operation_id = "getSubprofile", tag = "profiles", security(("account_key" = ["data:read"])), params(("id" = String, Path)), responses((status = 200, body = SubprofileView), crate::openapi::Errors))]
pub async fn get_subprofile(
    key: AccountKey<DataRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SubprofileView>> {
    let subprofile = find_subprofile(&state, &key.account_id, &id).await?;
    let collection = find_collection(&state, &key.account_id, &subprofile.collection_id).await?;
    Ok(Json(SubprofileView::new(subprofile, &collection.fields)))
}

#[utoipa::path(put, path = "/v1/subprofiles/{id}", operation_id = "replaceSubprofile", tag = "profiles", security(("account_key" = ["data:write"])), params(("id" = String, Path)), request_body = SubprofileEdit, responses((status = 200, body = SubprofileView), crate::openapi::Errors))]
pub async fn replace_subprofile(
    key: AccountKey<DataWrite>,
    state: State<AppState>,
    id: ApiPath<String>,
    request: ApiJson<SubprofileEdit>,
) -> ApiResult<Json<SubprofileView>> {
    edit_subprofile(key, state, id, request, Edit::Replace).await
}

#[utoipa::path(patch, path = "/v1/subprofiles/{id}", operation_id = "updateSubprofile", tag = "profiles", security(("account_key" = ["data:write"])), params(("id" = String, Path)), request_body = SubprofileEdit, responses((status = 200, body = SubprofileView), crate::openapi::Errors))]
pub async fn merge_subprofile(
    key: AccountKey<DataWrite>,
    state: State<AppState>,
    id: ApiPath<String>,
    request: ApiJson<SubprofileEdit>,
) -> ApiResult<Json<SubprofileView>> {
    edit_subprofile(key, state, id, request, Edit::Merge).await
}

async fn edit_subprofile(
    key: AccountKey<DataWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<SubprofileEdit>,
    edit: Edit,
) -> ApiResult<Json<SubprofileView>> {
    let subprofile = find_subprofile(&state, &key.account_id, &id).await?;
    let collection = find_collection(&state, &key.account_id, &subprofile.collection_id).await?;
    let values = collection.fields.check_values("fields", &request.fields)?;
    let change = Change::EditSubprofile { id, edit, values };
    let outcome = single(commit(&state, &key.account_id, vec![change]).await?, "subprofile")?;
    Ok(Json(SubprofileView::new(subprofile_of(outcome)?, &collection.fields)))
}

#[utoipa::path(delete, path = "/v1/subprofiles/{id}", operation_id = "deleteSubprofile", tag = "profiles", security(("account_key" = ["data:write"])), params(("id" = String, Path)), responses((status = 204), crate::openapi::Errors))]
pub async fn delete_subprofile(
    key: AccountKey<DataWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    single(
        commit(&state, &key.account_id, vec![Change::DeleteSubprofile { id }]).await?,
        "subprofile",
    )?;
    Ok(StatusCode::NO_CONTENT)
}
