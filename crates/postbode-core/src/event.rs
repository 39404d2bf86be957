//! Events: what a producer hands in, and the canonical JSON body a receiver gets.

use chrono::{DateTime, Utc};
use serde::Serialize;

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

/// The body of a custom event, as PAYLOADS.md defines it.
#[derive(Debug, Serialize)]
pub struct CustomEventBody<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub event_type: &'a str,
    pub timestamp: String,
    pub time: i64,
    pub data: &'a serde_json::Value,
}

impl<'a> CustomEventBody<'a> {
    pub fn new(id: &'a str, event_type: &'a str, at: DateTime<Utc>, data: &'a serde_json::Value) -> Self {
        Self {
            id,
            event_type,
            timestamp: suite_timestamp(at),
            time: at.timestamp(),
            data,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising borrowed strings, numbers and a JSON value cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn custom_body_has_the_suite_fields_in_order() {
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 9, 5, 7).single().unwrap();
        let data = serde_json::json!({"order": 42});
        let body = CustomEventBody::new("evt_1", "order.paid", at, &data).to_bytes();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"id":"evt_1","type":"order.paid","timestamp":"2026-11-23 09:05:07","time":1795424707,"data":{"order":42}}"#
        );
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
