//! Validated domains: an account proves it controls a domain by publishing a TXT record
//! Postbode names, and webhooks on that domain or any of its subdomains then need no
//! ownership file. [`settle`] is the one rule of what validated domains do to a
//! webhook's verification; everything that changes a webhook's URL or an account's
//! domains applies it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::FieldError;
use crate::probe::BoxFuture;
use crate::webhook::{VerificationStatus, Webhook};

/// The label the challenge record is published under, in front of the domain.
pub const CHALLENGE_LABEL: &str = "_postbode-challenge";
/// What the challenge record's text starts with, before the domain's token.
pub const CHALLENGE_PREFIX: &str = "postbode-verify=";
const MAX_DOMAIN_LEN: usize = 253;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DomainStatus {
    Pending,
    Validated,
}

impl DomainStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DomainStatus::Pending => "pending",
            DomainStatus::Validated => "validated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DomainStatus::Pending),
            "validated" => Some(DomainStatus::Validated),
            _ => None,
        }
    }
}

/// A domain an account claims, with the token of its challenge record.
#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    pub id: String,
    pub account_id: String,
    /// In its normal form: lower case, ASCII (punycode), no trailing dot.
    pub domain: String,
    pub token: String,
    pub status: DomainStatus,
    pub checked_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Domain {
    /// Where the challenge record is published.
    pub fn record_name(&self) -> String {
        format!("{CHALLENGE_LABEL}.{}", self.domain)
    }

    /// The text the challenge record must hold.
    pub fn record_value(&self) -> String {
        format!("{CHALLENGE_PREFIX}{}", self.token)
    }

    /// What a look-up of the challenge record found: validated when one of the TXT
    /// records is the expected text. A domain once validated stays so when a later
    /// check fails (the record may be removed after success), like an ownership file.
    pub fn judge(&mut self, found: Result<Vec<String>, LookupError>, now: DateTime<Utc>) {
        let expected = self.record_value();
        let (validated, outcome) = match found {
            Ok(records) if records.iter().any(|r| r.trim() == expected) => {
                (true, format!("found {expected:?} at {}", self.record_name()))
            }
            Ok(records) if records.is_empty() => (false, format!("no TXT record at {}", self.record_name())),
            Ok(records) => (
                false,
                format!(
                    "the TXT records at {} are not {expected:?} (found {})",
                    self.record_name(),
                    records.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join(", ")
                ),
            ),
            Err(e) => (false, e.to_string()),
        };
        self.checked_at = Some(now);
        self.outcome = Some(match (validated, self.status) {
            (false, DomainStatus::Validated) => format!("re-check failed, the domain stays validated: {outcome}"),
            _ => outcome,
        });
        if validated {
            self.status = DomainStatus::Validated;
        }
    }
}

/// A domain as typed brought into its normal form (lower case, punycode, no trailing
/// dot), if it is a DNS name of at least two labels and not an IP address.
pub fn normalise(field: &str, raw: &str) -> Result<String, FieldError> {
    let fail = |message: &str| FieldError::new(field, message);
    let trimmed = raw.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return Err(fail("give a domain name, e.g. example.com"));
    }
    let name = match url::Host::parse(trimmed) {
        Ok(url::Host::Domain(name)) => name,
        Ok(_) => return Err(fail("an IP address is not a domain; give its DNS name")),
        Err(_) => return Err(fail("not a valid domain name")),
    };
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) || name.len() > MAX_DOMAIN_LEN {
        return Err(fail(
            "a domain name of at least two labels (letters, digits and '-'), e.g. example.com",
        ));
    }
    Ok(name)
}

/// Whether a validated `domain` covers `host`: the domain itself and all its subdomains.
pub fn covers(domain: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host.eq_ignore_ascii_case(domain)
        || host.len() > domain.len()
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
            && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
}

/// Brings a webhook's verification in line with the account's validated domains (the
/// one rule): a URL whose host one of them covers is verified by it; a webhook that was
/// verified by a domain no longer validated (or no longer covering its URL) is pending
/// again. A webhook verified by its ownership file stays so. Returns why it changed.
pub fn settle(webhook: &mut Webhook, validated: &[String], now: DateTime<Utc>) -> Option<String> {
    let host = url::Url::parse(&webhook.settings.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    // The longest, most specific domain that covers the host.
    let covering = validated.iter().filter(|d| covers(d, &host)).max_by_key(|d| d.len());
    let v = &mut webhook.verification;
    let by_file = v.status == VerificationStatus::Verified && v.domain.is_none();
    if by_file {
        return None;
    }
    match (covering, &v.domain) {
        (Some(domain), current) if current.as_deref() == Some(domain.as_str()) => None,
        (Some(domain), _) => {
            let why = format!("{host} is covered by the validated domain {domain}");
            v.status = VerificationStatus::Verified;
            v.domain = Some(domain.clone());
            v.checked_at = Some(now);
            v.outcome = Some(why.clone());
            Some(why)
        }
        (None, Some(domain)) => {
            let why = format!("the domain {domain} no longer covers {host}: it was removed or the URL moved");
            v.status = VerificationStatus::Pending;
            v.domain = None;
            v.checked_at = Some(now);
            v.outcome = Some(why.clone());
            Some(why)
        }
        (None, None) => None,
    }
}

/// Why a DNS look-up gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No nameserver answered (or each refused): the look-up says nothing about the record.
    #[error("no DNS server answered ({0})")]
    NoAnswer(String),
    #[error("the DNS look-up failed: {0}")]
    Failed(String),
}

