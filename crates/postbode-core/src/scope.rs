//! What an account's API key may do. A key made for a sender's backend carries
//! `events:write` and can send events and nothing else; a key made without scopes, and
//! every key made before scopes existed, carries `manage`: everything.
//!
//! Writing implies reading the same things (`webhooks:write` reads webhooks too), so a
//! key that creates a webhook can look at what it made.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Scope {
    /// Send events: custom events, messages and their mail reports.
    #[serde(rename = "events:write")]
    EventsWrite,
    /// Read webhooks, their deliveries, attempts and statistics, and domains.
    #[serde(rename = "webhooks:read")]
    WebhooksRead,
    /// Create, change, test and delete webhooks and domains; resend deliveries.
    #[serde(rename = "webhooks:write")]
    WebhooksWrite,
    /// Read databases, collections, profiles and subprofiles.
    #[serde(rename = "data:read")]
    DataRead,
    /// Change databases, collections, profiles and subprofiles; import.
    #[serde(rename = "data:write")]
    DataWrite,
    /// Everything the account may do, the dashboard included.
    #[serde(rename = "manage")]
    Manage,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::EventsWrite,
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
        Scope::DataRead,
        Scope::DataWrite,
        Scope::Manage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::EventsWrite => "events:write",
            Scope::WebhooksRead => "webhooks:read",
            Scope::WebhooksWrite => "webhooks:write",
            Scope::DataRead => "data:read",
            Scope::DataWrite => "data:write",
            Scope::Manage => "manage",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The scopes this one grants besides itself.
    fn implies(self, other: Scope) -> bool {
        self == other
            || self == Scope::Manage
            || (self == Scope::WebhooksWrite && other == Scope::WebhooksRead)
            || (self == Scope::DataWrite && other == Scope::DataRead)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scopes a key carries: never empty (a key made without any gets `manage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Default for Scopes {
    fn default() -> Self {
        Scopes(vec![Scope::Manage])
    }
}

impl Scopes {
    /// Sorted and without repeats; an empty list is `manage`.
    pub fn new(mut scopes: Vec<Scope>) -> Scopes {
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            Scopes::default()
        } else {
            Scopes(scopes)
        }
    }

    pub fn grants(&self, needed: Scope) -> bool {
        self.0.iter().any(|held| held.implies(needed))
    }

    pub fn list(&self) -> &[Scope] {
        &self.0
    }

    /// As stored: the names, space-separated.
    pub fn to_text(&self) -> String {
        self.0.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    }

    /// From the stored text; `None` names a scope this build does not know.
    pub fn from_text(text: &str) -> Option<Scopes> {
        text.split_whitespace()
            .map(Scope::parse)
            .collect::<Option<Vec<_>>>()
            .map(Scopes::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_key_sends_and_does_nothing_else() {
        let sender = Scopes::new(vec![Scope::EventsWrite]);
        assert!(sender.grants(Scope::EventsWrite));
        for other in Scope::ALL.into_iter().filter(|s| *s != Scope::EventsWrite) {
            assert!(!sender.grants(other), "{other}");
        }
    }

    #[test]
    fn manage_grants_all_and_writing_grants_reading_the_same() {
        assert!(Scope::ALL.into_iter().all(|s| Scopes::default().grants(s)));
        let writer = Scopes::new(vec![Scope::WebhooksWrite, Scope::DataWrite]);
        assert!(writer.grants(Scope::WebhooksRead) && writer.grants(Scope::DataRead));
        assert!(!writer.grants(Scope::EventsWrite) && !writer.grants(Scope::Manage));
        let reader = Scopes::new(vec![Scope::WebhooksRead]);
        assert!(!reader.grants(Scope::WebhooksWrite));
    }

    #[test]
    fn stored_text_round_trips_and_no_scopes_is_manage() {
        let scopes = Scopes::new(vec![Scope::DataRead, Scope::EventsWrite, Scope::DataRead]);
        assert_eq!(scopes.to_text(), "events:write data:read");
        assert_eq!(Scopes::from_text(&scopes.to_text()), Some(scopes));
        assert_eq!(Scopes::from_text(""), Some(Scopes::default()));
        assert_eq!(Scopes::from_text("events:write everything"), None);
        assert_eq!(Scopes::new(vec![]).list(), &[Scope::Manage]);
    }
}
