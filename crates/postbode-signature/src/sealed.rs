//! Secrets at rest: HMAC secrets and private keys are stored sealed with the operator's
//! master key (AES-256-GCM), so a copy of the database alone reveals none of them.
//! Each sealed value is bound to what it belongs to (the `context`, e.g. a webhook id),
//! so a sealed value copied onto another row does not open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::{Error, random};

const PREFIX: &str = "sealed:v1:";
pub const MASTER_KEY_LEN: usize = 32;

pub struct MasterKey {
    key: LessSafeKey,
    /// Derives the keys of other purposes (tracking tokens), so the operator keeps one
    /// secret and no derived key can open a sealed value: HKDF-SHA256, extracted once.
    derive: aws_lc_rs::hkdf::Prk,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A new random key and its base64 text, for the operator to keep.
    pub fn generate() -> Result<(Self, String), Error> {
        let raw = random::bytes::<MASTER_KEY_LEN>()?;
        let text = STANDARD.encode(raw);
        Ok((Self::from_bytes(&raw)?, text))
    }

    /// From the base64 text of 32 bytes (`POSTBODE_MASTER_KEY`).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let raw = STANDARD
            .decode(text.trim())
            .map_err(|_| Error::InvalidKey("the master key is not base64".into()))?;
        if raw.len() != MASTER_KEY_LEN {
            return Err(Error::InvalidKey(format!(
                "the master key must be {MASTER_KEY_LEN} bytes"
            )));
        }
        Self::from_bytes(&raw)
    }

    fn from_bytes(raw: &[u8]) -> Result<Self, Error> {
        let key = UnboundKey::new(&AES_256_GCM, raw).map_err(|_| Error::Crypto)?;
        Ok(Self {
            key: LessSafeKey::new(key),
            derive: aws_lc_rs::hkdf::Salt::new(aws_lc_rs::hkdf::HKDF_SHA256, b"postbode master key v1").extract(raw),
        })
    }

    /// A 32-byte key for `purpose` (HKDF-Expand with the purpose as info), the same for
    /// the same master key.
    pub fn derive(&self, purpose: &str) -> Result<[u8; 32], Error> {
        let info = [purpose.as_bytes()];
        let okm = self
            .derive
            .expand(&info, aws_lc_rs::hkdf::HKDF_SHA256)
            .map_err(|_| Error::Crypto)?;
        let mut out = [0u8; 32];
        okm.fill(&mut out).map_err(|_| Error::Crypto)?;
        Ok(out)
    }

    /// `sealed:v1:<base64 of nonce ‖ ciphertext ‖ tag>`.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<String, Error> {
        let nonce_bytes = random::bytes::<NONCE_LEN>()?;
        let mut data = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| Error::Crypto)?;
        let mut out = Vec::with_capacity(NONCE_LEN + data.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&data);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, Error> {
        let encoded = sealed
            .strip_prefix(PREFIX)
            .ok_or_else(|| Error::Malformed("sealed value".into()))?;
        let raw = STANDARD
            .decode(encoded)
            .map_err(|_| Error::Malformed("sealed value".into()))?;
        if raw.len() < NONCE_LEN {
            return Err(Error::Malformed("sealed value".into()));
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::Crypto)?;
        let mut data = ciphertext.to_vec();
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut data)
            .map_err(|_| Error::InvalidKey("the sealed value does not open with this master key".into()))?;
        Ok(plaintext.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_depend_on_the_master_key_and_the_purpose() {
        let (key, text) = MasterKey::generate().unwrap();
        let again = MasterKey::parse(&text).unwrap();
        let derive = |k: &MasterKey, purpose: &str| k.derive(purpose).unwrap();
        assert_eq!(derive(&key, "tracking"), derive(&again, "tracking"));
        assert_ne!(derive(&key, "tracking"), derive(&key, "tracking2"));
        let (other, _) = MasterKey::generate().unwrap();
        assert_ne!(derive(&key, "tracking"), derive(&other, "tracking"));
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let (key, text) = MasterKey::generate().unwrap();
        let sealed = key.seal(b"whsec_abc", "wh_1").unwrap();
        assert!(!sealed.contains("whsec"));
        assert_eq!(key.open(&sealed, "wh_1").unwrap(), b"whsec_abc");
        assert!(key.open(&sealed, "wh_2").is_err(), "bound to its context");
        let (other, _) = MasterKey::generate().unwrap();
        assert!(other.open(&sealed, "wh_1").is_err());
        assert_eq!(
            MasterKey::parse(&text).unwrap().open(&sealed, "wh_1").unwrap(),
            b"whsec_abc"
        );
        assert!(MasterKey::parse("c2hvcnQ=").is_err());
    }
}
