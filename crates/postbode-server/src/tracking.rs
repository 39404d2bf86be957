//! Tracking tokens: the last part of an open pixel or click URL. Each carries an
//! HMAC-SHA256 tag (truncated to 128 bits) under a key derived from the master key, so
//! nobody can make an open for a message id they guessed, and a click token is bound to
//! its destination: changing the URL inside it breaks the tag, so the redirect can
//! never be turned into an open redirect.
//!
//! - open: `<message id>.<tag>`
//! - click: `<message id>.<base64url of the destination>.<tag>`

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use postbode_signature::sealed::MasterKey;

const TAG_LEN: usize = 16;
/// Destinations longer than this are refused when a link is made.
pub const MAX_URL_LEN: usize = 4096;

pub struct TrackingKey {
    key: hmac::Key,
}

impl std::fmt::Debug for TrackingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TrackingKey(..)")
    }
}

impl TrackingKey {
    pub fn new(master: &MasterKey) -> Result<Self, postbode_signature::Error> {
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &master.derive("tracking")?),
        })
    }

    /// The tag of a message's open or of one of its clicks; the kind byte keeps an open
    /// tag from being reused as a click tag.
    fn tag(&self, kind: u8, message_id: &str, url: Option<&str>) -> [u8; TAG_LEN] {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(&[kind, 0]);
        context.update(message_id.as_bytes());
        if let Some(url) = url {
            context.update(&[0]);
            context.update(url.as_bytes());
        }
        let full = context.sign();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full.as_ref()[..TAG_LEN]);
        tag
    }

    fn check(&self, kind: u8, message_id: &str, url: Option<&str>, tag: &str) -> bool {
        let Ok(given) = URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        let expected = self.tag(kind, message_id, url);
        aws_lc_rs::constant_time::verify_slices_are_equal(&given, &expected).is_ok()
    }

    pub fn open_token(&self, message_id: &str) -> String {
        format!(
            "{message_id}.{}",
            URL_SAFE_NO_PAD.encode(self.tag(b'o', message_id, None))
        )
    }

    /// The message id of a genuine open token.
    pub fn open(&self, token: &str) -> Option<String> {
        let (message_id, tag) = token.split_once('.')?;
        self.check(b'o', message_id, None, tag).then(|| message_id.to_owned())
    }

    pub fn click_token(&self, message_id: &str, url: &str) -> String {
        format!(
            "{message_id}.{}.{}",
            URL_SAFE_NO_PAD.encode(url),
            URL_SAFE_NO_PAD.encode(self.tag(b'c', message_id, Some(url)))
        )
    }

    /// The message id and destination of a genuine click token.
    pub fn click(&self, token: &str) -> Option<(String, String)> {
        let mut parts = token.split('.');
        let (message_id, url, tag) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let url = String::from_utf8(URL_SAFE_NO_PAD.decode(url).ok()?).ok()?;
        self.check(b'c', message_id, Some(&url), tag)
            .then(|| (message_id.to_owned(), url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TrackingKey {
        TrackingKey::new(&MasterKey::generate().unwrap().0).unwrap()
    }

    #[test]
    fn open_tokens_prove_themselves() {
        let key = key();
        let token = key.open_token("msg_1");
        assert_eq!(key.open(&token).as_deref(), Some("msg_1"));
        assert_eq!(key.open(&token.replace("msg_1", "msg_2")), None);
        assert_eq!(
            super::TrackingKey::open(&self::key(), &token),
            None,
            "another master key"
        );
        assert_eq!(key.open("msg_1"), None);
        assert_eq!(key.open("msg_1.!!"), None);
    }

    #[test]
    fn click_tokens_are_bound_to_their_destination() {
        let key = key();
        let token = key.click_token("msg_1", "https://example.com/a?b=c");
        assert_eq!(
            key.click(&token),
            Some(("msg_1".into(), "https://example.com/a?b=c".into()))
        );
        let parts: Vec<&str> = token.split('.').collect();
        let evil = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode("https://evil.example"),
            parts[2]
        );
        assert_eq!(key.click(&evil), None);
        // An open tag does not serve as a click tag, nor the other way round.
        assert_eq!(key.open(&format!("msg_1.{}", parts[2])), None);
        let open_tag = key.open_token("msg_1");
        let open_tag = open_tag.split('.').nth(1).unwrap();
        assert_eq!(key.click(&format!("{}.{}.{open_tag}", parts[0], parts[1])), None);
    }
}
