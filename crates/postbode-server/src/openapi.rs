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
    BadRequest(Problem),
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
    /// Too many failed authentications from this address or with this key; `Retry-After`
    /// says when to try again.
    #[response(status = 429, content_type = "application/problem+json")]
    TooManyRequests(Problem),
    /// The store cannot be reached or cannot write now; nothing was changed, and
    /// `Retry-After` says when to send the request again.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
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
            bearer(
                "An account's API key (`pb_<key id>_<secret>`): acts inside its account only, within its scopes \
                 (each operation lists the scope it needs; `manage` grants all, and writing webhooks or data \
                 grants reading them). A key without the scope is answered 403 `/problems/missing-scope`.",
            ),
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
        routes::health::health,
        routes::health::ready,
        routes::keys::well_known,
        routes::keys::list,
        routes::keys::rotate,
        routes::accounts::current,
        routes::event_types::list,
        routes::event_types::create,
        routes::event_types::get,
        routes::event_types::update,
        routes::event_types::delete,
        routes::accounts::create,
        routes::accounts::list,
        routes::accounts::create_key,
        routes::accounts::list_keys,
        routes::accounts::delete_key,
        routes::webhooks::create,
        routes::webhooks::list,
        routes::webhooks::get,
        routes::webhooks::update,
        routes::webhooks::delete,
        routes::webhooks::secret,
        routes::webhooks::rotate_secret,
        routes::webhooks::verification_file,
        routes::webhooks::attempts,
        routes::webhooks::stats,
        routes::webhooks::recover,
        routes::replay::replay,
        routes::replay::get_job,
        routes::checks::check_all,
        routes::checks::verify,
        routes::checks::test,
        routes::events::list_deliveries,
        routes::events::create,
        routes::events::create_batch,
        routes::events::get,
        routes::events::get_delivery,
        routes::events::resend,
        routes::databases::create,
        routes::databases::list,
        routes::databases::get,
        routes::databases::update,
        routes::databases::delete,
        routes::databases::create_collection,
        routes::databases::list_collections,
        routes::databases::get_collection,
        routes::databases::update_collection,
        routes::databases::delete_collection,
        routes::profiles::create,
        routes::profiles::list,
        routes::profiles::get,
        routes::profiles::replace,
        routes::profiles::merge,
        routes::profiles::delete,
        routes::profiles::create_subprofile,
        routes::profiles::list_subprofiles,
        routes::profiles::get_subprofile,
        routes::profiles::replace_subprofile,
        routes::profiles::merge_subprofile,
        routes::profiles::delete_subprofile,
        routes::import::import,
        routes::messages::create,
        routes::messages::link,
        routes::messages::delivery,
        routes::messages::bounce,
        routes::messages::failure,
        routes::messages::abuse,
        routes::messages::unsubscribe_report,
        routes::tracking::open,
        routes::tracking::click,
        crate::telemetry::metrics,
        serve,
        routes::domains::create,
        routes::domains::list,
        routes::domains::get,
        routes::domains::delete,
        routes::domains::validate,
    ),
    // The enums query parameters name are not reached through a body: listed here.
    components(schemas(
        Problem,
        FieldErrorSchema,
        routes::webhooks::ExportFormat,
        postbode_store::AttemptFilter,
        postbode_store::Bucket,
        postbode_store::DeliveryStatus
    ))
)]
pub struct ApiDoc;

/// The document, as `GET /openapi.json` serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", operation_id = "getOpenApiDocument", tag = "operations", security(()),
    responses((status = 200, body = Object, description = "the OpenAPI 3.1 document")))]
pub async fn serve() -> axum::Json<utoipa::openapi::OpenApi> {
    static DOCUMENT: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    axum::Json(DOCUMENT.get_or_init(document).clone())
}

/// `{"status": ...}`
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Status {
    #[schema(example = "ok")]
    status: String,
}

/// The published signing keys, with the DNS records to publish.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct SigningKeys {
    data: Vec<crate::signing_keys::KeyView>,
    key_domain: String,
    /// Why the key domain cannot be published, else `null`.
    warning: Option<String>,
}

