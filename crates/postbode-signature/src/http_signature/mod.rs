//! The suite's scheme: draft-cavage HTTP Signatures with `rsa-sha256`, exactly as in the
//! "Signature schemes" section of PAYLOADS.md.
//!
//! Postbode adds `Digest`, `Date`, the account header and `X-Nonce`, then signs the
//! string made of the covered headers:
//!
//! ```text
//! Signature: keyId="<selector>._domainkey.<key domain>",algorithm="rsa-sha256",headers="(request-target) host date content-length content-type x-postbode-account digest x-nonce",signature="<base64>"
//! ```

mod params;
mod sign;
mod verify;

pub use params::SignatureParams;
pub use sign::{SignedHeaders, Signer};
pub use verify::{Policy, Verifier, verify};

use crate::{Error, Request, digest};

pub const ALGORITHM: &str = "rsa-sha256";
pub const DEFAULT_ACCOUNT_HEADER: &str = "X-Postbode-Account";
/// Nothing: the account header carries the account id as it is (`acc_01…`).
pub const DEFAULT_ACCOUNT_PREFIX: &str = "";
pub const NONCE_HEADER: &str = "X-Nonce";
/// Random URL-safe characters in a nonce Postbode sends (about 132 bits).
pub const NONCE_LEN: usize = 22;
/// The fewest characters a verifier accepts in a nonce.
pub const MIN_NONCE_LEN: usize = 16;
pub const DEFAULT_MAX_AGE_SECONDS: i64 = 60;
/// How far ahead of the receiver's clock a `Date` may be: clocks drift a little.
pub const DEFAULT_FUTURE_SKEW_SECONDS: i64 = 10;

/// The covered headers, in signing order, with `account_header` standing for
/// `x-postbode-account`.
pub fn covered_headers(account_header: &str) -> Vec<String> {
    [
        "(request-target)",
        "host",
        "date",
        "content-length",
        "content-type",
        &account_header.to_ascii_lowercase(),
        "digest",
        "x-nonce",
    ]
    .iter()
    .map(|name| (*name).to_owned())
    .collect()
}

/// The `Digest` value: `sha-256=<base64 of SHA-256 over the body>`.
pub fn digest_header(body: &[u8]) -> String {
    format!("sha-256={}", digest::sha256_base64(body))
}

/// The account header's value: the configured prefix (default none), then the account id.
pub fn account_value(prefix: &str, account_id: &str) -> String {
    format!("{prefix}{account_id}")
}

/// Checks a `Digest` value (a list of `<algorithm>=<base64>`) against the body: its
/// `sha-256` entry, the algorithm compared case-insensitively, must match.
pub fn check_digest(digest_value: &str, body: &[u8]) -> Result<(), Error> {
    let mut found = None;
    for entry in digest_value.split(',') {
        let Some((algorithm, value)) = entry.trim().split_once('=') else {
            return Err(Error::malformed("digest: an entry without `=`"));
        };
        if algorithm.trim().eq_ignore_ascii_case("sha-256") {
            if found.is_some() {
                return Err(Error::malformed("digest: two sha-256 entries"));
            }
            found = Some(value);
        }
    }
    let value = found.ok_or_else(|| Error::malformed("digest: no sha-256 entry"))?;
    digest::check_sha256(body, value)
}

/// The signing string: for each covered name a line `<name>: <value>`, joined by `\n`.
/// `(request-target)` is `<method in lower case> <path>[?query]`; the pseudo-headers of
/// later drafts take their value from `params`.
pub(crate) fn signing_string(request: &Request, covered: &[String], params: &SignatureParams) -> Result<String, Error> {
    let mut lines = Vec::with_capacity(covered.len());
    for name in covered {
        let value = match name.as_str() {
            "(request-target)" => format!("{} {}", request.method.to_ascii_lowercase(), request.target),
            "(keyid)" => params.key_id.clone(),
            "(algorithm)" => params.algorithm.clone().unwrap_or_else(|| ALGORITHM.to_owned()),
            "(created)" => number_param(params.created, "(created)")?,
            "(expires)" => number_param(params.expires, "(expires)")?,
            pseudo if pseudo.starts_with('(') => {
                return Err(Error::malformed(format!(
                    "signature: unsupported pseudo-header {pseudo}"
                )));
            }
            header => request
                .header(header)
                .ok_or_else(|| Error::MissingHeader(header.to_owned()))?,
        };
        lines.push(format!("{name}: {value}"));
    }
    Ok(lines.join("\n"))
}

fn number_param(value: Option<i64>, name: &str) -> Result<String, Error> {
    value
        .map(|n| n.to_string())
        .ok_or_else(|| Error::malformed(format!("signature: {name} is covered but has no parameter")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_of_the_payloads_md_vector() {
        assert_eq!(
            digest_header(br#"{"hello": "world"}"#),
            "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="
        );
        check_digest(
            "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
            br#"{"hello": "world"}"#,
        )
        .unwrap();
        check_digest(
            "md5=whatever, sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
            br#"{"hello": "world"}"#,
        )
        .unwrap();
        assert_eq!(
            check_digest(
                "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
                br#"{"hello":"world"}"#
            ),
            Err(Error::DigestMismatch)
        );
        assert!(matches!(check_digest("md5=abc", b""), Err(Error::Malformed(_))));
    }

    #[test]
    fn the_signing_string_of_payloads_md() {
        let headers = [("Host", "example.com"), ("Date", " Sun, 05 Jan 2014 21:31:40 GMT ")];
        let request = Request {
            method: "POST",
            target: "/dir/script.php?a=1",
            headers: &headers,
            body: b"",
        };
        let covered = ["(request-target)", "host", "date"].map(String::from);
        let params = SignatureParams::parse(r#"keyId="k",signature="AA==""#).unwrap();
        assert_eq!(
            signing_string(&request, &covered, &params).unwrap(),
            "(request-target): post /dir/script.php?a=1\nhost: example.com\ndate: Sun, 05 Jan 2014 21:31:40 GMT"
        );
        let missing = ["x-nonce".to_owned()];
        assert_eq!(
            signing_string(&request, &missing, &params),
            Err(Error::MissingHeader("x-nonce".into()))
        );
    }
}
