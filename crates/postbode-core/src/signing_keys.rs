//! When Postbode's signing keys are published, sign, and are withdrawn.
//!
//! A key is published from its creation, signs from `activates_at` until
//! `retires_at`, and stays published until `expires_at`, so a receiver that caches the
//! key set never meets a signature by a key it has not seen, nor loses one it still
//! needs. The next key is created a pre-publication period before the active one
//! retires.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::time::Duration;

/// The `[signature]` section of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignatureSettings {
    /// The domain under which keys are published (`<selector>._domainkey.<key_domain>`);
    /// default: the host of the public URL. Use a domain for nothing else.
    pub key_domain: Option<String>,
    /// The header that names the account a call is for.
    pub account_header: String,
    /// What precedes the account id in that header (default: nothing, so the header
    /// carries the id as it is, `acc_01…`).
    pub account_prefix: String,
    /// How long a key signs.
    #[serde(with = "humantime_serde")]
    pub rotation_period: Duration,
    /// How long the next key is published before it signs.
    #[serde(with = "humantime_serde")]
    pub pre_publication: Duration,
    /// How long a retired key stays published.
    #[serde(with = "humantime_serde")]
    pub grace: Duration,
    /// Each node looks at the keys again at least this often, so a rotation made on
    /// another node (or a key activating there) is picked up.
    #[serde(with = "humantime_serde")]
    pub reload: Duration,
}

impl Default for SignatureSettings {
    fn default() -> Self {
        Self {
            key_domain: None,
            account_header: "X-Postbode-Account".into(),
            account_prefix: String::new(),
            rotation_period: Duration::from_secs(30 * 24 * 3600),
            pre_publication: Duration::from_secs(48 * 3600),
            grace: Duration::from_secs(7 * 24 * 3600),
            reload: Duration::from_secs(60),
        }
    }
}

fn span(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySchedule {
    pub activates_at: DateTime<Utc>,
    pub retires_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPhase {
    /// Published, not signing yet.
    Next,
    Active,
    /// Published, no longer signing.
    Retired,
    /// Withdrawn.
    Expired,
}

impl KeyPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPhase::Next => "next",
            KeyPhase::Active => "active",
            KeyPhase::Retired => "retired",
            KeyPhase::Expired => "expired",
        }
    }
}

impl KeySchedule {
    /// The schedule of a key that signs from `activates_at` for one rotation period.
    pub fn starting(activates_at: DateTime<Utc>, settings: &SignatureSettings) -> Self {
        let retires_at = activates_at + span(settings.rotation_period);
        Self {
            activates_at,
            retires_at,
            expires_at: retires_at + span(settings.grace),
        }
    }

    pub fn phase(&self, now: DateTime<Utc>) -> KeyPhase {
        if now < self.activates_at {
            KeyPhase::Next
        } else if now < self.retires_at {
            KeyPhase::Active
        } else if now < self.expires_at {
            KeyPhase::Retired
        } else {
            KeyPhase::Expired
        }
    }

    /// Ends this key's signing at `at`; it stays published for the grace period.
    pub fn retire_at(&mut self, at: DateTime<Utc>, settings: &SignatureSettings) {
        self.retires_at = at.max(self.activates_at);
        self.expires_at = self.retires_at + span(settings.grace);
    }
}

/// The key to create now for one algorithm, if any, given that algorithm's keys:
/// the first key (signing at once), or the next one when the last key retires within
/// the pre-publication period.
pub fn key_due(keys: &[KeySchedule], now: DateTime<Utc>, settings: &SignatureSettings) -> Option<KeySchedule> {
    let last = keys
        .iter()
        .filter(|k| k.phase(now) != KeyPhase::Expired)
        .max_by_key(|k| k.activates_at);
    match last {
        None => Some(KeySchedule::starting(now, settings)),
        Some(last) if last.retires_at - span(settings.pre_publication) <= now => {
            Some(KeySchedule::starting(last.retires_at.max(now), settings))
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(h: i64) -> chrono::Duration {
        chrono::Duration::hours(h)
    }

    #[test]
    fn a_key_goes_from_next_to_active_to_retired_to_expired() {
        let settings = SignatureSettings::default();
        let t0 = Utc::now();
        let first = key_due(&[], t0, &settings).unwrap();
        assert_eq!(first.phase(t0), KeyPhase::Active);
        // Nothing is due until the pre-publication period before the key retires.
        assert_eq!(key_due(&[first], t0 + hours(24 * 27), &settings), None);
        let at = first.retires_at - hours(48);
        let next = key_due(&[first], at, &settings).unwrap();
        assert_eq!(next.activates_at, first.retires_at);
        assert_eq!(next.phase(at), KeyPhase::Next);
        assert_eq!(key_due(&[first, next], at, &settings), None);
        assert_eq!(first.phase(first.retires_at), KeyPhase::Retired);
        assert_eq!(next.phase(first.retires_at), KeyPhase::Active);
        assert_eq!(first.phase(first.retires_at + hours(24 * 7)), KeyPhase::Expired);
    }
}