/// A webhook's signing secret, and the previous one while it still signs.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct SecretView {
    secret: String,
    previous_secret: Option<String>,
    previous_secret_expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The new secret; the previous one signs beside it until `previous_secret_expires_at`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct RotatedSecret {
    secret: String,
    previous_secret_expires_at: chrono::DateTime<chrono::Utc>,
}

/// How many deliveries are due again.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Recovered {
    deliveries: u64,
}

/// The key set receivers fetch and cache (docs/payloads.md, "How the keys are published").
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct KeySet {
    keys: Vec<PublishedKey>,
}

/// One published public key. Readers skip keys of algorithms they do not know.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct PublishedKey {
    /// `<selector>._domainkey.<key domain>`, as the signatures' `keyId`/`keyid` name it.
    #[schema(example = "pb202611k3q9._domainkey.webhooks.example.com")]
    key_id: String,
    /// `rsa-sha256` (for `http-signature`) or `ed25519` (for `rfc9421`).
    #[schema(example = "ed25519")]
    algorithm: String,
    /// Base64 of the DER SubjectPublicKeyInfo.
    public_key: String,
    /// `next` (published, not signing yet), `active` or `retired`.
    #[schema(example = "active")]
    state: String,
    /// Unix seconds: when a retired key stops being published.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
}

/// A schema whose fields are those of `T`, none of them required: the body of a `PATCH`
/// that merges into what is stored.
fn all_optional<T: utoipa::PartialSchema>(
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::Schema;
    let mut schema = T::schema();
    if let utoipa::openapi::RefOr::T(Schema::Object(object)) = &mut schema {
        object.required.clear();
        object.description = Some(description.to_owned());
        object.example = None;
    }
    schema
}

/// Any of an event type's description, schema, example and archived flag; those not
/// given keep their values, `null` clears one.
pub struct EventTypePatch;

impl utoipa::PartialSchema for EventTypePatch {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .description(Some(
                "Any of these; those not given keep their values, null clears one.",
            ))
            .property("description", ObjectBuilder::new().schema_type(Type::String))
            .property(
                "schema",
                ObjectBuilder::new().description(Some("JSON Schema (2020-12) for data")),
            )
            .property("example", ObjectBuilder::new())
            .property("archived", ObjectBuilder::new().schema_type(Type::Boolean))
            .into()
    }
}

impl utoipa::ToSchema for EventTypePatch {}

/// Any of a webhook's settings; those not given keep their values.
pub struct WebhookPatch;

impl utoipa::PartialSchema for WebhookPatch {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        all_optional::<postbode_core::webhook::WebhookSettings>(
            "Any of a webhook's settings (as in WebhookSettings); those not given keep their values, and the result is checked as a whole.",
        )
    }
}

impl ToSchema for WebhookPatch {}

/// Any of a database's or collection's definition; those not given keep their values.
pub struct DefinitionPatch;

impl utoipa::PartialSchema for DefinitionPatch {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        all_optional::<routes::databases::Definition>(
            "Any of name, fields and unsubscribe (as in Definition); those not given keep their values.",
        )
    }
}

