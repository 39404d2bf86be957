//! Signing a call: the headers Postbode adds, and the `Signature` over them.

use super::{ALGORITHM, NONCE_HEADER, NONCE_LEN, SignatureParams, covered_headers, digest_header};
use crate::keys::RsaKey;
use crate::{Error, Request, random, time};

/// Who signs, and for which account.
#[derive(Debug, Clone, Copy)]
pub struct Signer<'a> {
    pub key: &'a RsaKey,
    /// `<selector>._domainkey.<key domain>`, see [`crate::dkim::key_id`].
    pub key_id: &'a str,
    /// e.g. [`super::DEFAULT_ACCOUNT_HEADER`].
    pub account_header: &'a str,
    /// e.g. `acc_42`, see [`super::account_value`].
    pub account_value: &'a str,
}

/// The headers to add to the request, each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub digest: String,
    pub date: String,
    /// The account header's name and value.
    pub account: (String, String),
    pub nonce: String,
    pub signature: String,
}

impl SignedHeaders {
    /// `(name, value)` pairs, in the order they are covered.
    pub fn pairs(&self) -> Vec<(String, String)> {
        vec![
            ("Date".to_owned(), self.date.clone()),
            self.account.clone(),
            ("Digest".to_owned(), self.digest.clone()),
            (NONCE_HEADER.to_owned(), self.nonce.clone()),
            ("Signature".to_owned(), self.signature.clone()),
        ]
    }
}

impl Signer<'_> {
    /// Signs `request` at `now` (Unix seconds) with a new nonce. `request.headers` must
    /// hold `Host`, `Content-Length` and `Content-Type` exactly as they will be sent, and
    /// none of the headers this adds.
    pub fn sign(&self, request: &Request, now: i64) -> Result<SignedHeaders, Error> {
        let nonce = random::string(random::URL_SAFE, NONCE_LEN)?;
        self.sign_with_nonce(request, now, &nonce)
    }

    /// [`Signer::sign`] with a given nonce, for tests and for retries that must differ
    /// only where the caller says.
    pub fn sign_with_nonce(&self, request: &Request, now: i64, nonce: &str) -> Result<SignedHeaders, Error> {
        for added in ["date", "digest", "signature", NONCE_HEADER, self.account_header] {
            if request.header(added).is_some() {
                return Err(Error::malformed(format!(
                    "request: it already has a {added} header, which the signer sets"
                )));
            }
        }
        let date = time::imf_fixdate(now)?;
        let digest = digest_header(request.body);
        let mut headers: Vec<(&str, &str)> = request.headers.to_vec();
        headers.extend([
            ("Date", date.as_str()),
            (self.account_header, self.account_value),
            ("Digest", digest.as_str()),
            (NONCE_HEADER, nonce),
        ]);
        let complete = Request {
            headers: &headers,
            ..*request
        };
        let covered = covered_headers(self.account_header);
        let covered: Vec<&str> = covered.iter().map(String::as_str).collect();
        let signature = self.signature_header(&complete, &covered)?;
        Ok(SignedHeaders {
            digest,
            date,
            account: (self.account_header.to_owned(), self.account_value.to_owned()),
            nonce: nonce.to_owned(),
            signature,
        })
    }

    /// The `Signature` value for a request that already carries every covered header:
    /// the building block of [`Signer::sign`], open for other header lists.
    pub fn signature_header(&self, request: &Request, covered: &[&str]) -> Result<String, Error> {
        if self.key_id.contains(['"', '\\']) || self.key_id.chars().any(char::is_control) {
            return Err(Error::malformed(
                "key id: quotes, backslashes and control characters are not allowed",
            ));
        }
        let mut params = SignatureParams {
            key_id: self.key_id.to_owned(),
            algorithm: Some(ALGORITHM.to_owned()),
            headers: covered.iter().map(|name| name.to_ascii_lowercase()).collect(),
            signature: Vec::new(),
            created: None,
            expires: None,
        };
        let text = super::signing_string(request, &params.headers, &params)?;
        params.signature = self.key.sign(text.as_bytes())?;
        Ok(params.to_header_value())
    }
}
