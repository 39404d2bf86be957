//! Signing and verifying Postbode webhook calls.
//!
//! Receivers use this crate too, so it depends only on `aws-lc-rs`, `base64` and
//! `thiserror`. A receiver for the default scheme, Standard Webhooks:
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

pub mod random;
pub mod standard_webhooks;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the secret is not `whsec_` followed by base64")]
    MalformedSecret,
    #[error("the webhook-timestamp header is not a Unix time in seconds")]
    MalformedTimestamp,
    #[error("the call is too old or from the future ({skew_seconds} s away from now)")]
    StaleTimestamp { skew_seconds: i64 },
    #[error("no v1 signature in the header matches")]
    BadSignature,
    #[error("the random source failed")]
    Random,
}
