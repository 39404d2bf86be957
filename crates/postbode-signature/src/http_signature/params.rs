//! The `Signature` header's parameters: parsed robustly (quoted strings with escapes or
//! bare tokens, any order, white space around commas, unknown parameters ignored) but
//! never ambiguously (a repeated parameter refuses the header).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::Error;

/// Longer headers are refused before parsing: a real one is well under 1 KiB.
const MAX_LEN: usize = 8 * 1024;
const MAX_COVERED: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureParams {
    pub key_id: String,
    /// `None` when the header has no `algorithm` (draft-cavage then lets the key decide).
    pub algorithm: Option<String>,
    /// Covered header names in lower case, in signing order; `["date"]` when the header
    /// has no `headers` parameter, as draft-cavage says.
    pub headers: Vec<String>,
    pub signature: Vec<u8>,
    pub created: Option<i64>,
    pub expires: Option<i64>,
}

impl SignatureParams {
    /// Parses a `Signature` header value. A leading `Signature ` auth-scheme (the
    /// `Authorization: Signature ...` form) is accepted too.
    pub fn parse(value: &str) -> Result<Self, Error> {
        if value.len() > MAX_LEN {
            return Err(Error::malformed("signature header: too long"));
        }
        let mut text = value.trim();
        if text.len() > 10 && text.is_char_boundary(10) && text[..10].eq_ignore_ascii_case("signature ") {
            text = text[10..].trim_start();
        }
        let pairs = parse_pairs(text)?;
        let get = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());

        let key_id = get("keyid").ok_or_else(|| Error::malformed("signature header: no keyId"))?;
        let signature = get("signature").ok_or_else(|| Error::malformed("signature header: no signature"))?;
        let signature = STANDARD
            .decode(signature)
            .map_err(|_| Error::malformed("signature header: signature is not base64"))?;
        let headers = match get("headers") {
            None => vec!["date".to_owned()],
            Some(list) => {
                let names: Vec<String> = list.split_ascii_whitespace().map(str::to_ascii_lowercase).collect();
                if names.is_empty() {
                    return Err(Error::malformed("signature header: headers is empty"));
                }
                if names.len() > MAX_COVERED {
                    return Err(Error::malformed("signature header: too many headers"));
                }
                names
            }
        };
        let number = |name: &str| -> Result<Option<i64>, Error> {
            get(name)
                .map(|v| {
                    v.parse()
                        .map_err(|_| Error::malformed(format!("signature header: {name} is not a number")))
                })
                .transpose()
        };
        Ok(Self {
            key_id: key_id.to_owned(),
            algorithm: get("algorithm").map(str::to_owned),
            headers,
            signature,
            created: number("created")?,
            expires: number("expires")?,
        })
    }

    /// The header value Postbode sends: one line, `name="value"` joined by commas without
    /// spaces, in the order keyId, algorithm, (created, expires,) headers, signature.
    pub fn to_header_value(&self) -> String {
        let mut parts = vec![format!("keyId={}", quote(&self.key_id))];
        if let Some(algorithm) = &self.algorithm {
            parts.push(format!("algorithm={}", quote(algorithm)));
        }
        if let Some(created) = self.created {
            parts.push(format!("created={created}"));
        }
        if let Some(expires) = self.expires {
            parts.push(format!("expires={expires}"));
        }
        parts.push(format!("headers={}", quote(&self.headers.join(" "))));
        parts.push(format!("signature=\"{}\"", STANDARD.encode(&self.signature)));
        parts.join(",")
    }
}

