//! The Standard Webhooks scheme: `v1,<base64 HMAC-SHA256 over "<id>.<timestamp>.<body>">`
//! with a per-webhook secret `whsec_<base64>`.

use aws_lc_rs::{constant_time, hmac};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::{Error, random};

pub const SECRET_PREFIX: &str = "whsec_";
/// How far a call's timestamp may be from the receiver's clock, either way.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

#[derive(Clone)]
pub struct Secret {
    key: hmac::Key,
    text: String,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A new secret of 32 random bytes.
    pub fn generate() -> Result<Self, Error> {
        let raw = random::bytes::<32>()?;
        Self::parse(&format!("{SECRET_PREFIX}{}", STANDARD.encode(raw)))
    }

    pub fn parse(text: &str) -> Result<Self, Error> {
        let encoded = text.strip_prefix(SECRET_PREFIX).ok_or(Error::MalformedSecret)?;
        let raw = STANDARD.decode(encoded).map_err(|_| Error::MalformedSecret)?;
        if raw.is_empty() {
            return Err(Error::MalformedSecret);
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &raw),
            text: text.to_owned(),
        })
    }

    /// The `whsec_...` form, shown to the user.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn tag(&self, id: &str, timestamp: &str, body: &[u8]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(id.as_bytes());
        ctx.update(b".");
        ctx.update(timestamp.as_bytes());
        ctx.update(b".");
        ctx.update(body);
        ctx.sign()
    }
}

/// The `webhook-signature` value for one secret.
pub fn sign(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = secret.tag(id, &timestamp.to_string(), body);
    format!("v1,{}", STANDARD.encode(tag.as_ref()))
}

/// The `webhook-signature` value during a rotation: one signature per secret, separated
/// by a space, so receivers holding either secret accept the call.
pub fn sign_all(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| sign(secret, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Accepts the call when its timestamp is within the tolerance of `now` and one of the
/// `v1` signatures in `signature_header` matches one of `secrets`.
pub fn verify(
    secrets: &[Secret],
    id: &str,
    timestamp: &str,
    signature_header: &str,
    body: &[u8],
    now: i64,
) -> Result<(), Error> {
    let sent: i64 = timestamp.trim().parse().map_err(|_| Error::MalformedTimestamp)?;
    let skew = now - sent;
    if skew.abs() > DEFAULT_TOLERANCE_SECONDS {
        return Err(Error::StaleTimestamp { skew_seconds: skew });
    }
    for secret in secrets {
        let expected = secret.tag(id, timestamp.trim(), body);
        for candidate in signature_header.split_ascii_whitespace() {
            let Some(encoded) = candidate.strip_prefix("v1,") else {
                continue;
            };
            let Ok(given) = STANDARD.decode(encoded) else {
                continue;
            };
            if constant_time::verify_slices_are_equal(expected.as_ref(), &given).is_ok() {
                return Ok(());
            }
        }
    }
    Err(Error::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn matches_the_reference_vector() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let header = sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn verify_accepts_either_secret_of_a_rotation_and_refuses_tampering() {
        let old = Secret::generate().unwrap();
        let new = Secret::generate().unwrap();
        let header = sign_all(&[old.clone(), new.clone()], "dlv_1", 100, b"{}");
        verify(std::slice::from_ref(&new), "dlv_1", "100", &header, b"{}", 130).unwrap();
        verify(std::slice::from_ref(&old), "dlv_1", "100", &header, b"{}", 130).unwrap();
        assert_eq!(
            verify(std::slice::from_ref(&new), "dlv_1", "100", &header, b"{ }", 130),
            Err(Error::BadSignature)
        );
        assert_eq!(
            verify(&[new], "dlv_1", "100", &header, b"{}", 1000),
            Err(Error::StaleTimestamp { skew_seconds: 900 })
        );
    }
}
