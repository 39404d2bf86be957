//! A webhook: where calls go, which events it wants, how they are shaped and signed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::address;
use crate::condition::{Condition, ConditionError};
use crate::error::{FieldError, ValidationError};
use crate::event::{self, ALL, EventScope};
use crate::profile::Schema;
use crate::render::Format;

/// The ceiling a webhook's adaptive limit grows to unless the user sets one: enough for
/// a healthy receiver to take a few thousand calls a second at tens of milliseconds per
/// call, while a receiver that struggles is backed off long before (see docs/delivery.md).
pub const DEFAULT_MAX_CONCURRENCY: u32 = 64;
pub const MAX_CONCURRENCY: u32 = 256;
const MAX_URL_LEN: usize = 2048;
/// Event types one webhook may list; more is a list nobody maintains (use `all`).
pub const MAX_EVENT_TYPES: usize = 100;
const MAX_DESCRIPTION_LEN: usize = 1024;
const MAX_HEADERS: usize = 20;
const MAX_HEADER_VALUE_LEN: usize = 1024;

/// Where a profile change came from, for `ignore_sources`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Api,
    Dashboard,
    Import,
    Unsubscribe,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Dashboard => "dashboard",
            Source::Import => "import",
            Source::Unsubscribe => "unsubscribe",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum SignatureScheme {
    HttpSignature,
    StandardWebhooks,
    Rfc9421,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_second: u32,
}

/// Up to `max_events` deliveries in one call, or what arrived within `max_wait_ms` of
/// the first one waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub max_events: u32,
    pub max_wait_ms: u32,
}

/// A batch lists its deliveries' ids in `X-Postbode-Deliveries` (31 bytes each): 250
/// keep that header under the 8 KiB a line common proxies (nginx) accept.
pub const MAX_BATCH_EVENTS: u32 = 250;
pub const MAX_BATCH_WAIT_MS: u32 = 60_000;

/// Deliveries of one subject go out strictly one after the other, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Ordering {
    /// By profile (custom events: by their `ordering_key`, else their `profile_id`).
    Profile,
}

/// Everything a user sets on a webhook. Creating takes it with defaults; `PATCH` merges
/// the request into the current settings and checks the result as a whole, so both
/// paths share one set of rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({"url": "http://127.0.0.1:9000/hooks/postbode.php", "events": ["order.paid", "open"], "format": "json", "signatures": ["standard-webhooks"]})))]
pub struct WebhookSettings {
    pub url: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "all_events")]
    pub events: Vec<String>,
    #[serde(default)]
    pub database_id: Option<String>,
    #[serde(default)]
    pub collection_id: Option<String>,
    #[serde(default)]
    pub format: Format,
    #[serde(default)]
    pub condition: Option<String>,
    #[serde(default)]
    pub ignore_sources: Vec<Source>,
    /// With a database or collection: an `update` fires only when one of these fields
    /// changed (a `create` and a `delete` always fire).
    #[serde(default)]
    pub fields_changed: Vec<String>,
    #[serde(default = "default_signatures")]
    pub signatures: Vec<SignatureScheme>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: u32,
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    #[serde(default)]
    pub batch: Option<Batch>,
    #[serde(default)]
    pub ordering: Option<Ordering>,
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Send the event's W3C `traceparent` on each call, so the receiver's spans join the
    /// trace of the request that sent the event.
    #[serde(default)]
    pub send_traceparent: bool,
}

fn all_events() -> Vec<String> {
    vec![ALL.to_owned()]
}
fn default_signatures() -> Vec<SignatureScheme> {
    vec![SignatureScheme::StandardWebhooks]
}
fn default_max_concurrency() -> u32 {
    DEFAULT_MAX_CONCURRENCY
}
fn enabled() -> bool {
    true
}

