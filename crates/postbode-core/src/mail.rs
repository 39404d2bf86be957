//! Mail events: what happened to a sent message (opened, clicked, delivered, bounced,
//! failed, complained about, unsubscribed), and the enriched body a receiver gets.
//!
//! A tracking request only shows an IP address and HTTP headers; the body adds the
//! recipient, the profile's data and the mailing's tags, so the receiver can link the
//! event to its own records at once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{FieldError, ValidationError};
use crate::event::suite_timestamp;
use crate::profile::{MAX_NAME_LEN, Values, is_email};

const MAX_TAGS: usize = 50;
const MAX_TEXT: usize = 1024;
/// Bounce and complaint messages are whole e-mails; the request body limit bounds them.
const MAX_MIME: usize = 512 * 1024;

/// The mailing a message belongs to; its tags go into every event of the message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Mailing {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Mailing {
    pub fn validate(&mut self, errors: &mut Vec<FieldError>) {
        if self.id.is_empty() || self.id.len() > 128 {
            errors.push(FieldError::new("mailing.id", "1 to 128 bytes"));
        }
        if self.name.as_ref().is_some_and(|n| n.len() > MAX_TEXT) {
            errors.push(FieldError::new("mailing.name", format!("at most {MAX_TEXT} bytes")));
        }
        if self.tags.len() > MAX_TAGS {
            errors.push(FieldError::new("mailing.tags", format!("at most {MAX_TAGS} tags")));
        }
        for (index, tag) in self.tags.iter().enumerate() {
            if tag.is_empty() || tag.len() > MAX_NAME_LEN {
                errors.push(FieldError::new(
                    format!("mailing.tags[{index}]"),
                    format!("1 to {MAX_NAME_LEN} bytes"),
                ));
            }
        }
        let mut seen = Vec::with_capacity(self.tags.len());
        self.tags.retain(|tag| {
            let new = !seen.contains(tag);
            seen.push(tag.clone());
            new
        });
    }
}

pub fn check_recipient(email: &str) -> Result<(), ValidationError> {
    if is_email(email) {
        Ok(())
    } else {
        Err(ValidationError::single("email", "an e-mail address"))
    }
}

/// What the tracking endpoints learn from the request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Visit {
    pub ip: String,
    pub useragent: Option<String>,
    pub referer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeliveryReport {
    pub code: u16,
    #[serde(default)]
    pub extended: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BounceReport {
    #[serde(default)]
    pub envelope: Option<String>,
    #[serde(default)]
    pub mime: Option<String>,
}

/// The SMTP phase a failure happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SmtpState {
    Connect,
    Mail,
    Rcpt,
    Data,
    /// Learnt from a later delivery status notification.
    Bounce,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FailureReport {
    #[serde(default = "failed")]
    pub action: String,
    pub state: SmtpState,
    pub code: u16,
    #[serde(default)]
    pub extended: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

fn failed() -> String {
    "failed".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AbuseReport {
    #[serde(default)]
    pub emailfrom: Option<String>,
    #[serde(default)]
    pub mime: Option<String>,
}

/// An unsubscribe report carries nothing of its own: the message says who and what.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UnsubscribeReport {}

/// One mail event with the fields PAYLOADS.md gives its type.
#[derive(Debug, Clone, PartialEq)]
pub enum MailEvent {
    Open(Visit),
    Click { visit: Visit, original: String },
    Delivery(DeliveryReport),
    Bounce(BounceReport),
    Failure(FailureReport),
    Abuse(AbuseReport),
    Unsubscribe,
}

impl MailEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            MailEvent::Open(_) => "open",
            MailEvent::Click { .. } => "click",
            MailEvent::Delivery(_) => "delivery",
            MailEvent::Bounce(_) => "bounce",
            MailEvent::Failure(_) => "failure",
            MailEvent::Abuse(_) => "abuse",
            MailEvent::Unsubscribe => "unsubscribe",
        }
    }

    /// Checks a report's text fields; tracking visits are bounded by the request itself.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut errors = Vec::new();
        let mut short = |name: &str, value: &Option<String>| {
            if value.as_ref().is_some_and(|v| v.len() > MAX_TEXT) {
                errors.push(FieldError::new(name, format!("at most {MAX_TEXT} bytes")));
            }
        };
        match self {
            MailEvent::Delivery(r) => {
                short("extended", &r.extended);
                short("description", &r.description);
            }
            MailEvent::Failure(r) => {
                short("extended", &r.extended);
                short("description", &r.description);
            }
            MailEvent::Bounce(r) => short("envelope", &r.envelope),
            MailEvent::Abuse(r) => short("emailfrom", &r.emailfrom),
            _ => {}
        }
        let code = match self {
            MailEvent::Delivery(r) => Some(r.code),
            MailEvent::Failure(r) => Some(r.code),
            _ => None,
        };
        if code.is_some_and(|c| !(200..=599).contains(&c)) {
            errors.push(FieldError::new("code", "an SMTP reply code, 200 to 599"));
        }
        let mime = match self {
            MailEvent::Bounce(r) => r.mime.as_ref(),
            MailEvent::Abuse(r) => r.mime.as_ref(),
            _ => None,
        };
        if mime.is_some_and(|m| m.len() > MAX_MIME) {
            errors.push(FieldError::new("mime", format!("at most {MAX_MIME} bytes")));
        }
        ValidationError::check(errors)
    }

    fn write_fields(&self, body: &mut Map<String, Value>) {
        let mut put = |name: &str, value: Value| {
            body.insert(name.to_owned(), value);
        };
        let text = |value: &Option<String>| value.clone().map_or(Value::Null, Value::String);
        match self {
            MailEvent::Open(visit) => {
                put("ip", visit.ip.clone().into());
                put("useragent", text(&visit.useragent));
                put("referer", text(&visit.referer));
            }
            MailEvent::Click { visit, original } => {
                put("ip", visit.ip.clone().into());
                put("original", original.clone().into());
                put("useragent", text(&visit.useragent));
                put("referer", text(&visit.referer));
            }
            MailEvent::Delivery(r) => {
                put("code", r.code.into());
                put("extended", text(&r.extended));
                put("description", text(&r.description));
            }
            MailEvent::Bounce(r) => {
                put("envelope", text(&r.envelope));
                put("mime", text(&r.mime));
            }
            MailEvent::Failure(r) => {
                put("action", r.action.clone().into());
                put("state", serde_json::to_value(r.state).unwrap_or(Value::Null));
                put("code", r.code.into());
                put("extended", text(&r.extended));
                put("description", text(&r.description));
            }
            MailEvent::Abuse(r) => {
                put("emailfrom", text(&r.emailfrom));
                put("mime", text(&r.mime));
            }
            // Its fields (database, profile, mailing) are the enrichment's.
            MailEvent::Unsubscribe => {}
        }
    }
}

