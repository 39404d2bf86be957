//! The JSON key set served at `GET /.well-known/postbode/keys`: the same public keys as
//! the DKIM records, for receivers that would rather fetch HTTPS than resolve DNS.
//!
//! ```json
//! {"keys":[{"key_id":"pb202605k3q9._domainkey.webhooks.example.com","algorithm":"rsa-sha256",
//!           "public_key":"<base64 of the DER SubjectPublicKeyInfo>","state":"active"}]}
//! ```
//!
//! `algorithm` is `rsa-sha256` or `ed25519`; `state` is `next` (published, not signing
//! yet), `active` or `retired` (still published for the grace period); `expires_at`
//! (Unix seconds), when present, is when a retired key stops being published. Readers
//! ignore unknown fields and skip keys of unknown algorithms, so the format can grow.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::keys::{KeyAlgorithm, KeyLookup, PublicKey};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    Next,
    Active,
    Retired,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedKey {
    pub key_id: String,
    pub key: PublicKey,
    pub state: KeyState,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    pub keys: Vec<PublishedKey>,
}

#[derive(Serialize, Deserialize)]
struct WireSet {
    keys: Vec<WireKey>,
}

#[derive(Serialize, Deserialize)]
struct WireKey {
    key_id: String,
    algorithm: String,
    public_key: String,
    #[serde(default = "active")]
    state: KeyState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
}

fn active() -> KeyState {
    KeyState::Active
}

impl KeySet {
    pub fn push(&mut self, key_id: impl Into<String>, key: PublicKey, state: KeyState) {
        self.keys.push(PublishedKey {
            key_id: key_id.into(),
            key,
            state,
            expires_at: None,
        });
    }

    pub fn to_json(&self) -> String {
        let wire = WireSet {
            keys: self
                .keys
                .iter()
                .map(|k| WireKey {
                    key_id: k.key_id.clone(),
                    algorithm: k.key.algorithm().signature_name().to_owned(),
                    public_key: k.key.spki_base64(),
                    state: k.state,
                    expires_at: k.expires_at,
                })
                .collect(),
        };
        // Strings, integers and enums only: serialising this cannot fail.
        serde_json::to_string(&wire).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<Self, Error> {
        let wire: WireSet = serde_json::from_str(text).map_err(|e| Error::malformed(format!("key set: {e}")))?;
        let mut set = KeySet::default();
        for key in wire.keys {
            let Some(algorithm) = KeyAlgorithm::from_signature_name(&key.algorithm) else {
                continue;
            };
            let der = STANDARD
                .decode(key.public_key.trim())
                .map_err(|_| Error::malformed(format!("key set: the key {} is not base64", key.key_id)))?;
            set.keys.push(PublishedKey {
                key: PublicKey::from_der(algorithm, &der)?,
                key_id: key.key_id,
                state: key.state,
                expires_at: key.expires_at,
            });
        }
        Ok(set)
    }

    pub fn get(&self, key_id: &str) -> Option<&PublishedKey> {
        self.keys.iter().find(|k| k.key_id.eq_ignore_ascii_case(key_id))
    }
}

/// Every published key verifies, `next` and `retired` included: a call signed just
/// before a rotation arrives after it, and publishing ahead costs nothing.
impl KeyLookup for KeySet {
    fn find(&self, key_id: &str) -> Option<PublicKey> {
        self.get(key_id).map(|k| k.key.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Ed25519Key, RsaKey};

    #[test]
    fn round_trips_and_skips_unknown_algorithms() {
        let rsa = RsaKey::generate().unwrap().public_key().unwrap();
        let ed = Ed25519Key::generate().unwrap().public_key().unwrap();
        let mut set = KeySet::default();
        set.push("pb202605aaaa._domainkey.w.example", rsa.clone(), KeyState::Active);
        set.push("pb202606bbbb._domainkey.w.example", ed, KeyState::Next);
        set.keys[1].expires_at = Some(1_790_000_000);
        let json = set.to_json();
        assert!(json.contains(r#""algorithm":"rsa-sha256""#), "{json}");
        assert!(json.contains(r#""state":"next","expires_at":1790000000"#), "{json}");
        assert_eq!(KeySet::from_json(&json).unwrap(), set);
        assert_eq!(set.find("PB202605AAAA._domainkey.w.example"), Some(rsa));
        assert_eq!(set.find("pb000000xxxx._domainkey.w.example"), None);

        let later = r#"{"keys":[{"key_id":"x","algorithm":"ml-dsa-65","public_key":"AAAA"}],"v":2}"#;
        assert_eq!(KeySet::from_json(later).unwrap(), KeySet::default());
    }

    #[test]
    fn refuses_broken_sets() {
        assert!(matches!(KeySet::from_json("{"), Err(Error::Malformed(_))));
        let bad = r#"{"keys":[{"key_id":"x","algorithm":"ed25519","public_key":"!!"}]}"#;
        assert!(matches!(KeySet::from_json(bad), Err(Error::Malformed(_))));
        let short = r#"{"keys":[{"key_id":"x","algorithm":"ed25519","public_key":"AAAA"}]}"#;
        assert!(matches!(KeySet::from_json(short), Err(Error::InvalidKey(_))));
    }
}
