//! Validated domains: an account adds a domain, publishes the TXT record it is given,
//! and asks for a check; once validated, its webhooks on that domain and every
//! subdomain are verified without a file (`postbode_core::domain::settle`, applied
//! here to every webhook of the account whenever its validated domains change).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use postbode_core::domain::{self, Domain, DomainStatus};
use postbode_core::ids;
use postbode_core::page::Page;
use postbode_core::webhook::Webhook;
use postbode_signature::random;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Paging;
use super::webhooks::{all_webhooks, log_verification_change};
use crate::auth::{AccountKey, Needs, WebhooksRead, WebhooksWrite};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDomain {
    /// A DNS name, e.g. `example.com`; stored lower case, in its ASCII (punycode) form.
    domain: String,
}

/// The TXT record that proves the account controls the domain.
#[derive(Serialize, ToSchema)]
pub struct ChallengeRecord {
    /// `_postbode-challenge.<domain>`
    name: String,
    #[serde(rename = "type")]
    #[schema(example = "TXT")]
    record_type: &'static str,
    /// `postbode-verify=<token>`
    value: String,
}

#[derive(Serialize, ToSchema)]
pub struct DomainView {
    id: String,
    domain: String,
    status: DomainStatus,
    record: ChallengeRecord,
    checked_at: Option<DateTime<Utc>>,
    outcome: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<Domain> for DomainView {
    fn from(d: Domain) -> Self {
        Self {
            record: ChallengeRecord {
                name: d.record_name(),
                record_type: "TXT",
                value: d.record_value(),
            },
            id: d.id,
            domain: d.domain,
            status: d.status,
            checked_at: d.checked_at,
            outcome: d.outcome,
            created_at: d.created_at,
        }
    }
}

/// What a check found.
#[derive(Serialize, ToSchema)]
pub struct ValidationView {
    status: DomainStatus,
    checked_at: Option<DateTime<Utc>>,
    outcome: Option<String>,
}

/// Adds a domain: publish its `record`, then validate it.
#[utoipa::path(post, path = "/v1/domains", operation_id = "createDomain", tag = "domains", security(("account_key" = ["webhooks:write"])),
    request_body = NewDomain,
    responses((status = 201, body = DomainView), (status = 409, body = crate::openapi::Problem,
        description = "the account has this domain already"), crate::openapi::Errors))]
pub async fn create(
    key: AccountKey<WebhooksWrite>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewDomain>,
) -> ApiResult<(StatusCode, Json<DomainView>)> {
    let name = domain::normalise("domain", &body.domain).map_err(|e| ApiError::Invalid(e.into()))?;
    let domain = Domain {
        id: ids::new_id(ids::DOMAIN),
        account_id: key.account_id,
        domain: name,
        token: random::string(random::LOWER_ALNUM, 32).map_err(|e| ApiError::Internal(e.to_string()))?,
        status: DomainStatus::Pending,
        checked_at: None,
        outcome: None,
        created_at: state.clock.now(),
    };
    if !state.store.create_domain(&domain).await? {
        return Err(ApiError::Conflict(format!(
            "the account has the domain {} already",
            domain.domain
        )));
    }
    Ok((StatusCode::CREATED, Json(domain.into())))
}

#[utoipa::path(get, path = "/v1/domains", operation_id = "listDomains", tag = "domains", security(("account_key" = ["webhooks:read"])),
    params(Paging), responses((status = 200, body = Page<DomainView>), crate::openapi::Errors))]
pub async fn list(
    key: AccountKey<WebhooksRead>,
    State(state): State<AppState>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> ApiResult<Json<Page<DomainView>>> {
    let page = state
        .store
        .list_domains(&key.account_id, &paging.request(ids::DOMAIN)?)
        .await?;
    Ok(Json(page.map(DomainView::from)))
}

async fn find<S: Needs>(state: &AppState, key: &AccountKey<S>, id: &str) -> ApiResult<Domain> {
    if !ids::has_kind(id, ids::DOMAIN) {
        return Err(ApiError::NotFound("domain"));
    }
    state
        .store
        .get_domain(&key.account_id, id)
        .await?
        .ok_or(ApiError::NotFound("domain"))
}

#[utoipa::path(get, path = "/v1/domains/{id}", operation_id = "getDomain", tag = "domains", security(("account_key" = ["webhooks:read"])),
    params(("id" = String, Path)), responses((status = 200, body = DomainView), crate::openapi::Errors))]
pub async fn get(
    key: AccountKey<WebhooksRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<DomainView>> {
    Ok(Json(find(&state, &key, &id).await?.into()))
}

/// Removes the domain: webhooks it verified are pending again (unless another validated
/// domain covers them); those verified by their file stay verified.
#[utoipa::path(delete, path = "/v1/domains/{id}", operation_id = "deleteDomain", tag = "domains", security(("account_key" = ["webhooks:write"])),
    params(("id" = String, Path)), responses((status = 204), crate::openapi::Errors))]
pub async fn delete(
    key: AccountKey<WebhooksWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    if !ids::has_kind(&id, ids::DOMAIN) || !state.store.delete_domain(&key.account_id, &id).await? {
        return Err(ApiError::NotFound("domain"));
    }
    settle_webhooks(&state, &key.account_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Looks the challenge record up now. A validated domain stays validated when a later
/// check fails (the record may be removed after success).
#[utoipa::path(post, path = "/v1/domains/{id}/validate", operation_id = "validateDomain", tag = "domains", security(("account_key" = ["webhooks:write"])),
    params(("id" = String, Path)), responses((status = 200, body = ValidationView), crate::openapi::Errors))]
pub async fn validate(
    key: AccountKey<WebhooksWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ValidationView>> {
    let mut domain = find(&state, &key, &id).await?;
    let before = domain.status;
    let found = state.dns.txt(&domain.record_name()).await;
    domain.judge(found, state.clock.now());
    if !state.store.update_domain(&domain).await? {
        return Err(ApiError::NotFound("domain"));
    }
    if domain.status != before {
        tracing::info!(
            domain = %domain.domain,
            account = %domain.account_id,
            reason = domain.outcome.as_deref().unwrap_or_default(),
            "domain validated"
        );
        settle_webhooks(&state, &key.account_id).await?;
    }
    Ok(Json(ValidationView {
        status: domain.status,
        checked_at: domain.checked_at,
        outcome: domain.outcome,
    }))
}

/// Applies the account's validated domains to each of its webhooks, saving those whose
/// verification changes (in one transaction).
async fn settle_webhooks(state: &AppState, account_id: &str) -> ApiResult<()> {
    let validated = state.store.validated_domains(account_id).await?;
    let now = state.clock.now();
    let mut changed: Vec<Webhook> = Vec::new();
    for mut webhook in all_webhooks(state, account_id).await? {
        let before = webhook.verification.status;
        if let Some(why) = domain::settle(&mut webhook, &validated, now) {
            webhook.updated_at = now;
            log_verification_change(&webhook, before, &why);
            changed.push(webhook);
        }
    }
    let changed: Vec<&Webhook> = changed.iter().collect();
    Ok(state.store.save_verifications(&changed).await?)
}

/// Applies the account's validated domains to a webhook about to be saved (created, or
/// its URL changed).
pub(super) async fn settle_webhook(state: &AppState, webhook: &mut Webhook) -> ApiResult<()> {
    let validated = state.store.validated_domains(&webhook.account_id).await?;
    let before = webhook.verification.status;
    if let Some(why) = domain::settle(webhook, &validated, state.clock.now()) {
        log_verification_change(webhook, before, &why);
    }
    Ok(())
}