/// What Postbode knows of the message an event concerns, as it is when the event
/// happens.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrichment<'a> {
    pub recipient: &'a str,
    pub profile: Option<&'a str>,
    pub subprofile: Option<&'a str>,
    pub database: Option<&'a str>,
    pub collection: Option<&'a str>,
    pub mailing: &'a str,
    /// The profile's fields (a subprofile's fields added over them), every defined
    /// field present; `None` when the message names no profile or it is gone.
    pub fields: Option<&'a Values>,
    pub tags: &'a [String],
}

/// The canonical JSON body of a mail event: `id` is the message id.
pub fn mail_event_body(message_id: &str, event: &MailEvent, at: DateTime<Utc>, about: &Enrichment<'_>) -> Vec<u8> {
    let mut body = Map::new();
    body.insert("id".into(), message_id.into());
    body.insert("type".into(), event.event_type().into());
    body.insert("timestamp".into(), suite_timestamp(at).into());
    body.insert("time".into(), at.timestamp().into());
    event.write_fields(&mut body);
    let id = |value: Option<&str>| value.map_or(Value::Null, Value::from);
    body.insert("recipient".into(), about.recipient.into());
    body.insert("profile".into(), id(about.profile));
    body.insert("subprofile".into(), id(about.subprofile));
    body.insert("database".into(), id(about.database));
    body.insert("collection".into(), id(about.collection));
    body.insert("mailing".into(), about.mailing.into());
    body.insert(
        "fields".into(),
        about.fields.map_or(Value::Null, |f| Value::Object(f.clone())),
    );
    body.insert("tags".into(), about.tags.into());
    // A map of strings, numbers and JSON values always serialises.
    serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn open_body_is_enriched_in_order() {
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 9, 5, 7).single().unwrap();
        let fields = json!({"name": "Piet", "age": null}).as_object().unwrap().clone();
        let tags = vec!["spring".to_owned()];
        let body = mail_event_body(
            "msg_1",
            &MailEvent::Open(Visit {
                ip: "192.0.2.7".into(),
                useragent: Some("Mail/1".into()),
                referer: None,
            }),
            at,
            &Enrichment {
                recipient: "piet@example.com",
                profile: Some("prf_1"),
                subprofile: None,
                database: Some("db_1"),
                collection: None,
                mailing: "m-42",
                fields: Some(&fields),
                tags: &tags,
            },
        );
        assert_eq!(
            String::from_utf8(body).unwrap(),
            concat!(
                r#"{"id":"msg_1","type":"open","timestamp":"2026-11-23 09:05:07","time":1795424707,"#,
                r#""ip":"192.0.2.7","useragent":"Mail/1","referer":null,"recipient":"piet@example.com","#,
                r#""profile":"prf_1","subprofile":null,"database":"db_1","collection":null,"mailing":"m-42","#,
                r#""fields":{"name":"Piet","age":null},"tags":["spring"]}"#
            )
        );
    }

    #[test]
    fn reports_are_checked() {
        let bad = MailEvent::Delivery(DeliveryReport {
            code: 99,
            extended: None,
            description: Some("x".repeat(2000)),
        });
        let err = bad.validate().unwrap_err();
        let named: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(named, ["description", "code"]);
        let failure: FailureReport = serde_json::from_value(json!({"state": "rcpt", "code": 550})).unwrap();
        assert_eq!(failure.action, "failed");
        assert!(serde_json::from_value::<FailureReport>(json!({"state": "later", "code": 550})).is_err());
    }
}
