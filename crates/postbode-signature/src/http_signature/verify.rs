//! The receiver's side: every rule of PAYLOADS.md, each failure its own error.

use super::{
    ALGORITHM, DEFAULT_FUTURE_SKEW_SECONDS, DEFAULT_MAX_AGE_SECONDS, MIN_NONCE_LEN, SignatureParams, check_digest,
    signing_string,
};
use crate::keys::{KeyAlgorithm, KeyLookup};
use crate::nonce::{DEFAULT_MAX_ENTRIES, NonceCache};
use crate::{Error, Request, Verified, dkim, time};

/// What a receiver accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// How old a `Date` may be (PAYLOADS.md: 60 s).
    pub max_age_seconds: i64,
    /// How far in the future a `Date` may be.
    pub future_skew_seconds: i64,
    /// Lower-case names the signature must cover.
    pub required_headers: Vec<String>,
    pub account_header: String,
    /// The receiver's own account, e.g. `acc_42`.
    pub expected_account: String,
    /// Only keys `<selector>._domainkey.<this domain>` are trusted.
    pub trusted_key_domain: String,
}

impl Policy {
    /// The defaults of PAYLOADS.md: 60 s, covering `(request-target)`, `host`, `date`, the
    /// account header, `digest` and `x-nonce`.
    pub fn new(trusted_key_domain: &str, account_header: &str, expected_account: &str) -> Self {
        let required = [
            "(request-target)",
            "host",
            "date",
            &account_header.to_ascii_lowercase(),
            "digest",
            "x-nonce",
        ];
        Self {
            max_age_seconds: DEFAULT_MAX_AGE_SECONDS,
            future_skew_seconds: DEFAULT_FUTURE_SKEW_SECONDS,
            required_headers: required.iter().map(|name| (*name).to_owned()).collect(),
            account_header: account_header.to_owned(),
            expected_account: expected_account.to_owned(),
            trusted_key_domain: trusted_key_domain.to_owned(),
        }
    }

    /// How long a call stays acceptable, so how long its nonce must be remembered.
    pub fn acceptance_window_seconds(&self) -> i64 {
        self.max_age_seconds
            .saturating_add(self.future_skew_seconds)
            .saturating_add(1)
    }
}

/// A policy, the keys and the nonces seen: what a receiver keeps between calls.
#[derive(Debug)]
pub struct Verifier<K> {
    policy: Policy,
    keys: K,
    nonces: NonceCache,
}

impl<K: KeyLookup> Verifier<K> {
    /// With a nonce cache remembering nonces as long as the policy accepts a call.
    pub fn new(policy: Policy, keys: K) -> Self {
        let nonces = NonceCache::new(policy.acceptance_window_seconds(), DEFAULT_MAX_ENTRIES);
        Self::with_nonce_cache(policy, keys, nonces)
    }

    pub fn with_nonce_cache(policy: Policy, keys: K, nonces: NonceCache) -> Self {
        Self { policy, keys, nonces }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Replaces the keys, e.g. after fetching the key set again; the nonces stay.
    pub fn set_keys(&mut self, keys: K) {
        self.keys = keys;
    }

    pub fn verify(&self, request: &Request, now: i64) -> Result<Verified, Error> {
        verify(request, &self.policy, &self.keys, &self.nonces, now)
    }
}

/// Accepts the call when, in this order (the first failure is the error): the
/// `Signature` parses and uses `rsa-sha256`; it covers every required header; its key is
/// under the trusted domain; `Date` is fresh; the account header is the expected one;
/// `Digest` matches the body; `X-Nonce` is long enough; the key is known; the RSA
/// signature verifies; and only then, the nonce was not seen (so forged calls cannot
/// fill the cache).
pub fn verify<K: KeyLookup + ?Sized>(
    request: &Request,
    policy: &Policy,
    keys: &K,
    nonces: &NonceCache,
    now: i64,
) -> Result<Verified, Error> {
    let header = request
        .header("signature")
        .ok_or_else(|| Error::MissingHeader("signature".into()))?;
    let params = SignatureParams::parse(&header)?;
    if let Some(algorithm) = &params.algorithm
        && !algorithm.eq_ignore_ascii_case(ALGORITHM)
    {
        return Err(Error::malformed(format!(
            "signature header: algorithm {algorithm} is not {ALGORITHM}"
        )));
    }
    for required in &policy.required_headers {
        let required = required.to_ascii_lowercase();
        if !params.headers.contains(&required) {
            return Err(Error::HeaderNotCovered(required));
        }
    }
    if !dkim::is_under_domain(&params.key_id, &policy.trusted_key_domain) {
        return Err(Error::UntrustedKeyDomain(params.key_id));
    }

    let date = required_header(request, "date")?;
    let sent = time::parse_imf_fixdate(&date)?;
    time::check_age(sent, now, policy.max_age_seconds, policy.future_skew_seconds)?;

    let account = required_header(request, &policy.account_header)?;
    if account != policy.expected_account {
        return Err(Error::WrongAccount);
    }

    check_digest(&required_header(request, "digest")?, request.body)?;

    let nonce = required_header(request, "x-nonce")?;
    if nonce.len() < MIN_NONCE_LEN {
        return Err(Error::malformed(format!(
            "x-nonce: shorter than {MIN_NONCE_LEN} characters"
        )));
    }

    let key = keys
        .find(&params.key_id)
        .ok_or_else(|| Error::UnknownKey(params.key_id.clone()))?;
    if key.algorithm() != KeyAlgorithm::Rsa {
        return Err(Error::BadSignature);
    }
    let text = signing_string(request, &params.headers, &params)?;
    key.verify(text.as_bytes(), &params.signature)?;

    nonces.check_and_insert(&nonce, now)?;
    Ok(Verified {
        key_id: params.key_id,
        algorithm: KeyAlgorithm::Rsa,
        covered: params.headers,
    })
}

fn required_header(request: &Request, name: &str) -> Result<String, Error> {
    request
        .header(name)
        .ok_or_else(|| Error::MissingHeader(name.to_ascii_lowercase()))
}
