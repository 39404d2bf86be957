//! Request extractors that turn every kind of bad input into a problem document naming
//! what is wrong: a body that is not JSON, an unknown or mistyped field (by its path),
//! an oversize body, a wrong content type, a malformed query string or path. Axum's own
//! rejections are mapped to problem documents here, in one place.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::decode;
use crate::problem::ApiError;
use crate::state::AppState;

/// A JSON body, decoded strictly.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        json_body(req, state, false).await?.map(ApiJson).ok_or_else(not_json)
    }
}

/// A JSON body that may be left out (no body at all: `None`), decoded strictly when
/// it is there.
pub struct OptionalApiJson<T>(pub Option<T>);

impl<T: DeserializeOwned> FromRequest<AppState> for OptionalApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        json_body(req, state, true).await.map(OptionalApiJson)
    }
}

fn not_json() -> ApiError {
    ApiError::UnsupportedMediaType("send the body as JSON with Content-Type: application/json".into())
}

/// The body as `T`; `None` only when `may_be_empty` and there is no body.
async fn json_body<T: DeserializeOwned>(
    req: Request,
    state: &AppState,
    may_be_empty: bool,
) -> Result<Option<T>, ApiError> {
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        });
    if !is_json && !may_be_empty {
        return Err(not_json());
    }
    let body = Bytes::from_request(req, state)
        .await
        .map_err(|rejection| body_rejection(&rejection, state))?;
    if !is_json {
        return if body.is_empty() { Ok(None) } else { Err(not_json()) };
    }
    let value = decode::parse_json(&body)?;
    // Every request body of the API is an object; serde would also read an array
    // into a struct by position, which nobody means.
    if !value.is_object() {
        return Err(ApiError::field("body", "the body must be a JSON object"));
    }
    decode::decode_value(&value).map(Some)
}

/// Why a body could not be read: it was larger than `server.max_body_bytes`, or it
/// stopped arriving for `server.body_read_timeout` (`serve`).
pub fn body_rejection(rejection: &BytesRejection, state: &AppState) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(error) = cause {
        if error.is::<tower_http::timeout::TimeoutError>() {
            return ApiError::RequestTimeout {
                waited: state.settings.body_read_timeout,
            };
        }
        cause = error.source();
    }
    ApiError::PayloadTooLarge {
        limit: state.settings.max_body_bytes,
    }
}

/// A query string, decoded strictly.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        decode::decode_query(parts.uri.query().unwrap_or_default()).map(ApiQuery)
    }
}

/// The path's parameters. A segment that is not UTF-8 once percent-decoded
/// (`/v1/webhooks/%ff`) is a 400 problem document, like every other bad input.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(path_rejection)
    }
}

fn path_rejection(rejection: PathRejection) -> ApiError {
    match rejection {
        PathRejection::FailedToDeserializePathParams(_) => ApiError::BadRequest {
            detail: "a segment of the path is not valid once percent-decoded (it must be UTF-8 text)".into(),
            errors: Vec::new(),
        },
        other => ApiError::Internal(other.body_text()),
    }
}