impl ToSchema for DefinitionPatch {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every (method, path) the router serves, read from its debug form (axum has no
    /// other way to list its routes): the paths by route id, and each route's methods.
    fn served() -> BTreeSet<(String, String)> {
        let debug = format!("{:?}", routes::routes());
        // The fallback router numbers its own routes: only the path router's count.
        let text = &debug[..debug.find("fallback_router").unwrap()];
        let mut paths = std::collections::HashMap::new();
        let mut methods = std::collections::HashMap::new();
        for part in text.split("RouteId(").skip(1) {
            let Some((id, rest)) = part.split_once("): ") else {
                continue;
            };
            if let Some(path) = rest.strip_prefix('"') {
                paths.insert(id.to_owned(), path[..path.find('"').unwrap()].to_owned());
            } else if let Some(router) = rest.strip_prefix("MethodRouter(MethodRouter { ") {
                let fields = &router[..router.find("fallback:").unwrap()];
                let set: Vec<String> = fields
                    .split(", ")
                    .filter_map(|f| f.split_once(": "))
                    .filter(|(name, value)| !value.starts_with("None") && *name != "head")
                    .map(|(name, _)| name.to_owned())
                    .collect();
                methods.insert(id.to_owned(), set);
            }
        }
        paths
            .iter()
            .flat_map(|(id, path)| methods[id].iter().map(move |m| (m.clone(), path.clone())))
            .collect()
    }

    #[test]
    fn the_document_lists_exactly_the_routes_the_router_serves() {
        let documented: BTreeSet<(String, String)> = document()
            .paths
            .paths
            .iter()
            .flat_map(|(path, item)| {
                let methods = [
                    ("get", item.get.is_some()),
                    ("post", item.post.is_some()),
                    ("put", item.put.is_some()),
                    ("patch", item.patch.is_some()),
                    ("delete", item.delete.is_some()),
                ];
                methods
                    .into_iter()
                    .filter(|(_, present)| *present)
                    .map(|(method, _)| (method.to_owned(), path.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        // The dashboard's pages are HTML for people, not API operations.
        let served: BTreeSet<(String, String)> = served()
            .into_iter()
            .filter(|(_, path)| !path.starts_with("/ui"))
            .collect();
        assert!(served.len() > 60, "the router's routes were read: {served:?}");
        assert_eq!(
            served.difference(&documented).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "served but not documented"
        );
        assert_eq!(
            documented.difference(&served).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "documented but not served"
        );
    }

    /// Every operation of the document, as `(method, path, operation)`.
    fn operations(json: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
        let mut out = Vec::new();
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                out.push((method.clone(), path.clone(), operation.clone()));
            }
        }
        out
    }

    #[test]
    fn every_operation_has_its_own_readable_operation_id() {
        // Client generators name their methods after these; OpenAPI requires them unique.
        let json = serde_json::to_value(document()).unwrap();
        let mut seen = BTreeSet::new();
        for (method, path, operation) in operations(&json) {
            let id = operation["operationId"].as_str().unwrap_or_default().to_owned();
            let camel = id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && id.chars().all(|c| c.is_ascii_alphanumeric());
            assert!(
                camel && id.len() > 6,
                "{method} {path}: operationId {id:?} is not a camelCase verb and noun"
            );
            assert!(
                seen.insert(id.clone()),
                "{method} {path}: operationId {id} is used twice"
            );
        }
    }

    #[test]
    fn every_json_body_is_a_named_schema() {
        // Generated clients name their types after the components; an inline schema
        // would leave a type without a name.
        let json = serde_json::to_value(document()).unwrap();
        for (method, path, operation) in operations(&json) {
            let mut bodies = vec![("request".to_owned(), operation["requestBody"].clone())];
            for (status, response) in operation["responses"].as_object().unwrap() {
                bodies.push((format!("{status} answer"), response.clone()));
            }
            for (what, body) in bodies {
                let Some(content) = body["content"].as_object() else {
                    continue;
                };
                for (media, schema) in content {
                    // The document itself is described by the OpenAPI specification;
                    // newline-delimited JSON is a stream of text, not one value.
                    let json_value = media == "application/json" || media.ends_with("+json");
                    if !json_value || path == "/openapi.json" {
                        continue;
                    }
                    assert!(
                        schema["schema"]["$ref"].is_string(),
                        "{method} {path}: the {what} ({media}) is not a named schema: {}",
                        schema["schema"]
                    );
                }
            }
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_with_both_security_schemes() {
        let json = serde_json::to_value(document()).unwrap();
        assert!(
            json["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            json["openapi"]
        );
        let schemes = &json["components"]["securitySchemes"];
        assert_eq!(schemes["account_key"]["scheme"], "bearer");
        assert_eq!(schemes["operator_token"]["scheme"], "bearer");
        assert!(json["components"]["schemas"]["Problem"].is_object());
        let create = &json["paths"]["/v1/webhooks"]["post"];
        assert_eq!(
            create["security"][0]["account_key"],
            serde_json::json!(["webhooks:write"])
        );
        assert!(create["responses"]["422"]["content"]["application/problem+json"].is_object());
    }
}
