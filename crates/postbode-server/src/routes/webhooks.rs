//! Webhooks: their settings, secret, log, statistics and recovery.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use postbode_core::ids;
use postbode_core::page::{Page, PageRequest};
use postbode_core::webhook::{Verification, VerificationStatus, Webhook, WebhookSettings};
use postbode_signature::random;
use postbode_signature::standard_webhooks::Secret;
use postbode_store::{
    Attempt, AttemptFilter, AttemptQuery, Bucket, RetryRequest, RetrySelection, StatsBucket, StatsQuery, Undelivered,
    WebhookFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

use super::Paging;
use crate::auth::{AccountKey, WebhooksRead, WebhooksWrite};
use crate::decode::decode_value;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use crate::views::WebhookView;

const VERIFICATION_FILE_PREFIX: &str = "postbode-";

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

#[utoipa::path(post, path = "/v1/webhooks", operation_id = "createWebhook", tag = "webhooks", security(("account_key" = ["webhooks:write"])), request_body = postbode_core::webhook::WebhookSettings, responses((status = 201, body = WebhookView), crate::openapi::Errors))]
pub async fn create(
    key: AccountKey<WebhooksWrite>,
    State(state): State<AppState>,
    ApiJson(settings): ApiJson<WebhookSettings>,
) -> ApiResult<(StatusCode, Json<WebhookView>)> {
    let (webhook, secret) = create_webhook(&state, &key.account_id, settings).await?;
    Ok((
        StatusCode::CREATED,
        Json(view(&state, webhook, Some(secret), Undelivered::default())),
    ))
}

/// Checks the settings and stores a new webhook with its secret and ownership file;
/// returns it with the secret in the clear, to show once.
pub(crate) async fn create_webhook(
    state: &AppState,
    account_id: &str,
    mut settings: WebhookSettings,
) -> ApiResult<(Webhook, String)> {
    settings.validate(state.allow_private_targets)?;
    check_scope(state, account_id, &settings).await?;
    let now = state.clock.now();
    let id = ids::new_id(ids::WEBHOOK);
    let secret = Secret::generate().map_err(internal)?.as_str().to_owned();
    let mut webhook = Webhook {
        secret: state.master.seal(secret.as_bytes(), &id).map_err(internal)?,
        previous_secret: None,
        id,
        account_id: account_id.to_owned(),
        settings,
        disabled_reason: None,
        verification: Verification {
            status: VerificationStatus::Pending,
            domain: None,
            file_name: format!(
                "{VERIFICATION_FILE_PREFIX}{}.txt",
                random::string(random::LOWER_ALNUM, 16).map_err(internal)?
            ),
            file_content: random::string(random::URL_SAFE, 43).map_err(internal)?,
            checked_at: None,
            outcome: None,
        },
        failing_since: None,
        paused_until: None,
        pause_reason: None,
        created_at: now,
        updated_at: now,
    };
    super::domains::settle_webhook(state, &mut webhook).await?;
    state.store.create_webhook(&webhook).await?;
    Ok((webhook, secret))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    database_id: Option<String>,
    collection_id: Option<String>,
}

#[utoipa::path(get, path = "/v1/webhooks", operation_id = "listWebhooks", tag = "webhooks", security(("account_key" = ["webhooks:read"])), params(ListQuery), responses((status = 200, body = Page<WebhookView>), crate::openapi::Errors))]
pub async fn list(
    key: AccountKey<WebhooksRead>,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<WebhookView>>> {
    let paging = Paging {
        limit: query.limit,
        cursor: query.cursor,
    };
    let filter = WebhookFilter {
        database_id: query.database_id,
        collection_id: query.collection_id,
    };
    let page = state
        .store
        .list_webhooks(&key.account_id, &filter, &paging.request(ids::WEBHOOK)?)
        .await?;
    let ids: Vec<&str> = page.data.iter().map(|w| w.id.as_str()).collect();
    let mut undelivered = undelivered(&state, &key.account_id, &ids).await?;
    Ok(Json(page.map(|w| {
        let counts = undelivered.remove(&w.id).unwrap_or_default();
        view(&state, w, None, counts)
    })))
}

/// A webhook may be limited to a database or collection of its own account only; with
/// both, the collection must be in the database. `fields_changed` names fields of the
/// collection (when there is one) or of the database.
async fn check_scope(state: &AppState, account_id: &str, settings: &WebhookSettings) -> ApiResult<()> {
    let database = match &settings.database_id {
        None => None,
        Some(id) => Some(
            super::databases::find_database(state, account_id, id)
                .await
                .map_err(|e| not_found_as_field(e, "database_id"))?,
        ),
    };
    if let Some(id) = &settings.collection_id {
        let collection = super::databases::find_collection(state, account_id, id)
            .await
            .map_err(|e| not_found_as_field(e, "collection_id"))?;
        if database.as_ref().is_some_and(|d| d.id != collection.database_id) {
            return Err(ApiError::field(
                "collection_id",
                "this collection is not in the database_id",
            ));
        }
        settings.check_fields_of(&collection.fields)?;
    } else if let Some(database) = &database {
        settings.check_fields_of(&database.fields)?;
    }
    Ok(())
}

/// A setting naming a missing object is bad input (422 on that field); other errors
/// stay what they are.
fn not_found_as_field(error: ApiError, field: &str) -> ApiError {
    match error {
        ApiError::NotFound(what) => ApiError::field(field, format!("no {what} with this id")),
        other => other,
    }
}

/// Every webhook of the account, read a page at a time.
pub(super) async fn all_webhooks(state: &AppState, account_id: &str) -> ApiResult<Vec<Webhook>> {
    let mut webhooks = Vec::new();
    let mut page = PageRequest {
        after: None,
        limit: postbode_core::page::MAX_LIMIT,
    };
    loop {
        let listed = state
            .store
            .list_webhooks(account_id, &Default::default(), &page)
            .await?;
        webhooks.extend(listed.data);
        match listed.next_cursor {
            Some(cursor) => page.after = Some(cursor),
            None => break,
        }
    }
    Ok(webhooks)
}

/// A webhook as the API shows it, with what the engine is doing for it and what it has
/// not been sent.
fn view(state: &AppState, webhook: Webhook, secret: Option<String>, undelivered: Undelivered) -> WebhookView {
    let engine = state.engine.webhook(&webhook.id);
    WebhookView::new(webhook, secret, state.require_verification, engine, undelivered)
}

/// What the webhooks have not been sent: held deliveries, and skips of the last 24 hours.
pub(crate) async fn undelivered(
    state: &AppState,
    account_id: &str,
    ids: &[&str],
) -> ApiResult<HashMap<String, Undelivered>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let since = state.clock.now() - chrono::Duration::hours(24);
    Ok(state.store.undelivered(account_id, ids, since).await?)
}

/// One webhook as the API shows it (see [`view`]).
async fn view_one(state: &AppState, account_id: &str, webhook: Webhook) -> ApiResult<WebhookView> {
    let counts = undelivered(state, account_id, &[webhook.id.as_str()])
        .await?
        .remove(&webhook.id)
        .unwrap_or_default();
    Ok(view(state, webhook, None, counts))
}

/// The caller's webhook, or 404: another account's webhook does not exist for it.
pub(crate) async fn find(state: &AppState, account_id: &str, id: &str) -> ApiResult<Webhook> {
    if !ids::has_kind(id, ids::WEBHOOK) {
        return Err(ApiError::NotFound("webhook"));
    }
    state
        .store
        .get_webhook(account_id, id)
        .await?
        .ok_or(ApiError::NotFound("webhook"))
}

#[utoipa::path(get, path = "/v1/webhooks/{id}", operation_id = "getWebhook", tag = "webhooks", security(("account_key" = ["webhooks:read"])), params(("id" = String, Path)), responses((status = 200, body = WebhookView), crate::openapi::Errors))]
pub async fn get(
    key: AccountKey<WebhooksRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<WebhookView>> {
    let webhook = find(&state, &key.account_id, &id).await?;
    Ok(Json(view_one(&state, &key.account_id, webhook).await?))
}

/// Merges the given fields into the current settings and checks the result as a whole.
#[utoipa::path(patch, path = "/v1/webhooks/{id}", operation_id = "updateWebhook", tag = "webhooks", security(("account_key" = ["webhooks:write"])), params(("id" = String, Path)), request_body = crate::openapi::WebhookPatch, responses((status = 200, body = WebhookView), crate::openapi::Errors))]
pub async fn update(
    key: AccountKey<WebhooksWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<Map<String, Value>>,
) -> ApiResult<Json<WebhookView>> {
    let webhook = update_webhook(&state, &key.account_id, &id, patch).await?;
    Ok(Json(view_one(&state, &key.account_id, webhook).await?))
}

/// `PATCH`'s rules: `patch` merged into the current settings, checked as a whole.
pub(crate) async fn update_webhook(
    state: &AppState,
    account_id: &str,
    id: &str,
    patch: Map<String, Value>,
) -> ApiResult<Webhook> {
    let mut webhook = find(state, account_id, id).await?;
    let mut merged = match serde_json::to_value(&webhook.settings).map_err(internal)? {
        Value::Object(map) => map,
        _ => return Err(internal("webhook settings are not an object")),
    };
    merged.extend(patch);
    let mut settings: WebhookSettings = decode_value(&Value::Object(merged))?;
    settings.validate(state.allow_private_targets)?;
    check_scope(state, account_id, &settings).await?;
    if settings.enabled && !webhook.settings.enabled {
        // Re-enabling starts a fresh run: the old failures no longer count against it.
        webhook.disabled_reason = None;
        webhook.failing_since = None;
    }
    if !same_origin_and_directory(&webhook.settings.url, &settings.url) {
        // The proof covered the old place only.
        let before = webhook.verification.status;
        webhook.verification.status = VerificationStatus::Pending;
        webhook.verification.domain = None;
        webhook.verification.checked_at = None;
        webhook.verification.outcome = None;
        log_verification_change(&webhook, before, "the URL moved to another place");
    }
    let url_changed = webhook.settings.url != settings.url;
    webhook.settings = settings;
    if url_changed {
        super::domains::settle_webhook(state, &mut webhook).await?;
    }
    webhook.updated_at = state.clock.now();
    if !state.store.update_webhook(&webhook).await? {
        return Err(ApiError::NotFound("webhook"));
    }
    Ok(webhook)
}

/// One log line per change of a webhook's verification status, for the operator.
pub(super) fn log_verification_change(webhook: &Webhook, before: VerificationStatus, why: &str) {
    let after = webhook.verification.status;
    if after != before {
        tracing::info!(
            webhook = %webhook.id,
            account = %webhook.account_id,
            from = ?before,
            to = ?after,
            reason = %why,
            "webhook verification changed"
        );
    }
}

/// Whether two callback URLs share scheme, host, port and directory: what a verified
/// ownership file proves.
fn same_origin_and_directory(old: &str, new: &str) -> bool {
    let directory = |raw: &str| {
        url::Url::parse(raw).ok().and_then(|u| u.join("./").ok()).map(|u| {
            (
                u.scheme().to_owned(),
                u.host_str().map(str::to_owned),
                u.port_or_known_default(),
                u.path().to_owned(),
            )
        })
    };
    directory(old).is_some_and(|d| Some(d) == directory(new))
}

#[utoipa::path(delete, path = "/v1/webhooks/{id}", operation_id = "deleteWebhook", tag = "webhooks", security(("account_key" = ["webhooks:write"])), params(("id" = String, Path)), responses((status = 204), crate::openapi::Errors))]
pub async fn delete(
    key: AccountKey<WebhooksWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    delete_webhook(&state, &key.account_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn delete_webhook(state: &AppState, account_id: &str, id: &str) -> ApiResult<()> {
    if ids::has_kind(id, ids::WEBHOOK) && state.store.delete_webhook(account_id, id).await? {
        Ok(())
    } else {
        Err(ApiError::NotFound("webhook"))
    }
}

fn open_secret(state: &AppState, webhook_id: &str, sealed: &str) -> ApiResult<String> {
    let plain = state.master.open(sealed, webhook_id).map_err(internal)?;
    String::from_utf8(plain).map_err(internal)
}

#[utoipa::path(get, path = "/v1/webhooks/{id}/secret", operation_id = "getWebhookSecret", tag = "webhooks", security(("account_key" = ["webhooks:write"])), params(("id" = String, Path)), responses((status = 200, body = crate::openapi::SecretView), crate::openapi::Errors))]
pub async fn secret(
    key: AccountKey<WebhooksWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let webhook = find(&state, &key.account_id, &id).await?;
    let (secret, previous) = secrets(&state, &webhook)?;
    Ok(Json(json!({
        "secret": secret,
        "previous_secret": previous.as_ref().map(|(secret, _)| secret),
        "previous_secret_expires_at": previous.map(|(_, until)| until),
    })))
}

/// A secret in the clear, with the end of its overlap.
pub(crate) type PreviousSecret = (String, DateTime<Utc>);

/// The webhook's secret in the clear, and the previous one while it still signs.
pub(crate) fn secrets(state: &AppState, webhook: &Webhook) -> ApiResult<(String, Option<PreviousSecret>)> {
    let now = state.clock.now();
    let previous = match &webhook.previous_secret {
        Some((sealed, until)) if *until > now => Some((open_secret(state, &webhook.id, sealed)?, *until)),
        _ => None,
    };
    Ok((open_secret(state, &webhook.id, &webhook.secret)?, previous))
}

/// A new secret; the old one keeps signing beside it for the overlap
/// (`webhooks.secret_overlap`, 24 h by default), so receivers can switch at leisure.
#[utoipa::path(post, path = "/v1/webhooks/{id}/secret/rotate", operation_id = "rotateWebhookSecret", tag = "webhooks", security(("account_key" = ["webhooks:write"])), params(("id" = String, Path)), responses((status = 200, body = crate::openapi::RotatedSecret), crate::openapi::Errors))]
pub async fn rotate_secret(
    key: AccountKey<WebhooksWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let (secret, until) = rotate_webhook_secret(&state, &key.account_id, &id).await?;
    Ok(Json(json!({ "secret": secret, "previous_secret_expires_at": until })))
}

/// Makes a new secret; returns it, and when the previous one stops signing.
pub(crate) async fn rotate_webhook_secret(
    state: &AppState,
    account_id: &str,
    id: &str,
) -> ApiResult<(String, DateTime<Utc>)> {
    let mut webhook = find(state, account_id, id).await?;
    let now = state.clock.now();
    let until = now + chrono::Duration::from_std(state.secret_overlap).unwrap_or(chrono::Duration::MAX);
    let secret = Secret::generate().map_err(internal)?.as_str().to_owned();
    let sealed = state.master.seal(secret.as_bytes(), &webhook.id).map_err(internal)?;
    webhook.previous_secret = Some((std::mem::replace(&mut webhook.secret, sealed), until));
    webhook.updated_at = now;
    if !state.store.update_webhook(&webhook).await? {
        return Err(ApiError::NotFound("webhook"));
    }
    tracing::info!(
        webhook = %webhook.id,
        account = %webhook.account_id,
        reason = "requested through the API",
        previous_signs_until = %until.format("%Y-%m-%dT%H:%M:%SZ"),
        "webhook secret rotated"
    );
    Ok((secret, until))
}

#[utoipa::path(get, path = "/v1/webhooks/{id}/verification-file", operation_id = "getVerificationFile", tag = "webhooks", security(("account_key" = ["webhooks:read"])), params(("id" = String, Path)), responses((status = 200, body = String, content_type = "text/plain", description = "the ownership file to place"), crate::openapi::Errors))]
pub async fn verification_file(
    key: AccountKey<WebhooksRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    Ok(verification_file_download(find(&state, &key.account_id, &id).await?))
}

/// The ownership file as a download named as it must be placed.
pub(crate) fn verification_file_download(webhook: Webhook) -> Response {
    let disposition = format!("attachment; filename=\"{}\"", webhook.verification.file_name);
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        webhook.verification.file_content,
    )
        .into_response()
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Json,
    Csv,
    Jsonl,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AttemptsQuery {
    status: Option<AttemptFilter>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    format: Option<ExportFormat>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The attempt log, newest first; `?format=csv|jsonl` streams all of it page by page.
#[utoipa::path(get, path = "/v1/webhooks/{id}/attempts", operation_id = "listAttempts", tag = "log", security(("account_key" = ["webhooks:read"])), params(("id" = String, Path), AttemptsQuery), responses((status = 200, description = "a page of attempts, or with ?format=csv|jsonl the whole log as a file", content((Page<postbode_store::Attempt> = "application/json"), (String = "text/csv"), (String = "application/x-ndjson"))), crate::openapi::Errors))]
pub async fn attempts(
    key: AccountKey<WebhooksRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<AttemptsQuery>,
) -> ApiResult<Response> {
    let webhook = find(&state, &key.account_id, &id).await?;
    let query = AttemptQuery {
        webhook_id: webhook.id,
        status: q.status,
        since: q.since,
        until: q.until,
        page: Paging {
            limit: q.limit,
            cursor: q.cursor,
        }
        .request(ids::ATTEMPT)?,
    };
    let format = q.format.unwrap_or(ExportFormat::Json);
    if format == ExportFormat::Json {
        return Ok(Json(state.store.list_attempts(&key.account_id, &query).await?).into_response());
    }
    Ok(export_attempts(state, key.account_id, query, format))
}

/// Streams every attempt the query selects as CSV or JSON lines, page by page.
pub(crate) fn export_attempts(
    state: AppState,
    account_id: String,
    mut query: AttemptQuery,
    format: ExportFormat,
) -> Response {
    query.page = PageRequest {
        after: None,
        limit: postbode_core::page::MAX_LIMIT,
    };
    let (content_type, file) = match format {
        ExportFormat::Csv => ("text/csv; charset=utf-8", "attempts.csv"),
        _ => ("application/x-ndjson", "attempts.jsonl"),
    };
    let stream = futures_util::stream::unfold(
        (state, query, account_id, true, false),
        move |(state, mut query, account_id, first, done)| async move {
            if done {
                return None;
            }
            match state.store.list_attempts(&account_id, &query).await {
                Ok(page) => {
                    let chunk = export_chunk(format, &page.data, first);
                    let done = page.next_cursor.is_none() || chunk.is_err();
                    query.page.after = page.next_cursor;
                    Some((chunk, (state, query, account_id, false, done)))
                }
                Err(e) => Some((
                    Err(std::io::Error::other(e.to_string())),
                    (state, query, account_id, false, true),
                )),
            }
        },
    );
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

const CSV_HEADER: [&str; 12] = [
    "id",
    "delivery_id",
    "webhook_id",
    "event_id",
    "number",
    "trigger",
    "started_at",
    "duration_ms",
    "status_code",
    "error_kind",
    "error",
    "response_body",
];

/// The export's lines of one page of attempts (after the header line, when `header`).
fn export_chunk(format: ExportFormat, attempts: &[Attempt], header: bool) -> Result<String, std::io::Error> {
    if format != ExportFormat::Csv {
        let mut out = String::new();
        for a in attempts {
            out.push_str(&serde_json::to_string(a)?);
            out.push('\n');
        }
        return Ok(out);
    }
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    if header {
        csv.write_record(CSV_HEADER)?;
    }
    for a in attempts {
        let started_at = a.started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let fields = [
            a.id.as_str(),
            a.delivery_id.as_deref().unwrap_or_default(),
            &a.webhook_id,
            a.event_id.as_deref().unwrap_or_default(),
            &a.number.to_string(),
            a.trigger.as_str(),
            &started_at,
            &a.duration_ms.to_string(),
            &a.status_code.map(|c| c.to_string()).unwrap_or_default(),
            a.error_kind.as_deref().unwrap_or_default(),
            a.error.as_deref().unwrap_or_default(),
            a.response_body.as_deref().unwrap_or_default(),
        ];
        csv.write_record(fields.map(formula_safe))?;
    }
    let bytes = csv.into_inner().map_err(|e| e.into_error())?;
    String::from_utf8(bytes).map_err(std::io::Error::other)
}

/// A leading `=`, `+`, `-` or `@` is prefixed with `'`, so a spreadsheet never runs a
/// receiver's answer as a formula (the csv crate does the RFC 4180 quoting).
fn formula_safe(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsParams {
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    bucket: Option<Bucket>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StatsView {
    webhook_id: String,
    bucket: &'static str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    data: Vec<StatsBucket>,
}

#[utoipa::path(get, path = "/v1/webhooks/{id}/stats", operation_id = "getWebhookStats", tag = "log", security(("account_key" = ["webhooks:read"])), params(("id" = String, Path), StatsParams), responses((status = 200, body = StatsView), crate::openapi::Errors))]
pub async fn stats(
    key: AccountKey<WebhooksRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<StatsParams>,
) -> ApiResult<Json<StatsView>> {
    let webhook = find(&state, &key.account_id, &id).await?;
    let query = stats_window(&state, params.since, params.until, params.bucket)?;
    let (since, until, bucket) = (query.since, query.until, query.bucket);
    let data = state.store.webhook_stats(&key.account_id, &webhook.id, &query).await?;
    Ok(Json(StatsView {
        webhook_id: webhook.id,
        bucket: match bucket {
            Bucket::Hour => "hour",
            Bucket::Day => "day",
        },
        since,
        until,
        data,
    }))
}

/// The statistics window: up to `until` (default now), from `since` (default a day
/// before `until`).
pub(crate) fn stats_window(
    state: &AppState,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    bucket: Option<Bucket>,
) -> ApiResult<StatsQuery> {
    let until = until.unwrap_or_else(|| state.clock.now());
    let since = since.unwrap_or(until - chrono::Duration::hours(24));
    if since >= until {
        return Err(ApiError::field("since", "must be before until"));
    }
    Ok(StatsQuery {
        since,
        until,
        bucket: bucket.unwrap_or_default(),
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"since": "2026-11-23T00:00:00Z"}))]
pub struct RecoverRequest {
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
}

/// Resends every failed delivery of the webhook created from `since` up to and
/// including `until` (default: now).
#[utoipa::path(post, path = "/v1/webhooks/{id}/recover", operation_id = "recoverWebhook", tag = "events", security(("account_key" = ["webhooks:write"])), params(("id" = String, Path)), request_body = RecoverRequest, responses((status = 202, body = crate::openapi::Recovered), crate::openapi::Errors))]
pub async fn recover(
    key: AccountKey<WebhooksWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RecoverRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let count = recover_failed(&state, &key.account_id, &id, body.since, body.until).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "deliveries": count }))))
}

/// Makes every failed delivery of the webhook created in `[since, until]` (default
/// until: now) due again; returns how many.
pub(crate) async fn recover_failed(
    state: &AppState,
    account_id: &str,
    webhook_id: &str,
    since: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> ApiResult<u64> {
    let webhook = find(state, account_id, webhook_id).await?;
    let now = state.clock.now();
    let until = until.unwrap_or(now);
    if since > until {
        return Err(ApiError::field("since", "must not be after until"));
    }
    Ok(state
        .store
        .retry(RetryRequest {
            account_id: account_id.to_owned(),
            selection: RetrySelection::Webhook {
                webhook_id: webhook.id.clone(),
                since,
                until,
            },
            now,
        })
        .await?
        .len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formula_safe() {
        let attempt = Attempt {
            id: "att_1".into(),
            delivery_id: None,
            webhook_id: "wh_1".into(),
            event_id: None,
            number: 1,
            trigger: postbode_store::Trigger::Test,
            started_at: "2026-01-01T00:00:00Z".parse().unwrap(),
            duration_ms: 5,
            status_code: Some(500),
            error_kind: Some("=SUM(A1)".into()),
            error: Some("a,b".into()),
            response_body: Some("say \"hi\"\nbye".into()),
        };
        let text = export_chunk(ExportFormat::Csv, &[attempt], true).unwrap();
        let mut lines = text.split_inclusive('\n');
        assert_eq!(
            lines.next(),
            Some(
                "id,delivery_id,webhook_id,event_id,number,trigger,started_at,duration_ms,status_code,error_kind,error,response_body\n"
            )
        );
        assert_eq!(
            lines.collect::<String>(),
            "att_1,,wh_1,,1,test,2026-01-01T00:00:00.000Z,5,500,'=SUM(A1),\"a,b\",\"say \"\"hi\"\"\nbye\"\n"
        );
    }
}
