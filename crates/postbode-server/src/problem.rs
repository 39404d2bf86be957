//! Every API error, rendered as an RFC 9457 problem document.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use postbode_core::{FieldError, ValidationError};
use postbode_store::StoreError;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    BadRequest { detail: String, errors: Vec<FieldError> },
    #[error("missing or invalid credentials")]
    Unauthorized,
    #[error("this route needs the operator token")]
    Forbidden,
    /// An account key without the scope the route needs.
    #[error("this route needs an API key with the {0} scope (or manage)")]
    MissingScope(postbode_core::scope::Scope),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("this method is not allowed on this route; the Allow header lists the ones that are")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The body stopped arriving for `server.body_read_timeout`.
    #[error("no part of the request body arrived for {} s; send the request again", .waited.as_secs_f64())]
    RequestTimeout { waited: std::time::Duration },
    /// Too many failed authentications from this address or with this key (`throttle`).
    #[error("too many failed authentications from this address or with this key; try again in {retry_after} s")]
    TooManyRequests { retry_after: u64 },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{}", .0)]
    Invalid(#[from] ValidationError),
    /// The store cannot write now (disk full, database unreachable): nothing was
    /// changed; the client should send the same request again later.
    #[error("the service cannot store anything right now; nothing was changed, send the request again later")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

/// What a `503` asks the client to wait before it tries again.
const RETRY_AFTER_SECONDS: u64 = 10;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::IdempotencyConflict { key } => ApiError::Conflict(format!(
                "the idempotency key {key:?} was already used with a different request"
            )),
            other if other.is_unavailable() => ApiError::Unavailable(other.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid(ValidationError::single(field, message))
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    /// The seconds a client should wait before it sends the request again, as the
    /// answer's `Retry-After` (every `503` and `429` has one).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Unavailable(_) => Some(RETRY_AFTER_SECONDS),
            ApiError::TooManyRequests { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad-request", "The request is malformed"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Authentication needed"),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            ApiError::MissingScope(_) => (StatusCode::FORBIDDEN, "missing-scope", "The API key lacks a scope"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too-large", "Request body too large"),
            ApiError::RequestTimeout { .. } => (
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "The request body stopped arriving",
            ),
            ApiError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many failed authentications",
            ),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            ApiError::Invalid(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "The request has invalid fields",
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The service cannot store anything right now",
            ),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
    /// The scope a `missing-scope` refusal asks for.
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'static str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title) = self.parts();
        match &self {
            ApiError::Internal(cause) => tracing::error!(%cause, "request failed"),
            ApiError::Unavailable(cause) => tracing::warn!(%cause, "a request could not be stored"),
            _ => {}
        }
        let errors: &[FieldError] = match &self {
            ApiError::BadRequest { errors, .. } => errors,
            ApiError::Invalid(v) => &v.errors,
            _ => &[],
        };
        let problem = Problem {
            kind: format!("/problems/{slug}"),
            title,
            status: status.as_u16(),
            detail: self.to_string(),
            errors,
            scope: match &self {
                ApiError::MissingScope(scope) => Some(scope.as_str()),
                _ => None,
            },
        };
        let mut response = (status, Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
