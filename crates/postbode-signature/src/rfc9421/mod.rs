//! HTTP Message Signatures (RFC 9421) with Ed25519, as in PAYLOADS.md:
//!
//! ```text
//! Content-Digest: sha-256=:<base64>:
//! Signature-Input: sig1=("@method" "@target-uri" "content-digest" "content-type" "x-postbode-account");created=<unix>;keyid="<key id>";alg="ed25519"
//! Signature: sig1=:<base64>:
//! ```
//!
//! The signature base (§2.5) is a line `"<component>": <value>` per covered component,
//! then `"@signature-params": <the inner list with its parameters>`, joined by `\n`.
//! `@target-uri` is rebuilt as `<scheme>://<Host><path and query>`, by the signer and
//! the verifier alike.

mod sign;
mod verify;

pub use sign::{SignedHeaders, Signer};
pub use verify::{Policy, verify};

use crate::sfv::{self, BareItem, Item, Member};
use crate::{Error, Request, digest};

pub const LABEL: &str = "sig1";
pub const ALGORITHM: &str = "ed25519";
pub const DEFAULT_SCHEME: &str = "https";

/// The covered components, in order, with `account_header` standing for `x-postbode-account`.
pub fn covered_components(account_header: &str) -> Vec<String> {
    [
        "@method",
        "@target-uri",
        "content-digest",
        "content-type",
        &account_header.to_ascii_lowercase(),
    ]
    .iter()
    .map(|name| (*name).to_owned())
    .collect()
}

/// The `Content-Digest` value (RFC 9530): `sha-256=:<base64>:`.
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", digest::sha256_base64(body))
}

/// Checks a `Content-Digest` dictionary against the body: its `sha-256` member must match.
pub fn check_content_digest(value: &str, body: &[u8]) -> Result<(), Error> {
    let members = sfv::parse_dictionary(value)?;
    let (_, member) = members
        .iter()
        .find(|(name, _)| name == "sha-256")
        .ok_or_else(|| Error::malformed("content-digest: no sha-256 member"))?;
    let Member::Item(Item {
        bare: BareItem::ByteSequence(received),
        ..
    }) = member
    else {
        return Err(Error::malformed("content-digest: sha-256 is not a byte sequence"));
    };
    aws_lc_rs::constant_time::verify_slices_are_equal(digest::sha256(body).as_ref(), received)
        .map_err(|_| Error::DigestMismatch)
}

/// One member of `Signature-Input`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureInput {
    pub label: String,
    /// Component identifiers, e.g. `@method` or `content-type`, in signing order.
    pub components: Vec<String>,
    pub created: Option<i64>,
    pub expires: Option<i64>,
    pub key_id: Option<String>,
    pub algorithm: Option<String>,
    pub nonce: Option<String>,
    pub tag: Option<String>,
    /// The inner list with its parameters, serialised canonically: the value of
    /// `@signature-params` and of the `Signature-Input` member.
    pub serialized: String,
}

impl SignatureInput {
    /// The input Postbode sends: the components, `created`, `keyid`, `alg`, in that order.
    pub fn new(label: &str, components: &[String], created: i64, key_id: &str) -> Self {
        let items: Vec<Item> = components
            .iter()
            .map(|c| Item {
                bare: BareItem::String(c.clone()),
                params: Vec::new(),
            })
            .collect();
        let params = vec![
            ("created".to_owned(), BareItem::Integer(created)),
            ("keyid".to_owned(), BareItem::String(key_id.to_owned())),
            ("alg".to_owned(), BareItem::String(ALGORITHM.to_owned())),
        ];
        Self {
            label: label.to_owned(),
            components: components.to_vec(),
            created: Some(created),
            expires: None,
            key_id: Some(key_id.to_owned()),
            algorithm: Some(ALGORITHM.to_owned()),
            nonce: None,
            tag: None,
            serialized: sfv::serialize_inner_list(&items, &params),
        }
    }

