//! Events: what a producer hands in, and the canonical JSON body a receiver gets.

use chrono::{DateTime, Utc};

use crate::condition::ConditionContext;
use crate::error::FieldError;
use crate::profile::Values;
use crate::webhook::Source;

/// The suite's own event types; each comes from its own route (tracking, reports,
/// profile changes), so `POST /v1/events` refuses them.
pub const MAIL_TYPES: &[&str] = &["open", "click", "delivery", "bounce", "failure", "abuse", "unsubscribe"];
pub const PROFILE_TYPES: &[&str] = &["create", "update", "delete"];

/// A webhook that lists this receives every type, custom ones included.
pub const ALL: &str = "all";

pub const MAX_TYPE_LEN: usize = 64;

pub fn is_builtin(event_type: &str) -> bool {
    MAIL_TYPES.contains(&event_type) || PROFILE_TYPES.contains(&event_type)
}

/// The route that makes a built-in event, for the error that refuses it elsewhere.
fn route_for_builtin(event_type: &str) -> Option<&'static str> {
    Some(match event_type {
        "open" => "GET /t/o/{token} (the open pixel of a message)",
        "click" => "GET /t/c/{token} (a click URL of a message)",
        "delivery" => "POST /v1/messages/{id}/deliveries",
        "bounce" => "POST /v1/messages/{id}/bounces",
        "failure" => "POST /v1/messages/{id}/failures",
        "abuse" => "POST /v1/messages/{id}/abuses",
        "unsubscribe" => "POST /v1/messages/{id}/unsubscribes",
        "create" | "update" | "delete" => "the profile routes under /v1/databases and /v1/profiles",
        _ => return None,
    })
}

/// Custom types are short identifiers, so they are safe in a header and a log line.
pub fn check_type_name(field: &str, event_type: &str) -> Result<(), FieldError> {
    let ok = !event_type.is_empty()
        && event_type.len() <= MAX_TYPE_LEN
        && event_type
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'));
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("an event type is 1 to {MAX_TYPE_LEN} characters of letters, digits, '.', '_', '-' and ':'"),
        ))
    }
}

/// The rule for the type of an event posted to `POST /v1/events`: a custom type name,
/// neither one the suite makes itself nor `all`, which only a webhook's `events` lists.
pub fn check_custom_type(field: &str, event_type: &str) -> Result<(), FieldError> {
    if let Some(route) = route_for_builtin(event_type) {
        return Err(FieldError::new(
            field,
            format!("{event_type:?} events are made by {route}, not posted here"),
        ));
    }
    if event_type == ALL {
        return Err(FieldError::new(
            field,
            "\"all\" is not an event type: a webhook lists it to receive every type",
        ));
    }
    check_type_name(field, event_type)
}

/// What a webhook's scope, `ignore_sources` and condition look at, besides the type.
/// Made with the event at ingest (the body is opaque bytes by then).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventScope {
    /// The database of the profile the event concerns.
    pub database_id: Option<String>,
    /// The collection of the subprofile the event concerns.
    pub collection_id: Option<String>,
    /// True for a subprofile's `create`/`update`/`delete`.
    pub subprofile_change: bool,
    /// Where a profile change came from.
    pub source: Option<Source>,
    pub profile_id: Option<String>,
    pub subprofile_id: Option<String>,
    /// Every defined field, `null` when empty: what a condition's `fields` sees.
    pub fields: Values,
    /// The old values of an update's changed fields.
    pub previous: Option<Values>,
    /// A custom event's `ordering_key`: the subject whose deliveries an ordered webhook
    /// sends one after the other (otherwise the profile is).
    pub ordering_key: Option<String>,
}

impl EventScope {
    /// What an ordered webhook keeps the deliveries of in order: the event's
    /// `ordering_key`, else its profile; `None` orders nothing.
    pub fn subject(&self) -> Option<&str> {
        self.ordering_key.as_deref().or(self.profile_id.as_deref())
    }

