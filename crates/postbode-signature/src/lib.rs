//! Signing and verifying Postbode webhook calls.
//!
//! Receivers use this crate too, so it depends only on `aws-lc-rs`, `base64`, `httpdate`,
//! `serde`/`serde_json` (the key set) and `thiserror`. Three schemes, each a module:
//!
//! - [`standard_webhooks`]: HMAC-SHA256 with a per-webhook secret (the default);
//! - [`http_signature`]: the suite's draft-cavage HTTP Signature, RSA keys published like
//!   DKIM keys ([`dkim`]) and in a JSON key set ([`key_set`]);
//! - [`rfc9421`]: HTTP Message Signatures with Ed25519.
//!
//! A receiver for the default scheme, Standard Webhooks:
//!
//! ```
//! use postbode_signature::standard_webhooks::{Secret, sign, verify};
//!
//! let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! // What Postbode sends: the headers webhook-id, webhook-timestamp, webhook-signature.
//! let (id, timestamp, body) = ("dlv_01", 1_700_000_000, br#"{"type":"open"}"#);
//! let header = sign(&secret, id, timestamp, body);
//! // What the receiver does with them; `now` comes from its own clock.
//! verify(&[secret], id, &timestamp.to_string(), &header, body, 1_700_000_030).unwrap();
//! ```
//!
//! A receiver for the suite's scheme, `http-signature` (RSA, keys published like DKIM
//! keys). It loads the key set once and keeps one [`http_signature::Verifier`], whose
//! nonce cache refuses replays:
//!
//! ```
//! use postbode_signature::{Request, http_signature::{Policy, Verifier}, key_set::KeySet};
//! # use postbode_signature::{dkim, http_signature::Signer, keys::RsaKey, key_set::KeyState};
//! # let key = RsaKey::generate()?;
//! # let key_id = dkim::key_id("pb202605k3q9", "webhooks.example.com");
//! # let mut published = KeySet::default();
//! # published.push(key_id.clone(), key.public_key()?, KeyState::Active);
//! # let key_set_json = published.to_json();
//! # let (now, body) = (1_780_000_000, br#"{"type":"open"}"#.to_vec());
//! # let sent = [("Host", "receiver.example"), ("Content-Type", "application/json"), ("Content-Length", "15")];
//! # let signer = Signer { key: &key, key_id: &key_id, account_header: "X-Postbode-Account", account_value: "acc_42" };
//! # let outgoing = Request { method: "POST", target: "/hooks/postbode?src=pb", headers: &sent, body: &body };
//! # let mut received: Vec<(String, String)> = sent.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
//! # received.extend(signer.sign(&outgoing, now)?.pairs());
//!
//! // Once: the body of GET https://<postbode>/.well-known/postbode/keys, and the rules.
//! let keys = KeySet::from_json(&key_set_json)?;
//! let policy = Policy::new("webhooks.example.com", "X-Postbode-Account", "acc_42");
//! let verifier = Verifier::new(policy, keys);
//!
//! // Per call: the request as received (`received`: its header names and values).
//! let headers: Vec<(&str, &str)> = received.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
//! let request = Request { method: "POST", target: "/hooks/postbode?src=pb", headers: &headers, body: &body };
//! match verifier.verify(&request, now) { // `now`: the receiver's clock, Unix seconds
//!     Ok(verified) => println!("a genuine call, signed by {}", verified.key_id),
//!     Err(why) => println!("refused (answer 401): {why}"),
//! }
//! # assert_eq!(verifier.verify(&request, now), Err(postbode_signature::Error::ReplayedNonce));
//! # Ok::<(), postbode_signature::Error>(())
//! ```
//!
//! A receiver for `rfc9421` (Ed25519). The signature covers the full target URI, rebuilt
//! from [`rfc9421::Policy::scheme`] (`https`), the `Host` header and the request target:
//!
//! ```
//! use postbode_signature::{Request, key_set::KeySet, rfc9421::{Policy, verify}};
//! # use postbode_signature::{dkim, rfc9421::Signer, keys::Ed25519Key, key_set::KeyState};
//! # let key = Ed25519Key::generate()?;
//! # let key_id = dkim::key_id("pb202605x7c2", "webhooks.example.com");
//! # let mut published = KeySet::default();
//! # published.push(key_id.clone(), key.public_key()?, KeyState::Active);
//! # let key_set_json = published.to_json();
//! # let (now, body) = (1_780_000_000, br#"{"type":"open"}"#.to_vec());
//! # let sent = [("Host", "receiver.example"), ("Content-Type", "application/json")];
//! # let signer = Signer { key: &key, key_id: &key_id, account_header: "X-Postbode-Account", account_value: "acc_42" };
//! # let outgoing = Request { method: "POST", target: "/hooks/postbode?src=pb", headers: &sent, body: &body };
//! # let mut received: Vec<(String, String)> = sent.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
//! # received.extend(signer.sign(&outgoing, "https", now)?.pairs());
//!
//! let keys = KeySet::from_json(&key_set_json)?;
//! let policy = Policy::new("webhooks.example.com", "X-Postbode-Account", "acc_42");
//!
//! let headers: Vec<(&str, &str)> = received.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
//! let request = Request { method: "POST", target: "/hooks/postbode?src=pb", headers: &headers, body: &body };
//! match verify(&request, &policy, &keys, now) {
//!     Ok(verified) => println!("a genuine call, signed by {}", verified.key_id),
//!     Err(why) => println!("refused (answer 401): {why}"),
//! }
//! # verify(&request, &policy, &keys, now)?;
//! # Ok::<(), postbode_signature::Error>(())
//! ```

pub mod dkim;
pub mod http_signature;
pub mod key_set;
pub mod keys;
pub mod nonce;
pub mod random;
pub mod rfc9421;
pub mod sealed;
pub mod standard_webhooks;

mod digest;
mod request;
mod sfv;
mod time;

pub use request::{Request, Verified};

/// Every failure of this crate. Verification failures are precise on purpose: a receiver
/// (and `postbode verify`) says exactly why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the secret is not `whsec_` followed by base64")]
    MalformedSecret,
    #[error("the webhook-timestamp header is not a Unix time in seconds")]
    MalformedTimestamp,
    #[error("the call is too old or from the future ({skew_seconds} s away from now)")]
    StaleTimestamp { skew_seconds: i64 },
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the random source failed")]
    Random,
    #[error("malformed {0}")]
    Malformed(String),
    #[error("the {0} header is missing")]
    MissingHeader(String),
    #[error("the signature does not cover {0}")]
    HeaderNotCovered(String),
    #[error("the body does not match its digest")]
    DigestMismatch,
    #[error("the call is {age_seconds} s old, more than allowed")]
    StaleDate { age_seconds: i64 },
    #[error("the call is dated {ahead_seconds} s in the future")]
    FutureDate { ahead_seconds: i64 },
    #[error("the account header names another account")]
    WrongAccount,
    #[error("no published key has the id {0}")]
    UnknownKey(String),
    #[error("the key {0} is not under the trusted key domain")]
    UntrustedKeyDomain(String),
    #[error("the nonce was already seen: the call is replayed")]
    ReplayedNonce,
    #[error("the key was rejected: {0}")]
    InvalidKey(String),
    #[error("the cryptographic library failed")]
    Crypto,
}

impl Error {
    fn malformed(what: impl Into<String>) -> Self {
        Error::Malformed(what.into())
    }
}
