//! The OpenAPI 3.1 document (`GET /openapi.json`), generated from the handlers'
//! `#[utoipa::path]` annotations and the types' schemas. `tests` checks that it names
//! exactly the routes the router serves.

use postbode_core::FieldError;
use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

use crate::routes;

/// An RFC 9457 problem document: every error the API answers with.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Problem {
    /// `/problems/<kind>`, e.g. `/problems/validation`.
    #[serde(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: String,
    /// Each bad field by its full path (`events[1].type`), on 400 and 422 answers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldErrorSchema>,
}

/// One bad field of a request.
#[derive(Serialize, ToSchema)]
#[schema(as = FieldError)]
#[allow(dead_code)]
pub struct FieldErrorSchema {
    field: String,
    message: String,
}

impl From<FieldError> for FieldErrorSchema {
    fn from(e: FieldError) -> Self {
        Self {
            field: e.field,
            message: e.message,
        }
    }
}

/// The error answers any operation may give, each a problem document.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum Errors {
    /// The request is malformed: not JSON, a path segment that is not UTF-8.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(#[to_schema] Problem),
    /// Missing or invalid credentials.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// An account key on an operator's route.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// No such object in the caller's account (another account's objects do not exist for it).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// A conflict with the stored state (an idempotency key reused, an unverified URL, ...).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// The body is larger than `server.max_body_bytes`.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// The body is not JSON (`Content-Type: application/json`).
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// Fields of the request break a rule; `errors` names each.
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
}

/// The two ways to authenticate: an account's API key and the operator token, both as
/// `Authorization: Bearer`.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            let mut http = Http::new(HttpAuthScheme::Bearer);
            http.description = Some(description.to_owned());
            SecurityScheme::Http(http)
        };
        components.add_security_scheme(
            "account_key",
            bearer("An account's API key (`pb_<key id>_<secret>`): acts inside its account only."),
        );
        components.add_security_scheme(
            "operator_token",
            bearer("The operator token (POSTBODE_ADMIN_TOKEN, or the data directory's admin-token file)."),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Postbode", description = "A self-hosted webhook delivery service."),
    modifiers(&SecuritySchemes),
    paths(
        routes::domains::create,
        routes::domains::list,
        routes::domains::get,
        routes::domains::delete,
        routes::domains::validate,
    ),
    components(schemas(Problem, FieldErrorSchema))
)]
pub struct ApiDoc;

/// The document, as `GET /openapi.json` serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
