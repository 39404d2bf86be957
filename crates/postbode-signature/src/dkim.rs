//! Publishing public keys in DNS as DKIM key records (RFC 6376 §3.6.1), the way the suite
//! did: a TXT record at `<selector>._domainkey.<key domain>`, which is also the `keyId`.
//!
//! Selectors are `pb<yyyymm><4 random lower-case letters or digits>` (e.g. `pb202605k3q9`):
//! the month tells an operator at a glance how old a key is, the random part keeps two
//! rotations in one month apart, and the whole is a valid DNS label.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::keys::{KeyAlgorithm, PublicKey};
use crate::{Error, random, time};

/// What separates the selector from the key domain in a key id.
pub const DOMAINKEY: &str = "._domainkey.";
/// The longest character-string a TXT record holds.
pub const TXT_STRING_MAX: usize = 255;
/// DKIM records are short; anything longer is refused before parsing.
const MAX_RECORD_LEN: usize = 8 * 1024;

/// A selector for a key created at `now` (Unix seconds).
pub fn new_selector(now: i64) -> Result<String, Error> {
    let (year, month) = time::year_month(now);
    let suffix = random::string(random::LOWER_ALNUM, 4)?;
    Ok(format!("pb{year:04}{month:02}{suffix}"))
}

/// The key id, which is also the TXT record's name: `<selector>._domainkey.<domain>`.
pub fn key_id(selector: &str, domain: &str) -> String {
    format!("{selector}{DOMAINKEY}{}", domain.trim_end_matches('.'))
}

/// `(selector, domain)` of a key id, or `None` when it is not of the DKIM form.
pub fn split_key_id(key_id: &str) -> Option<(&str, &str)> {
    let lower = key_id.to_ascii_lowercase();
    let at = lower.find(DOMAINKEY)?;
    let (selector, domain) = (&key_id[..at], &key_id[at + DOMAINKEY.len()..]);
    if selector.is_empty() || domain.is_empty() {
        return None;
    }
    Some((selector, domain))
}

/// Whether `key_id` names a key published under `trusted_domain` itself (not a
/// subdomain, not a look-alike); domain names compare case-insensitively.
pub fn is_under_domain(key_id: &str, trusted_domain: &str) -> bool {
    split_key_id(key_id).is_some_and(|(_, domain)| {
        domain
            .trim_end_matches('.')
            .eq_ignore_ascii_case(trusted_domain.trim_end_matches('.'))
    })
}

/// The TXT text: `v=DKIM1;k=rsa;p=<base64>`, without spaces (the suite's verifier does not trim).
pub fn record(key: &PublicKey) -> String {
    format!(
        "v=DKIM1;k={};p={}",
        key.algorithm().dkim_name(),
        STANDARD.encode(key.dkim_key_bytes())
    )
}

