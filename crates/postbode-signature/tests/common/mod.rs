//! What the integration tests share: keys generated once, and an owned request to tamper with.

#![allow(dead_code)] // each test crate uses its own part

use std::sync::OnceLock;

use postbode_signature::Request;
use postbode_signature::dkim;
use postbode_signature::keys::{Ed25519Key, RsaKey};

pub const KEY_DOMAIN: &str = "webhooks.example.com";
pub const ACCOUNT_HEADER: &str = "X-Postbode-Account";
pub const ACCOUNT: &str = "acc_42";
/// Some Unix time in May 2026.
pub const NOW: i64 = 1_779_000_000;

/// RSA generation costs a good fraction of a second: each test binary makes two keys.
pub fn rsa_key() -> &'static RsaKey {
    static KEY: OnceLock<RsaKey> = OnceLock::new();
    KEY.get_or_init(|| RsaKey::generate().unwrap())
}

pub fn other_rsa_key() -> &'static RsaKey {
    static KEY: OnceLock<RsaKey> = OnceLock::new();
    KEY.get_or_init(|| RsaKey::generate().unwrap())
}

pub fn ed25519_key() -> &'static Ed25519Key {
    static KEY: OnceLock<Ed25519Key> = OnceLock::new();
    KEY.get_or_init(|| Ed25519Key::generate().unwrap())
}

pub fn key_id(selector: &str) -> String {
    dkim::key_id(selector, KEY_DOMAIN)
}

/// A request as sent or received, owned so tests can change it.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Call {
    pub fn json(target: &str, body: &[u8]) -> Self {
        Call {
            method: "POST".into(),
            target: target.into(),
            headers: vec![
                ("Host".into(), "receiver.example:8443".into()),
                ("Content-Type".into(), "application/json".into()),
                ("Content-Length".into(), body.len().to_string()),
            ],
            body: body.to_vec(),
        }
    }

    pub fn pairs(&self) -> Vec<(&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect()
    }

    pub fn request<'a>(&'a self, pairs: &'a [(&'a str, &'a str)]) -> Request<'a> {
        Request {
            method: &self.method,
            target: &self.target,
            headers: pairs,
            body: &self.body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn set_header(&mut self, name: &str, value: &str) {
        self.remove_header(name);
        self.headers.push((name.into(), value.into()));
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub fn add(&mut self, pairs: Vec<(String, String)>) {
        self.headers.extend(pairs);
    }
}