/// Headers a webhook's static `headers` may not set: the ones that carry the call's
/// framing, identity or signature.
fn is_reserved_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "host"
            | "date"
            | "digest"
            | "signature"
            | "signature-input"
            | "user-agent"
            | "x-nonce"
            | "authorization-signature"
            | "transfer-encoding"
            | "connection"
    ) || name.starts_with("content-")
        || name.starts_with("x-postbode-")
        || name.starts_with("webhook-")
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl WebhookSettings {
    /// Checks every rule and reports every broken one, each under its field's name, and
    /// brings the settings into their stored form (the URL normalised, lists sorted).
    /// `allow_private_targets` (`delivery.allow_private_targets`): whether a URL may name
    /// a private, loopback or otherwise non-public IP address.
    pub fn validate(&mut self, allow_private_targets: bool) -> Result<(), ValidationError> {
        let mut errors = Vec::new();
        match normalise_url(&self.url, allow_private_targets) {
            Ok(url) => self.url = url,
            Err(e) => errors.push(e),
        }
        if self.description.len() > MAX_DESCRIPTION_LEN {
            errors.push(FieldError::new(
                "description",
                format!("at most {MAX_DESCRIPTION_LEN} bytes"),
            ));
        }
        self.check_events(&mut errors);
        if let Some(source) = &self.condition
            && let Err(e) = Condition::compile(source)
        {
            errors.push(FieldError::new("condition", condition_message(&e)));
        }
        self.ignore_sources.sort_by_key(|s| *s as u8);
        self.ignore_sources.dedup();
        self.check_fields_changed(&mut errors);
        self.check_signatures(&mut errors);
        self.check_headers(&mut errors);
        if !(1..=MAX_CONCURRENCY).contains(&self.max_concurrency) {
            errors.push(FieldError::new(
                "max_concurrency",
                format!("between 1 and {MAX_CONCURRENCY}"),
            ));
        }
        if let Some(limit) = self.rate_limit
            && !(1..=100_000).contains(&limit.per_second)
        {
            errors.push(FieldError::new("rate_limit.per_second", "between 1 and 100000"));
        }
        self.check_batch(&mut errors);
        ValidationError::check(errors)
    }

    fn check_batch(&self, errors: &mut Vec<FieldError>) {
        let Some(batch) = self.batch else { return };
        if self.format != Format::Json {
            errors.push(FieldError::new(
                "batch",
                "a batched call is a JSON object {\"events\": [...]}: only the json format can be batched",
            ));
        }
        if !(1..=MAX_BATCH_EVENTS).contains(&batch.max_events) {
            errors.push(FieldError::new(
                "batch.max_events",
                format!("between 1 and {MAX_BATCH_EVENTS}"),
            ));
        }
        if batch.max_wait_ms > MAX_BATCH_WAIT_MS {
            errors.push(FieldError::new(
                "batch.max_wait_ms",
                format!("at most {MAX_BATCH_WAIT_MS} milliseconds"),
            ));
        }
    }

    fn check_events(&mut self, errors: &mut Vec<FieldError>) {
        if self.events.is_empty() {
            errors.push(FieldError::new("events", "list at least one event type, or \"all\""));
        }
        if self.events.len() > MAX_EVENT_TYPES {
            // Checking each of a huge list would only bury this one error.
            errors.push(FieldError::new(
                "events",
                format!("at most {MAX_EVENT_TYPES} event types; use [\"all\"] for every type"),
            ));
            return;
        }
        for (index, name) in self.events.iter().enumerate() {
            let field = format!("events[{index}]");
            if name == ALL {
                if self.events.len() > 1 {
                    errors.push(FieldError::new(
                        field,
                        "\"all\" includes every type, so it stands alone",
                    ));
                }
            } else if let Err(e) = event::check_type_name(&field, name) {
                errors.push(e);
            } else if self.events[..index].contains(name) {
                errors.push(FieldError::new(field, format!("{name:?} is listed twice")));
            }
        }
        self.events.sort();
    }

    /// `fields_changed` needs a scope whose fields it names (checked against them by
    /// [`WebhookSettings::check_fields_of`]), and names each field once.
    fn check_fields_changed(&self, errors: &mut Vec<FieldError>) {
        if self.fields_changed.is_empty() {
            return;
        }
        if self.database_id.is_none() && self.collection_id.is_none() {
            errors.push(FieldError::new(
                "fields_changed",
                "only a webhook limited to a database_id or collection_id can fire on changes of its fields",
            ));
            return;
        }
        for (index, name) in self.fields_changed.iter().enumerate() {
            if self.fields_changed[..index].contains(name) {
                errors.push(FieldError::new(
                    format!("fields_changed[{index}]"),
                    format!("{name:?} is listed twice"),
                ));
            }
        }
    }

    /// Each of `fields_changed` must be a field of the scope's database or collection
    /// (`schema`, the collection's when the webhook has one).
    pub fn check_fields_of(&self, schema: &Schema) -> Result<(), ValidationError> {
        let scope = if self.collection_id.is_some() {
            "collection"
        } else {
            "database"
        };
        ValidationError::check(
            self.fields_changed
                .iter()
                .enumerate()
                .filter(|(_, name)| schema.get(name).is_none())
                .map(|(index, name)| {
                    FieldError::new(
                        format!("fields_changed[{index}]"),
                        format!("the {scope} has no field {name:?}"),
                    )
                })
                .collect(),
        )
    }

    fn check_signatures(&mut self, errors: &mut Vec<FieldError>) {
        if self.signatures.is_empty() {
            errors.push(FieldError::new("signatures", "choose at least one signature scheme"));
        }
        self.signatures.sort_by_key(|s| *s as u8);
        self.signatures.dedup();
        if self.signatures.contains(&SignatureScheme::HttpSignature)
            && self.signatures.contains(&SignatureScheme::Rfc9421)
        {
            // Both schemes put their signature in a header named `Signature`.
            errors.push(FieldError::new(
                "signatures",
                "http-signature and rfc9421 cannot be combined: both use the Signature header",
            ));
        }
    }

    fn check_headers(&self, errors: &mut Vec<FieldError>) {
        if self.headers.len() > MAX_HEADERS {
            errors.push(FieldError::new("headers", format!("at most {MAX_HEADERS} headers")));
        }
        for (name, value) in &self.headers {
            let field = format!("headers.{name}");
            if !is_header_name(name) {
                errors.push(FieldError::new(field, "not a valid HTTP header name"));
            } else if is_reserved_header(name) {
                errors.push(FieldError::new(
                    field,
                    "this header is set by Postbode and cannot be replaced",
                ));
            } else if value.len() > MAX_HEADER_VALUE_LEN
                || !value.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
            {
                errors.push(FieldError::new(
                    field,
                    format!("a header value is at most {MAX_HEADER_VALUE_LEN} visible ASCII characters"),
                ));
            }
        }
    }

    pub fn wants(&self, event_type: &str) -> bool {
        self.events.iter().any(|e| e == ALL || e == event_type)
    }

    /// Whether an event falls inside the webhook's scope and sources (PAYLOADS.md): one
    /// limited to a collection gets that collection's subprofile changes and the mail
    /// events of messages sent to its subprofiles; one limited to a database gets that
    /// database's profile changes and the mail events of messages sent to its profiles;
    /// a custom event is in a database's scope when it names one of its profiles. With
    /// `fields_changed`, an update (the one kind of event with `previous`, whose keys are
    /// the fields it changed) is in scope only when it changed one of them.
    pub fn in_scope(&self, scope: &EventScope) -> bool {
        if scope.source.is_some_and(|source| self.ignore_sources.contains(&source)) {
            return false;
        }
        if let Some(previous) = &scope.previous
            && !self.fields_changed.is_empty()
            && !self.fields_changed.iter().any(|name| previous.contains_key(name))
        {
            return false;
        }
        if let Some(collection) = &self.collection_id {
            return scope.collection_id.as_deref() == Some(collection.as_str());
        }
        if let Some(database) = &self.database_id {
            return !scope.subprofile_change && scope.database_id.as_deref() == Some(database.as_str());
        }
        true
    }
}