    pub fn condition_context<'a>(&'a self, event_type: &'a str) -> ConditionContext<'a> {
        ConditionContext {
            fields: &self.fields,
            previous: self.previous.as_ref(),
            profile: self.profile_id.as_deref(),
            subprofile: self.subprofile_id.as_deref(),
            source: self.source.map(Source::as_str),
            event_type,
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, the suite's `timestamp` format.
pub fn suite_timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The body of a custom event, as PAYLOADS.md defines it: the suite's envelope (the
/// event's id, type and time) around `data`, given as the JSON text it was posted as
/// (serialised once), which goes in verbatim. The store keeps only `data`: the rest is
/// the event's own id, type and creation time, kept beside it, and [`receiver_body`]
/// puts the same bytes back together.
pub fn custom_body(id: &str, event_type: &str, at: DateTime<Utc>, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(data.len() + id.len() + event_type.len() + 80);
    body.extend_from_slice(b"{\"id\":");
    // Strings to JSON cannot fail; ids and type names need no escaping anyway.
    let _ = serde_json::to_writer(&mut body, id);
    body.extend_from_slice(b",\"type\":");
    let _ = serde_json::to_writer(&mut body, event_type);
    body.extend_from_slice(b",\"timestamp\":\"");
    body.extend_from_slice(suite_timestamp(at).as_bytes());
    body.extend_from_slice(b"\",\"time\":");
    body.extend_from_slice(at.timestamp().to_string().as_bytes());
    body.extend_from_slice(b",\"data\":");
    body.extend_from_slice(data);
    body.push(b'}');
    body
}

/// The body receivers get, from what the store keeps of it: a built-in (mail or
/// profile) event keeps its whole body; a custom one only its `data` (see [`custom_body`]).
pub fn receiver_body<'a>(
    id: &str,
    event_type: &str,
    at: DateTime<Utc>,
    stored: &'a [u8],
) -> std::borrow::Cow<'a, [u8]> {
    if is_builtin(event_type) {
        std::borrow::Cow::Borrowed(stored)
    } else {
        std::borrow::Cow::Owned(custom_body(id, event_type, at, stored))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn custom_body_has_the_suite_fields_in_order() {
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 9, 5, 7).single().unwrap();
        let data = serde_json::to_vec(&serde_json::json!({"order": 42})).unwrap();
        let body = custom_body("evt_1", "order.paid", at, &data);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"id":"evt_1","type":"order.paid","timestamp":"2026-11-23 09:05:07","time":1795424707,"data":{"order":42}}"#
        );
    }

    #[test]
    fn a_custom_body_is_kept_as_its_data_and_comes_back_whole() {
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 9, 5, 7).single().unwrap();
        let data = r#"{"order":42,"note":"\u00e9 \"quoted\" é","list":[1,2.5e3,null]}"#.as_bytes();
        let whole = receiver_body("evt_1", "order.paid", at, data);
        let parsed: serde_json::Value = serde_json::from_slice(&whole).unwrap();
        assert_eq!(
            parsed["data"],
            serde_json::from_slice::<serde_json::Value>(data).unwrap()
        );
        assert!(whole.ends_with(&[data, b"}"].concat()), "data goes in verbatim");
        // A built-in event keeps its whole body.
        let open = br#"{"type":"open"}"#;
        assert_eq!(&*receiver_body("evt_2", "open", at, open), &open[..]);
    }

    #[test]
    fn posted_types_are_custom_ones() {
        assert!(check_custom_type("type", "order.paid").is_ok());
        for refused in ["all", "open", "create", "", "a b"] {
            assert!(check_custom_type("type", refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn type_names_are_checked() {
        assert!(check_type_name("type", "order.paid").is_ok());
        assert!(check_type_name("type", "").is_err());
        assert!(check_type_name("type", "a b").is_err());
        assert!(check_type_name("type", &"x".repeat(65)).is_err());
    }
}
