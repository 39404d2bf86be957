//! The request as the schemes see it: no HTTP library, so receivers on any stack can fill it.

/// A request to sign or verify.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// As on the request line, e.g. `POST`.
    pub method: &'a str,
    /// The path and query as on the request line (origin form), e.g. `/hook?a=1`.
    pub target: &'a str,
    /// Every header as received, in order; names in any case.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

impl Request<'_> {
    /// The value of a header for signing: every field of that name, trimmed, joined by
    /// `, ` in order (draft-cavage §2.3, RFC 9421 §2.1). `None` when there is none.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut values = self
            .headers
            .iter()
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim());
        let first = values.next()?;
        Some(values.fold(first.to_owned(), |mut joined, value| {
            joined.push_str(", ");
            joined.push_str(value);
            joined
        }))
    }
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The key that signed, e.g. `pb202605k3q9._domainkey.webhooks.example.com`.
    pub key_id: String,
    pub algorithm: crate::keys::KeyAlgorithm,
    /// The covered headers or components, lower case, in signing order.
    pub covered: Vec<String>,
}
