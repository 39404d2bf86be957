//! The part of Structured Field Values (RFC 8941) that RFC 9421 headers use: dictionaries
//! of items and inner lists with parameters, parsed strictly and serialised canonically
//! (the signature base carries the re-serialised `@signature-params`).
//!
//! Stricter than RFC 8941 in one way: a duplicate dictionary key or parameter is refused
//! rather than overwritten, since two readings of one signature are an attack surface.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::Error;

/// Headers longer than this are refused before parsing.
const MAX_LEN: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BareItem {
    Integer(i64),
    /// Thousandths: RFC 8941 decimals have at most three fractional digits.
    Decimal(i64),
    String(String),
    Token(String),
    ByteSequence(Vec<u8>),
    Boolean(bool),
}

pub(crate) type Parameters = Vec<(String, BareItem)>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub bare: BareItem,
    pub params: Parameters,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Member {
    Item(Item),
    InnerList(Vec<Item>, Parameters),
}

pub(crate) type Dictionary = Vec<(String, Member)>;

pub(crate) fn parse_dictionary(input: &str) -> Result<Dictionary, Error> {
    if input.len() > MAX_LEN {
        return Err(Error::malformed("structured field: too long"));
    }
    let mut parser = Parser {
        bytes: input.trim_matches(' ').as_bytes(),
        pos: 0,
    };
    let mut members: Dictionary = Vec::new();
    if parser.at_end() {
        return Ok(members);
    }
    loop {
        let key = parser.key()?;
        let member = if parser.eat(b'=') {
            parser.member()?
        } else {
            Member::Item(Item {
                bare: BareItem::Boolean(true),
                params: parser.parameters()?,
            })
        };
        if members.iter().any(|(k, _)| *k == key) {
            return Err(Error::malformed(format!("structured field: duplicate key {key}")));
        }
        members.push((key, member));
        parser.skip_ows();
        if parser.at_end() {
            return Ok(members);
        }
        if !parser.eat(b',') {
            return Err(Error::malformed("structured field: expected a comma"));
        }
        parser.skip_ows();
        if parser.at_end() {
            return Err(Error::malformed("structured field: trailing comma"));
        }
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.pos += 1;
        }
        // Every caller keeps ASCII bytes only, so this slice is valid UTF-8.
        std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or_default()
    }

    fn key(&mut self) -> Result<String, Error> {
        match self.peek() {
            Some(b'a'..=b'z' | b'*') => {}
            _ => return Err(Error::malformed("structured field: a key must start with a-z or *")),
        }
        Ok(self
            .take_while(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*'))
            .to_owned())
    }

    fn member(&mut self) -> Result<Member, Error> {
        if self.peek() == Some(b'(') {
            self.inner_list()
        } else {
            Ok(Member::Item(self.item()?))
        }
    }

    fn inner_list(&mut self) -> Result<Member, Error> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_sp();
            if self.eat(b')') {
                return Ok(Member::InnerList(items, self.parameters()?));
            }
            items.push(self.item()?);
            match self.peek() {
                Some(b' ' | b')') => {}
                _ => return Err(Error::malformed("structured field: bad inner list")),
            }
        }
    }

    fn item(&mut self) -> Result<Item, Error> {
        let bare = self.bare_item()?;
        Ok(Item {
            bare,
            params: self.parameters()?,
        })
    }

    fn parameters(&mut self) -> Result<Parameters, Error> {
        let mut params: Parameters = Vec::new();
        while self.eat(b';') {
            self.skip_sp();
            let key = self.key()?;
            let value = if self.eat(b'=') {
                self.bare_item()?
            } else {
                BareItem::Boolean(true)
            };
            if params.iter().any(|(k, _)| *k == key) {
                return Err(Error::malformed(format!("structured field: duplicate parameter {key}")));
            }
            params.push((key, value));
        }
        Ok(params)
    }

    fn bare_item(&mut self) -> Result<BareItem, Error> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'"') => self.string(),
            Some(b':') => self.byte_sequence(),
            Some(b'?') => self.boolean(),
            Some(b) if b == b'*' || b.is_ascii_alphabetic() => Ok(BareItem::Token(
                self.take_while(|b| is_tchar(b) || b == b':' || b == b'/').to_owned(),
            )),
            _ => Err(Error::malformed("structured field: not an item")),
        }
    }

    fn number(&mut self) -> Result<BareItem, Error> {
        let negative = self.eat(b'-');
        let integer = self.take_while(|b| b.is_ascii_digit()).to_owned();
        if integer.is_empty() {
            return Err(Error::malformed("structured field: a number needs digits"));
        }
        let sign = if negative { -1 } else { 1 };
        if !self.eat(b'.') {
            if integer.len() > 15 {
                return Err(Error::malformed("structured field: integer too long"));
            }
            let value: i64 = integer
                .parse()
                .map_err(|_| Error::malformed("structured field: bad integer"))?;
            return Ok(BareItem::Integer(sign * value));
        }
        let fraction = self.take_while(|b| b.is_ascii_digit()).to_owned();
        if integer.len() > 12 || fraction.is_empty() || fraction.len() > 3 {
            return Err(Error::malformed("structured field: bad decimal"));
        }
        let padded = format!("{integer}{fraction:0<3}");
        let thousandths: i64 = padded
            .parse()
            .map_err(|_| Error::malformed("structured field: bad decimal"))?;
        Ok(BareItem::Decimal(sign * thousandths))
    }

    fn string(&mut self) -> Result<BareItem, Error> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(Error::malformed("structured field: unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(BareItem::String(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => out.push(char::from(c)),
                        _ => return Err(Error::malformed("structured field: bad escape")),
                    }
                    self.pos += 1;
                }
                Some(c @ 0x20..=0x7e) => {
                    out.push(char::from(c));
                    self.pos += 1;
                }
                Some(_) => return Err(Error::malformed("structured field: bad character in string")),
            }
        }
    }

    fn byte_sequence(&mut self) -> Result<BareItem, Error> {
        self.pos += 1;
        let encoded = self
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
            .to_owned();
        if !self.eat(b':') {
            return Err(Error::malformed("structured field: unterminated byte sequence"));
        }
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| Error::malformed("structured field: byte sequence is not base64"))?;
        Ok(BareItem::ByteSequence(bytes))
    }

    fn boolean(&mut self) -> Result<BareItem, Error> {
        self.pos += 1;
        let value = match self.peek() {
            Some(b'0') => false,
            Some(b'1') => true,
            _ => return Err(Error::malformed("structured field: bad boolean")),
        };
        self.pos += 1;
        Ok(BareItem::Boolean(value))
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub(crate) fn serialize_inner_list(items: &[Item], params: &[(String, BareItem)]) -> String {
    let mut out = String::from("(");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        serialize_bare(&item.bare, &mut out);
        serialize_params(&item.params, &mut out);
    }
    out.push(')');
    serialize_params(params, &mut out);
    out
}

