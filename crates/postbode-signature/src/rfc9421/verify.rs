//! The receiver's side of RFC 9421: the base is recomputed from the request as received.

use super::{
    ALGORITHM, DEFAULT_SCHEME, LABEL, SignatureInput, check_content_digest, parse_signature, parse_signature_input,
    signature_base,
};
use crate::http_signature::{DEFAULT_FUTURE_SKEW_SECONDS, DEFAULT_MAX_AGE_SECONDS};
use crate::keys::{KeyAlgorithm, KeyLookup};
use crate::{Error, Request, Verified, dkim, time};

/// What a receiver accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// How old `created` may be.
    pub max_age_seconds: i64,
    pub future_skew_seconds: i64,
    /// Component identifiers the signature must cover.
    pub required_components: Vec<String>,
    pub account_header: String,
    pub expected_account: String,
    pub trusted_key_domain: String,
    /// The scheme the receiver is reached at, for `@target-uri` (`https` behind a TLS
    /// terminating proxy too).
    pub scheme: String,
}

impl Policy {
    /// 60 s, `https`, and every component Postbode signs required.
    pub fn new(trusted_key_domain: &str, account_header: &str, expected_account: &str) -> Self {
        Self {
            max_age_seconds: DEFAULT_MAX_AGE_SECONDS,
            future_skew_seconds: DEFAULT_FUTURE_SKEW_SECONDS,
            required_components: super::covered_components(account_header),
            account_header: account_header.to_owned(),
            expected_account: expected_account.to_owned(),
            trusted_key_domain: trusted_key_domain.to_owned(),
            scheme: DEFAULT_SCHEME.to_owned(),
        }
    }
}

/// Accepts the call when, in this order: `Signature-Input` and `Signature` parse and
/// agree on a label (`sig1`, or the only one); `alg`, if given, is `ed25519`; `keyid` and
/// `created` are present; the required components are covered; the key is under the
/// trusted domain; `created` is fresh (and `expires`, if given, not past); the account
/// header is the expected one; `Content-Digest` matches the body; the key is known; the
/// Ed25519 signature over the recomputed base verifies.
pub fn verify<K: KeyLookup + ?Sized>(
    request: &Request,
    policy: &Policy,
    keys: &K,
    now: i64,
) -> Result<Verified, Error> {
    let inputs = parse_signature_input(&required_header(request, "signature-input")?)?;
    let signatures = parse_signature(&required_header(request, "signature")?)?;
    let input = choose(inputs)?;
    let (_, signature) = signatures
        .iter()
        .find(|(label, _)| *label == input.label)
        .ok_or_else(|| Error::malformed(format!("signature: no {} member", input.label)))?;
    if let Some(algorithm) = &input.algorithm
        && algorithm != ALGORITHM
    {
        return Err(Error::malformed(format!(
            "signature-input: alg {algorithm} is not {ALGORITHM}"
        )));
    }
    let key_id = input
        .key_id
        .clone()
        .ok_or_else(|| Error::malformed("signature-input: no keyid"))?;
    let created = input
        .created
        .ok_or_else(|| Error::malformed("signature-input: no created"))?;
    for required in &policy.required_components {
        let required = required.to_ascii_lowercase();
        if !input.components.contains(&required) {
            return Err(Error::HeaderNotCovered(required));
        }
    }
    if !dkim::is_under_domain(&key_id, &policy.trusted_key_domain) {
        return Err(Error::UntrustedKeyDomain(key_id));
    }
    time::check_age(created, now, policy.max_age_seconds, policy.future_skew_seconds)?;
    if input.expires.is_some_and(|expires| expires <= now) {
        return Err(Error::StaleDate {
            age_seconds: now.saturating_sub(created),
        });
    }

    let account = required_header(request, &policy.account_header)?;
    if account != policy.expected_account {
        return Err(Error::WrongAccount);
    }
    check_content_digest(&required_header(request, "content-digest")?, request.body)?;

    let key = keys.find(&key_id).ok_or_else(|| Error::UnknownKey(key_id.clone()))?;
    if key.algorithm() != KeyAlgorithm::Ed25519 {
        return Err(Error::BadSignature);
    }
    let base = signature_base(request, &policy.scheme, &input)?;
    key.verify(base.as_bytes(), signature)?;
    Ok(Verified {
        key_id,
        algorithm: KeyAlgorithm::Ed25519,
        covered: input.components,
    })
}

/// Postbode's label, or the only signature when there is one under another label.
fn choose(inputs: Vec<SignatureInput>) -> Result<SignatureInput, Error> {
    if inputs.len() == 1 {
        return inputs
            .into_iter()
            .next()
            .ok_or_else(|| Error::malformed("signature-input: empty"));
    }
    inputs
        .into_iter()
        .find(|input| input.label == LABEL)
        .ok_or_else(|| Error::malformed(format!("signature-input: no {LABEL} member")))
}

fn required_header(request: &Request, name: &str) -> Result<String, Error> {
    request
        .header(name)
        .ok_or_else(|| Error::MissingHeader(name.to_ascii_lowercase()))
}