    /// The `Signature-Input` header value of this one member.
    pub fn to_header_value(&self) -> String {
        format!("{}={}", self.label, self.serialized)
    }
}

/// Parses a `Signature-Input` header: a dictionary of inner lists of component
/// identifiers (strings, no component parameters: Postbode signs none) with parameters.
pub fn parse_signature_input(value: &str) -> Result<Vec<SignatureInput>, Error> {
    sfv::parse_dictionary(value)?
        .into_iter()
        .map(|(label, member)| {
            let Member::InnerList(items, params) = member else {
                return Err(Error::malformed(format!(
                    "signature-input: {label} is not an inner list"
                )));
            };
            let mut components = Vec::with_capacity(items.len());
            for item in &items {
                let BareItem::String(name) = &item.bare else {
                    return Err(Error::malformed("signature-input: a component is not a string"));
                };
                if !item.params.is_empty() {
                    return Err(Error::malformed(
                        "signature-input: component parameters are not supported",
                    ));
                }
                if name.is_empty() || name.bytes().any(|b| b.is_ascii_uppercase()) {
                    return Err(Error::malformed(
                        "signature-input: a component name is empty or not lower case",
                    ));
                }
                if components.contains(name) {
                    return Err(Error::malformed(format!("signature-input: {name} is covered twice")));
                }
                components.push(name.clone());
            }
            let mut input = SignatureInput {
                label,
                components,
                created: None,
                expires: None,
                key_id: None,
                algorithm: None,
                nonce: None,
                tag: None,
                serialized: sfv::serialize_inner_list(&items, &params),
            };
            for (name, value) in params {
                match (name.as_str(), value) {
                    ("created", BareItem::Integer(n)) => input.created = Some(n),
                    ("expires", BareItem::Integer(n)) => input.expires = Some(n),
                    ("keyid", BareItem::String(s)) => input.key_id = Some(s),
                    ("alg", BareItem::String(s)) => input.algorithm = Some(s),
                    ("nonce", BareItem::String(s)) => input.nonce = Some(s),
                    ("tag", BareItem::String(s)) => input.tag = Some(s),
                    ("created" | "expires" | "keyid" | "alg" | "nonce" | "tag", _) => {
                        return Err(Error::malformed(format!("signature-input: {name} has the wrong type")));
                    }
                    // Unknown parameters are still signed, through `serialized`.
                    _ => {}
                }
            }
            Ok(input)
        })
        .collect()
}

/// Parses a `Signature` header: a dictionary of byte sequences, by label.
pub fn parse_signature(value: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
    sfv::parse_dictionary(value)?
        .into_iter()
        .map(|(label, member)| match member {
            Member::Item(Item {
                bare: BareItem::ByteSequence(bytes),
                ..
            }) => Ok((label, bytes)),
            _ => Err(Error::malformed(format!("signature: {label} is not a byte sequence"))),
        })
        .collect()
}

/// The signature base of §2.5 for `input` over `request`, reached at `scheme`.
pub fn signature_base(request: &Request, scheme: &str, input: &SignatureInput) -> Result<String, Error> {
    let mut base = String::new();
    for name in &input.components {
        let value = component_value(request, scheme, name)?;
        if value.contains('\n') || value.contains('\r') {
            return Err(Error::malformed(format!("{name}: a line break in the value")));
        }
        base.push_str(&format!("\"{name}\": {value}\n"));
    }
    base.push_str(&format!("\"@signature-params\": {}", input.serialized));
    Ok(base)
}

