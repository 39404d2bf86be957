//! Signing a call with Ed25519: the headers Postbode adds.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{LABEL, SignatureInput, content_digest, covered_components, signature_base};
use crate::keys::Ed25519Key;
use crate::{Error, Request};

/// Who signs, and for which account.
#[derive(Debug, Clone, Copy)]
pub struct Signer<'a> {
    pub key: &'a Ed25519Key,
    pub key_id: &'a str,
    pub account_header: &'a str,
    pub account_value: &'a str,
}

/// The headers to add to the request, each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub content_digest: String,
    /// The account header's name and value (the same as `http-signature`'s: add it once
    /// when a call carries both schemes).
    pub account: (String, String),
    pub signature_input: String,
    pub signature: String,
}

impl SignedHeaders {
    pub fn pairs(&self) -> Vec<(String, String)> {
        vec![
            ("Content-Digest".to_owned(), self.content_digest.clone()),
            self.account.clone(),
            ("Signature-Input".to_owned(), self.signature_input.clone()),
            ("Signature".to_owned(), self.signature.clone()),
        ]
    }
}

impl Signer<'_> {
    /// Signs `request`, to be sent to `scheme` (`https`) at `created` (Unix seconds).
    /// `request.headers` must hold `Host` and `Content-Type` as they will be sent; the
    /// account header may be there already (with this signer's value), the other added
    /// headers not.
    pub fn sign(&self, request: &Request, scheme: &str, created: i64) -> Result<SignedHeaders, Error> {
        for added in ["content-digest", "signature-input", "signature"] {
            if request.header(added).is_some() {
                return Err(Error::malformed(format!(
                    "request: it already has a {added} header, which the signer sets"
                )));
            }
        }
        let digest = content_digest(request.body);
        let mut headers: Vec<(&str, &str)> = request.headers.to_vec();
        headers.push(("Content-Digest", &digest));
        match request.header(self.account_header) {
            None => headers.push((self.account_header, self.account_value)),
            Some(value) if value == self.account_value => {}
            Some(_) => return Err(Error::WrongAccount),
        }
        let complete = Request {
            headers: &headers,
            ..*request
        };
        let input = SignatureInput::new(LABEL, &covered_components(self.account_header), created, self.key_id);
        let base = signature_base(&complete, scheme, &input)?;
        let signature = self.key.sign(base.as_bytes());
        Ok(SignedHeaders {
            content_digest: digest,
            account: (self.account_header.to_owned(), self.account_value.to_owned()),
            signature_input: input.to_header_value(),
            signature: format!("{LABEL}=:{}:", STANDARD.encode(signature)),
        })
    }
}