fn serialize_params(params: &[(String, BareItem)], out: &mut String) {
    for (key, value) in params {
        out.push(';');
        out.push_str(key);
        if *value != BareItem::Boolean(true) {
            out.push('=');
            serialize_bare(value, out);
        }
    }
}

fn serialize_bare(item: &BareItem, out: &mut String) {
    match item {
        BareItem::Integer(n) => out.push_str(&n.to_string()),
        BareItem::Decimal(thousandths) => {
            let sign = if *thousandths < 0 { "-" } else { "" };
            let abs = thousandths.unsigned_abs();
            let fraction = format!("{:03}", abs % 1000);
            let fraction = fraction.trim_end_matches('0');
            let fraction = if fraction.is_empty() { "0" } else { fraction };
            out.push_str(&format!("{sign}{}.{fraction}", abs / 1000));
        }
        BareItem::String(s) => {
            out.push('"');
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
        BareItem::Token(t) => out.push_str(t),
        BareItem::ByteSequence(bytes) => {
            out.push(':');
            out.push_str(&STANDARD.encode(bytes));
            out.push(':');
        }
        BareItem::Boolean(b) => out.push_str(if *b { "?1" } else { "?0" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_reserialises_the_rfc_9421_example_input() {
        let input = r#"sig1=("@method" "@authority" "@path" "content-digest" "content-length" "content-type");created=1618884473;keyid="test-key-rsa-pss""#;
        let dict = parse_dictionary(input).unwrap();
        assert_eq!(dict.len(), 1);
        let (label, Member::InnerList(items, params)) = &dict[0] else {
            panic!("not an inner list");
        };
        assert_eq!(label, "sig1");
        assert_eq!(items.len(), 6);
        assert_eq!(params[0], ("created".into(), BareItem::Integer(1618884473)));
        assert_eq!(
            serialize_inner_list(items, params),
            input.strip_prefix("sig1=").unwrap()
        );
    }

    #[test]
    fn reads_every_kind_of_bare_item() {
        let dict = parse_dictionary(r#"a=1, b=-2.50, c="x\"y", d=tok/en, e=:AQI=:, f=?0, g, h;p=1"#).unwrap();
        let bare = |i: usize| match &dict[i].1 {
            Member::Item(item) => item.bare.clone(),
            Member::InnerList(..) => panic!("inner list"),
        };
        assert_eq!(bare(0), BareItem::Integer(1));
        assert_eq!(bare(1), BareItem::Decimal(-2500));
        assert_eq!(bare(2), BareItem::String("x\"y".into()));
        assert_eq!(bare(3), BareItem::Token("tok/en".into()));
        assert_eq!(bare(4), BareItem::ByteSequence(vec![1, 2]));
        assert_eq!(bare(5), BareItem::Boolean(false));
        assert_eq!(bare(6), BareItem::Boolean(true));
        let mut out = String::new();
        serialize_bare(&bare(1), &mut out);
        assert_eq!(out, "-2.5");
    }

    #[test]
    fn refuses_broken_and_ambiguous_input() {
        for bad in [
            "a=1,",
            "a=1 b=2",
            "A=1",
            "a=(1 2",
            "a=(1)(2)",
            r#"a="unterminated"#,
            "a=:not base64!:",
            "a=1, a=2",
            "a=(1);p=1;p=2",
            "a=1.2345",
            "a=1234567890123456",
            "a=?2",
        ] {
            assert!(parse_dictionary(bad).is_err(), "{bad} was accepted");
        }
    }
}