fn component_value(request: &Request, scheme: &str, name: &str) -> Result<String, Error> {
    let (path, query) = match request.target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (request.target, None),
    };
    let host = || {
        request
            .header("host")
            .ok_or_else(|| Error::MissingHeader("host".into()))
    };
    Ok(match name {
        "@method" => request.method.to_owned(),
        "@target-uri" => format!("{}://{}{}", scheme.to_ascii_lowercase(), host()?, request.target),
        "@authority" => host()?.to_ascii_lowercase(),
        "@scheme" => scheme.to_ascii_lowercase(),
        "@request-target" => request.target.to_owned(),
        "@path" => path.to_owned(),
        "@query" => format!("?{}", query.unwrap_or_default()),
        derived if derived.starts_with('@') => {
            return Err(Error::malformed(format!(
                "signature-input: unsupported component {derived}"
            )));
        }
        header => request
            .header(header)
            .ok_or_else(|| Error::MissingHeader(header.to_owned()))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Ed25519Key, KeyAlgorithm, PublicKey};
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    // RFC 9421 Appendix B.1.4 (test-key-ed25519) and B.2.6 (its signature over B.2's request).
    const RFC_PRIVATE_KEY: &str = "MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF";
    const RFC_PUBLIC_KEY: &str = "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=";

    #[test]
    fn reproduces_the_ed25519_example_of_rfc_9421() {
        let headers = [
            ("Host", "example.com"),
            ("Date", "Tue, 20 Apr 2021 02:07:55 GMT"),
            ("Content-Type", "application/json"),
            (
                "Content-Digest",
                "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
            ),
            ("Content-Length", "18"),
        ];
        let request = Request {
            method: "POST",
            target: "/foo?param=Value&Pet=dog",
            headers: &headers,
            body: br#"{"hello": "world"}"#,
        };
        let inputs = parse_signature_input(
            r#"sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519""#,
        )
        .unwrap();
        let base = signature_base(&request, "https", &inputs[0]).unwrap();
        assert_eq!(
            base,
            "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n\"@method\": POST\n\"@path\": /foo\n\"@authority\": example.com\n\
             \"content-type\": application/json\n\"content-length\": 18\n\"@signature-params\": (\"date\" \"@method\" \
             \"@path\" \"@authority\" \"content-type\" \"content-length\");created=1618884473;keyid=\"test-key-ed25519\""
        );
        let key = Ed25519Key::from_pkcs8(&STANDARD.decode(RFC_PRIVATE_KEY).unwrap()).unwrap();
        let expected = parse_signature(
            "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:",
        )
        .unwrap();
        assert_eq!(key.sign(base.as_bytes()), expected[0].1);
        let public = PublicKey::from_der(KeyAlgorithm::Ed25519, &STANDARD.decode(RFC_PUBLIC_KEY).unwrap()).unwrap();
        assert_eq!(public, key.public_key().unwrap());
    }

    #[test]
    fn postbode_s_input_has_the_exact_form_of_payloads_md() {
        let input = SignatureInput::new(LABEL, &covered_components("X-Postbode-Account"), 1_700_000_000, "k1");
        assert_eq!(
            input.to_header_value(),
            r#"sig1=("@method" "@target-uri" "content-digest" "content-type" "x-postbode-account");created=1700000000;keyid="k1";alg="ed25519""#
        );
        assert_eq!(parse_signature_input(&input.to_header_value()).unwrap(), vec![input]);
    }

    #[test]
    fn content_digest_matches_the_payloads_md_vector() {
        let body = br#"{"hello": "world"}"#;
        assert_eq!(
            content_digest(body),
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
        );
        check_content_digest(&content_digest(body), body).unwrap();
        assert_eq!(
            check_content_digest(&content_digest(b"x"), body),
            Err(Error::DigestMismatch)
        );
        assert!(matches!(
            check_content_digest("sha-512=:AA==:", body),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn refuses_inputs_it_cannot_sign_faithfully() {
        for bad in [
            r#"sig1="x""#,
            r#"sig1=(@method)"#,
            r#"sig1=("content-type";sf)"#,
            r#"sig1=("Content-Type")"#,
            r#"sig1=("date" "date")"#,
            r#"sig1=("date");created="now""#,
        ] {
            assert!(matches!(parse_signature_input(bad), Err(Error::Malformed(_))), "{bad}");
        }
    }
}