/// `name=value` pairs separated by commas; names lower-cased (auth-params are
/// case-insensitive, RFC 9110 §11.2), values unquoted.
fn parse_pairs(text: &str) -> Result<Vec<(String, String)>, Error> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    let mut pairs: Vec<(String, String)> = Vec::new();
    let skip_ows = |pos: &mut usize| {
        while matches!(bytes.get(*pos), Some(b' ' | b'\t')) {
            *pos += 1;
        }
    };
    loop {
        // Empty list elements (`a="1",,b="2"`) are allowed by the list syntax of RFC 9110 §5.6.1.
        while matches!(bytes.get(pos), Some(b' ' | b'\t' | b',')) {
            pos += 1;
        }
        if pos >= bytes.len() {
            break;
        }
        let start = pos;
        while bytes.get(pos).is_some_and(|b| is_tchar(*b)) {
            pos += 1;
        }
        if pos == start {
            return Err(Error::malformed("signature header: expected a parameter name"));
        }
        let name = text[start..pos].to_ascii_lowercase();
        skip_ows(&mut pos);
        if bytes.get(pos) != Some(&b'=') {
            return Err(Error::malformed(format!("signature header: {name} has no value")));
        }
        pos += 1;
        skip_ows(&mut pos);
        let value = if bytes.get(pos) == Some(&b'"') {
            quoted_string(bytes, &mut pos)?
        } else {
            let start = pos;
            while bytes.get(pos).is_some_and(|b| is_tchar(*b) || *b == b'/' || *b == b'=') {
                pos += 1;
            }
            if pos == start {
                return Err(Error::malformed(format!("signature header: {name} has no value")));
            }
            text[start..pos].to_owned()
        };
        if pairs.iter().any(|(n, _)| *n == name) {
            return Err(Error::malformed(format!("signature header: {name} appears twice")));
        }
        pairs.push((name, value));
        skip_ows(&mut pos);
        match bytes.get(pos) {
            None => break,
            Some(b',') => {}
            Some(_) => return Err(Error::malformed("signature header: expected a comma")),
        }
    }
    Ok(pairs)
}

/// A quoted-string (RFC 9110 §5.6.4) starting at `pos`; leaves `pos` after the closing quote.
fn quoted_string(bytes: &[u8], pos: &mut usize) -> Result<String, Error> {
    *pos += 1;
    let mut out = Vec::new();
    loop {
        match bytes.get(*pos) {
            None => return Err(Error::malformed("signature header: unterminated quoted string")),
            Some(b'"') => {
                *pos += 1;
                break;
            }
            Some(b'\\') => {
                let escaped = bytes
                    .get(*pos + 1)
                    .ok_or_else(|| Error::malformed("signature header: unterminated quoted string"))?;
                if escaped.is_ascii_control() && *escaped != b'\t' {
                    return Err(Error::malformed("signature header: control character"));
                }
                out.push(*escaped);
                *pos += 2;
            }
            Some(byte) if byte.is_ascii_control() && *byte != b'\t' => {
                return Err(Error::malformed("signature header: control character"));
            }
            Some(byte) => {
                out.push(*byte);
                *pos += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| Error::malformed("signature header: not UTF-8"))
}

/// A quoted-string; escapes only what must be (Postbode's own values never need it).
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"keyId="pb202605abcd._domainkey.w.example",algorithm="rsa-sha256",headers="(request-target) host date",signature="AQID""#;

    #[test]
    fn parses_postbode_s_header_and_writes_it_back_the_same() {
        let params = SignatureParams::parse(HEADER).unwrap();
        assert_eq!(params.key_id, "pb202605abcd._domainkey.w.example");
        assert_eq!(params.algorithm.as_deref(), Some("rsa-sha256"));
        assert_eq!(params.headers, ["(request-target)", "host", "date"]);
        assert_eq!(params.signature, [1, 2, 3]);
        assert_eq!(params.to_header_value(), HEADER);
    }

    #[test]
    fn accepts_any_order_spacing_case_escapes_unknown_params_and_the_auth_scheme() {
        let text = r#"Signature  signature = "AQID" , HEADERS="Date Digest", opaque="x\"y",created=12 ,keyid="a\\b""#;
        let params = SignatureParams::parse(text).unwrap();
        assert_eq!(params.key_id, r"a\b");
        assert_eq!(params.headers, ["date", "digest"]);
        assert_eq!(params.created, Some(12));
        assert_eq!(params.algorithm, None);
        let bare = SignatureParams::parse(r#"keyId="k",signature="AQID""#).unwrap();
        assert_eq!(bare.headers, ["date"]);
    }

    #[test]
    fn refuses_duplicates_and_broken_syntax() {
        for bad in [
            r#"keyId="a",keyid="b",signature="AQID""#,
            r#"keyId="a",signature="AQID",signature="AQID""#,
            r#"keyId="a" signature="AQID""#,
            r#"keyId="a,signature="AQID""#,
            r#"keyId=,signature="AQID""#,
            r#"keyId"a",signature="AQID""#,
            r#"signature="AQID""#,
            r#"keyId="a""#,
            r#"keyId="a",signature="not base64!""#,
            r#"keyId="a",signature="AQID",headers="""#,
            r#"keyId="a",signature="AQID",created="soon""#,
            "keyId=\"a\u{7}\",signature=\"AQID\"",
            "keyId=\"a\\\u{2}\",signature=\"AQID\"",
            "",
        ] {
            assert!(matches!(SignatureParams::parse(bad), Err(Error::Malformed(_))), "{bad}");
        }
    }
}