/// Reads TXT records. The delivery crate implements it with a DNS resolver; the server
/// only knows this interface.
pub trait TxtLookup: Send + Sync + 'static {
    /// Every TXT record at `name`, each as its strings joined; empty when there is none.
    fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, LookupError>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::{Verification, WebhookSettings};

    #[test]
    fn domains_are_normalised_and_checked() {
        assert_eq!(normalise("domain", "Example.COM.").unwrap(), "example.com");
        assert_eq!(normalise("domain", "bücher.example").unwrap(), "xn--bcher-kva.example");
        for bad in ["", "com", "127.0.0.1", "[::1]", "a..b", "-a.com", "a b.com", "a_b.com"] {
            assert!(normalise("domain", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_domain_covers_itself_and_its_subdomains_only() {
        assert!(covers("example.com", "example.com"));
        assert!(covers("example.com", "hooks.EXAMPLE.com"));
        assert!(covers("example.com", "a.b.example.com."));
        assert!(!covers("example.com", "badexample.com"));
        assert!(!covers("example.com", "example.com.evil.net"));
        assert!(!covers("hooks.example.com", "example.com"));
    }

    fn webhook(url: &str, status: VerificationStatus, domain: Option<&str>) -> Webhook {
        let now = Utc::now();
        Webhook {
            id: "wh_1".into(),
            account_id: "acc_1".into(),
            settings: serde_json::from_value::<WebhookSettings>(serde_json::json!({ "url": url })).unwrap(),
            disabled_reason: None,
            secret: String::new(),
            previous_secret: None,
            verification: Verification {
                status,
                domain: domain.map(str::to_owned),
                file_name: "f".into(),
                file_content: "c".into(),
                checked_at: None,
                outcome: None,
            },
            failing_since: None,
            paused_until: None,
            pause_reason: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn validated_domains_verify_and_their_removal_unverifies_but_not_a_file() {
        let now = Utc::now();
        let validated = vec!["example.com".to_owned()];
        let mut pending = webhook("https://hooks.example.com/x", VerificationStatus::Pending, None);
        assert!(settle(&mut pending, &validated, now).is_some());
        assert_eq!(pending.verification.status, VerificationStatus::Verified);
        assert_eq!(pending.verification.domain.as_deref(), Some("example.com"));
        assert!(settle(&mut pending, &validated, now).is_none(), "settled once");

        assert!(settle(&mut pending, &[], now).is_some());
        assert_eq!(pending.verification.status, VerificationStatus::Pending);
        assert_eq!(pending.verification.domain, None);

        let mut by_file = webhook("https://hooks.example.com/x", VerificationStatus::Verified, None);
        assert!(settle(&mut by_file, &validated, now).is_none());
        assert!(settle(&mut by_file, &[], now).is_none());
        assert_eq!(by_file.verification.status, VerificationStatus::Verified);

        let mut elsewhere = webhook("https://other.net/x", VerificationStatus::Failed, None);
        assert!(settle(&mut elsewhere, &validated, now).is_none());
        assert_eq!(elsewhere.verification.status, VerificationStatus::Failed);
    }

    #[test]
    fn a_check_validates_on_the_exact_record_and_a_failed_recheck_keeps_it() {
        let now = Utc::now();
        let mut domain = Domain {
            id: "dom_1".into(),
            account_id: "acc_1".into(),
            domain: "example.com".into(),
            token: "abc".into(),
            status: DomainStatus::Pending,
            checked_at: None,
            outcome: None,
            created_at: now,
        };
        domain.judge(Ok(vec!["postbode-verify=other".into()]), now);
        assert_eq!(domain.status, DomainStatus::Pending);
        domain.judge(Ok(vec!["v=spf1".into(), "postbode-verify=abc".into()]), now);
        assert_eq!(domain.status, DomainStatus::Validated);
        domain.judge(Err(LookupError::NoAnswer("timeout".into())), now);
        assert_eq!(domain.status, DomainStatus::Validated);
        assert!(domain.outcome.unwrap().starts_with("re-check failed"));
    }
}