/// The text cut into pieces of at most 255 characters, as a TXT record holds it.
pub fn split_txt(text: &str) -> Vec<&str> {
    // DKIM text is ASCII, but cut on character boundaries anyway so no input can panic.
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(TXT_STRING_MAX);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, tail) = rest.split_at(end);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// The zone-file form: quoted strings of at most 255 characters, separated by a space,
/// e.g. `"v=DKIM1;k=rsa;p=MIIB…" "…IDAQAB"`.
pub fn zone_text(text: &str) -> String {
    split_txt(text)
        .iter()
        .map(|piece| {
            let escaped = piece.replace('\\', "\\\\").replace('"', "\\\"");
            format!("\"{escaped}\"")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A parsed DKIM key record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DkimRecord {
    Key(PublicKey),
    /// An empty `p=`: the key was revoked (RFC 6376 §3.6.1).
    Revoked(KeyAlgorithm),
}

/// Parses the text of a TXT record: plain (`v=DKIM1; k=rsa; p=...`), or as a zone file or
/// `dig` shows it, split into quoted strings (`"v=DKIM1;k=rsa;p=MIIB" "IjAN..."`), with
/// white space anywhere tags allow it. `k=` defaults to `rsa`; `p=` is required.
pub fn parse_record(text: &str) -> Result<DkimRecord, Error> {
    if text.len() > MAX_RECORD_LEN {
        return Err(Error::malformed("DKIM record: too long"));
    }
    let text = unquote(text)?;
    let mut version = None;
    let mut algorithm = None;
    let mut key = None;
    let mut seen: Vec<&str> = Vec::new();
    for tag in text.split(';') {
        let tag = tag.trim_matches(is_fws);
        if tag.is_empty() {
            continue;
        }
        let (name, value) = tag
            .split_once('=')
            .ok_or_else(|| Error::malformed("DKIM record: a tag without `=`"))?;
        let name = name.trim_matches(is_fws);
        let value = value.trim_matches(is_fws);
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(Error::malformed("DKIM record: bad tag name"));
        }
        if seen.contains(&name) {
            return Err(Error::malformed(format!("DKIM record: duplicate tag {name}")));
        }
        seen.push(name);
        match name {
            "v" if seen.len() == 1 => version = Some(value),
            "v" => return Err(Error::malformed("DKIM record: v= must come first")),
            "k" => algorithm = Some(value),
            "p" => key = Some(value),
            // h=, s=, t=, n= and tags of later specifications do not change the key.
            _ => {}
        }
    }
    if version.is_some_and(|v| v != "DKIM1") {
        return Err(Error::malformed("DKIM record: v= is not DKIM1"));
    }
    let algorithm = match algorithm {
        None => KeyAlgorithm::Rsa,
        Some(name) => KeyAlgorithm::from_dkim_name(name)
            .ok_or_else(|| Error::malformed(format!("DKIM record: unknown key type k={name}")))?,
    };
    let key = key.ok_or_else(|| Error::malformed("DKIM record: no p= tag"))?;
    // base64 in a tag value may be broken by folding white space (RFC 6376 §3.2).
    let encoded: String = key.chars().filter(|c| !is_fws(*c)).collect();
    if encoded.is_empty() {
        return Ok(DkimRecord::Revoked(algorithm));
    }
    let der = STANDARD
        .decode(encoded)
        .map_err(|_| Error::malformed("DKIM record: p= is not base64"))?;
    Ok(DkimRecord::Key(PublicKey::from_der(algorithm, &der)?))
}

fn is_fws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Joins quoted character-strings (`"a" "b"`, optionally in zone-file parentheses) into
/// one text; returns unquoted text as it is.
fn unquote(text: &str) -> Result<String, Error> {
    let trimmed = text.trim_matches(is_fws);
    let inner = match trimmed.strip_prefix('(') {
        Some(rest) => rest
            .strip_suffix(')')
            .ok_or_else(|| Error::malformed("DKIM record: unbalanced parenthesis"))?
            .trim_matches(is_fws),
        None => trimmed,
    };
    if !inner.starts_with('"') {
        return Ok(inner.to_owned());
    }
    let mut out = Vec::with_capacity(inner.len());
    let mut chars = inner.bytes();
    loop {
        match chars.next() {
            None => break,
            Some(b' ' | b'\t' | b'\r' | b'\n') => continue,
            Some(b'"') => {}
            Some(_) => return Err(Error::malformed("DKIM record: text between quoted strings")),
        }
        loop {
            match chars.next() {
                None => return Err(Error::malformed("DKIM record: unterminated quoted string")),
                Some(b'"') => break,
                Some(b'\\') => out.push(unescape(&mut chars)?),
                Some(byte) => out.push(byte),
            }
        }
    }
    String::from_utf8(out).map_err(|_| Error::malformed("DKIM record: not UTF-8"))
}

/// A zone-file escape after `\`: `\DDD` (a decimal byte) or `\X` (X itself).
fn unescape(chars: &mut std::str::Bytes<'_>) -> Result<u8, Error> {
    let bad = || Error::malformed("DKIM record: bad escape");
    let first = chars.next().ok_or_else(bad)?;
    if !first.is_ascii_digit() {
        return Ok(first);
    }
    let mut value = u32::from(first - b'0');
    for _ in 0..2 {
        let digit = chars.next().filter(u8::is_ascii_digit).ok_or_else(bad)?;
        value = value * 10 + u32::from(digit - b'0');
    }
    u8::try_from(value).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::RsaKey;

    #[test]
    fn an_rsa_record_round_trips_through_the_zone_file_form() {
        let key = RsaKey::generate().unwrap().public_key().unwrap();
        let text = record(&key);
        assert!(text.starts_with("v=DKIM1;k=rsa;p=MII"));
        assert!(!text.contains(' '));
        assert!(text.len() > TXT_STRING_MAX, "a 2048-bit key needs several strings");
        let pieces = split_txt(&text);
        assert!(pieces.len() >= 2);
        assert!(pieces.iter().all(|p| p.len() <= TXT_STRING_MAX));
        assert_eq!(pieces.concat(), text);
        let zone = zone_text(&text);
        assert_eq!(zone.matches('"').count(), 2 * pieces.len());
        assert_eq!(parse_record(&text).unwrap(), DkimRecord::Key(key.clone()));
        assert_eq!(parse_record(&zone).unwrap(), DkimRecord::Key(key.clone()));
        assert_eq!(parse_record(&format!("( {zone} )")).unwrap(), DkimRecord::Key(key));
    }

    #[test]
    fn parsing_tolerates_white_space_defaults_and_revocation() {
        let key = crate::keys::Ed25519Key::generate().unwrap().public_key().unwrap();
        let encoded = STANDARD.encode(key.dkim_key_bytes());
        let (head, tail) = encoded.split_at(10);
        let text = format!(" v = DKIM1 ;\tk=ed25519; h=sha256; p={head}\r\n {tail} ;");
        assert_eq!(parse_record(&text).unwrap(), DkimRecord::Key(key));
        assert_eq!(
            parse_record("v=DKIM1; p=").unwrap(),
            DkimRecord::Revoked(KeyAlgorithm::Rsa)
        );
        assert_eq!(
            parse_record(r#""v=DKIM1;" "p=""#).unwrap(),
            DkimRecord::Revoked(KeyAlgorithm::Rsa)
        );
    }

    #[test]
    fn parsing_refuses_what_is_not_a_key_record() {
        for bad in [
            "v=DKIM1",
            "v=DKIM2;p=",
            "k=rsa;v=DKIM1;p=",
            "k=dsa;p=",
            "p=;p=",
            "p=!!!",
            "p=AAAA",
            "garbage",
            "\"v=DKIM1;p=",
            "\"v=DKIM1;\" x \"p=\"",
            "( \"p=\"",
        ] {
            assert!(
                matches!(parse_record(bad), Err(Error::Malformed(_) | Error::InvalidKey(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn selectors_and_key_ids() {
        let selector = new_selector(1_780_271_999).unwrap();
        assert_eq!(selector.len(), 12);
        assert!(selector.starts_with("pb202605"));
        let id = key_id(&selector, "webhooks.example.com.");
        assert_eq!(id, format!("{selector}._domainkey.webhooks.example.com"));
        assert_eq!(split_key_id(&id), Some((selector.as_str(), "webhooks.example.com")));
        assert!(is_under_domain(&id, "Webhooks.Example.com"));
        assert!(!is_under_domain(&id, "example.com"));
        assert!(!is_under_domain(
            "pb1._domainkey.evil-webhooks.example.com",
            "webhooks.example.com"
        ));
        assert!(!is_under_domain("webhooks.example.com", "webhooks.example.com"));
        assert_eq!(split_key_id("._domainkey.example.com"), None);
    }
}