fn condition_message(error: &ConditionError) -> String {
    match error {
        ConditionError::Syntax { message, position } => format!("at character {position}: {message}"),
        other => other.to_string(),
    }
}

/// The URL in its normal form (what is stored and called), if it is a clean absolute
/// http(s) URL with a host. The URL parser forgives what a browser's address bar does
/// (`http:///x`, `http://@host/`, tabs and line breaks dropped silently); a webhook URL
/// is meant exactly as written, so each of those is refused instead.
fn normalise_url(raw: &str, allow_private_targets: bool) -> Result<String, FieldError> {
    let fail = |message: String| FieldError::new("url", message);
    if raw.len() > MAX_URL_LEN {
        return Err(fail(format!("at most {MAX_URL_LEN} characters")));
    }
    if let Some((at, c)) = raw.char_indices().find(|(_, c)| c.is_control() || c.is_whitespace()) {
        return Err(fail(format!(
            "a control character or white space ({c:?}) at byte {at}: percent-encode it"
        )));
    }
    let url = url::Url::parse(raw).map_err(|e| fail(format!("not an absolute URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(fail("the scheme must be http or https".into()));
    }
    let after_scheme = &raw[url.scheme().len()..];
    let Some(rest) = after_scheme.strip_prefix("://") else {
        return Err(fail(format!("write it as {}://host/path", url.scheme())));
    };
    let authority = &rest[..rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len())];
    if authority.contains('@') {
        return Err(fail("credentials in the URL are not allowed; use headers".into()));
    }
    if raw.contains('#') {
        return Err(fail("a fragment is never sent; leave it out".into()));
    }
    if authority.is_empty() || url.host_str().is_none_or(str::is_empty) {
        return Err(fail("the URL needs a host".into()));
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
        _ => None,
    };
    if let Some(ip) = ip
        && !allow_private_targets
        && address::is_non_public(ip)
    {
        return Err(fail(format!(
            "{ip} is not a public address; calls to private, loopback and similar addresses are not allowed here"
        )));
    }
    let normal = url.as_str();
    if normal.len() > MAX_URL_LEN {
        return Err(fail(format!("at most {MAX_URL_LEN} characters once normalised")));
    }
    Ok(normal.to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum VerificationStatus {
    Pending,
    Verified,
    Failed,
}

/// The proof that the owner of the URL asked for these calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    pub status: VerificationStatus,
    /// The validated domain that verifies the URL (see [`crate::domain::settle`]);
    /// `None` when the ownership file did, or nothing has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    pub file_name: String,
    pub file_content: String,
    pub checked_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
}

impl Verification {
    /// Where the file may be placed: the callback script's directory first, then the
    /// web root.
    pub fn file_urls(&self, callback: &str) -> Vec<String> {
        let Ok(url) = url::Url::parse(callback) else {
            return Vec::new();
        };
        let mut urls = Vec::with_capacity(2);
        for base in [url.join("./"), url.join("/")].into_iter().flatten() {
            if let Ok(mut file) = base.join(&self.file_name) {
                file.set_query(None);
                let file = file.to_string();
                if !urls.contains(&file) {
                    urls.push(file);
                }
            }
        }
        urls
    }
}

/// A stored webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: String,
    pub account_id: String,
    pub settings: WebhookSettings,
    pub disabled_reason: Option<String>,
    /// The current `whsec_` secret, sealed with the master key (see
    /// `postbode_signature::sealed`); only the delivery engine and the secret's own
    /// routes open it.
    pub secret: String,
    /// After a rotation, the previous secret (sealed) keeps signing beside the new one
    /// until the given time, so receivers can switch without missing a call.
    pub previous_secret: Option<(String, DateTime<Utc>)>,
    pub verification: Verification,
    /// When the run of failed calls that is still going on began; `None` after a success.
    pub failing_since: Option<DateTime<Utc>>,
    /// The engine holds its calls back until then (a run of failures, or the receiver's
    /// `Retry-After`), for the reason given; every node respects it.
    pub paused_until: Option<DateTime<Utc>>,
    pub pause_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> WebhookSettings {
        serde_json::from_value(serde_json::json!({ "url": url })).unwrap()
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let mut s = settings("https://example.com/hook.php");
        s.validate(false).unwrap();
        assert_eq!(s.events, vec!["all"]);
        assert_eq!(s.signatures, vec![SignatureScheme::StandardWebhooks]);
        assert_eq!(s.max_concurrency, 64);
        assert!(s.enabled);
        assert!(s.wants("order.paid"));
    }

    #[test]
    fn bad_values_are_each_named() {
        let mut s = settings("ftp://example.com/x");
        s.events = vec!["open".into(), "bad type".into()];
        s.max_concurrency = 0;
        s.headers.insert("Content-Type".into(), "text/plain".into());
        s.signatures = vec![SignatureScheme::Rfc9421, SignatureScheme::HttpSignature];
        s.condition = Some("fields.name == ".into());
        let errors = s.validate(false).unwrap_err().errors;
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "url",
                "events[1]",
                "condition",
                "signatures",
                "headers.Content-Type",
                "max_concurrency"
            ]
        );
        assert!(
            errors[2].message.starts_with("at character 16:"),
            "{}",
            errors[2].message
        );
    }

    #[test]
    fn urls_must_be_clean_absolute_http() {
        for bad in [
            "/relative",
            "mailto:a@b.c",
            "http://user:pw@example.com/",
            "http://@example.com/",
            "http://:@example.com/",
            "http://example.com/#x",
            "http://example.com/#",
            "http:///x",
            "http:/x",
            "http:x",
            "http:\\\\example.com\\x",
            "http://",
            "http://127.0.0.1:9100/ok/a\r\nX: y",
            "http://example.com/\u{0}",
            "http://example.com/a b",
            "http://example.com/\tx",
            " http://example.com/",
            "http://example.com/\u{a0}",
        ] {
            assert!(normalise_url(bad, true).is_err(), "{bad:?}");
        }
        assert_eq!(
            normalise_url("http://example.com:8080/a/b.php?x=1", false).unwrap(),
            "http://example.com:8080/a/b.php?x=1"
        );
        // Stored as the parser normalises it: what is shown is what is called.
        assert_eq!(
            normalise_url("HTTPS://Example.COM:443/a/./b/../c?q=é", false).unwrap(),
            "https://example.com/a/c?q=%C3%A9"
        );
        assert_eq!(
            normalise_url("http://example.com", false).unwrap(),
            "http://example.com/"
        );
    }

    #[test]
    fn a_literal_non_public_address_needs_private_targets_allowed() {
        for private in [
            "http://127.0.0.1:9100/hook",
            "http://10.1.2.3/",
            "http://[::1]/",
            "http://[::ffff:169.254.169.254]/latest",
            "http://0x7f.1/",
            "http://2130706433/",
        ] {
            let error = normalise_url(private, false).unwrap_err();
            assert!(
                error.message.contains("not a public address"),
                "{private}: {}",
                error.message
            );
            assert!(normalise_url(private, true).is_ok(), "{private}");
        }
        assert!(normalise_url("http://93.184.216.34/", false).is_ok());
        // A name is resolved at call time, where the SSRF guard checks each address.
        assert!(normalise_url("http://localhost/", false).is_ok());
    }

    #[test]
    fn events_are_capped_unique_and_all_stands_alone() {
        let fields = |events: Vec<String>| {
            let mut s = settings("https://example.com/");
            s.events = events;
            s.validate(false)
                .map(|()| s.events)
                .map_err(|e| e.errors.into_iter().map(|e| e.field).collect::<Vec<_>>())
        };
        assert_eq!(fields(vec!["b".into(), "a".into()]), Ok(vec!["a".into(), "b".into()]));
        assert_eq!(
            fields(vec!["a".into(), "b".into(), "a".into()]),
            Err(vec!["events[2]".into()])
        );
        assert_eq!(fields(vec!["open".into(), "all".into()]), Err(vec!["events[1]".into()]));
        assert_eq!(fields(vec!["all".into()]), Ok(vec!["all".into()]));
        let many: Vec<String> = (0..=MAX_EVENT_TYPES).map(|n| format!("t{n}")).collect();
        assert_eq!(fields(many), Err(vec!["events".into()]));
        let most: Vec<String> = (0..MAX_EVENT_TYPES).map(|n| format!("t{n}")).collect();
        assert!(fields(most).is_ok());
    }

    #[test]
    fn fields_changed_needs_a_scope_and_filters_updates_only() {
        let mut s = settings("https://example.com/");
        s.fields_changed = vec!["email".into(), "email".into()];
        let fields: Vec<String> = s
            .validate(false)
            .unwrap_err()
            .errors
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["fields_changed"]);
        s.database_id = Some("db_1".into());
        let fields: Vec<String> = s
            .validate(false)
            .unwrap_err()
            .errors
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["fields_changed[1]"]);
        s.fields_changed = vec!["email".into()];
        s.validate(false).unwrap();

        let update = |changed: &str| EventScope {
            database_id: Some("db_1".into()),
            previous: Some([(changed.to_owned(), serde_json::Value::Null)].into_iter().collect()),
            ..EventScope::default()
        };
        assert!(s.in_scope(&update("email")));
        assert!(!s.in_scope(&update("name")));
        let create = EventScope {
            database_id: Some("db_1".into()),
            ..EventScope::default()
        };
        assert!(
            s.in_scope(&create),
            "a create or delete has no previous and always fires"
        );
    }

    #[test]
    fn verification_file_urls_are_script_directory_then_root() {
        let v = Verification {
            status: VerificationStatus::Pending,
            domain: None,
            file_name: "postbode-abc.txt".into(),
            file_content: "x".into(),
            checked_at: None,
            outcome: None,
        };
        assert_eq!(
            v.file_urls("https://example.com/dir/script.php?a=1"),
            [
                "https://example.com/dir/postbode-abc.txt",
                "https://example.com/postbode-abc.txt"
            ]
        );
        assert_eq!(
            v.file_urls("https://example.com/hook"),
            ["https://example.com/postbode-abc.txt"]
        );
    }
}
