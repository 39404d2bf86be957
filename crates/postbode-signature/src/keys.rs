//! Signing keys (RSA-2048 for `http-signature`, Ed25519 for `rfc9421`) and public keys.
//!
//! Private keys leave this module only as PKCS#8 DER (callers encrypt them at rest);
//! public keys as DER SubjectPublicKeyInfo, the form DKIM records and the key set carry.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{self, KeySize};
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair as _, ParsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::Error;

/// The smallest RSA key accepted, in bytes of modulus (2048 bits, as PAYLOADS.md requires).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// The DER prefix of every Ed25519 SubjectPublicKeyInfo (RFC 8410): the raw 32-byte key follows.
const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// RSA PKCS#1 v1.5 with SHA-256 (`rsa-sha256`).
    Rsa,
    Ed25519,
}

impl KeyAlgorithm {
    /// The `k=` tag of a DKIM record (RFC 6376, RFC 8463).
    pub fn dkim_name(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa => "rsa",
            KeyAlgorithm::Ed25519 => "ed25519",
        }
    }

    /// The algorithm name of the signature schemes (`algorithm=` / `alg=`).
    pub fn signature_name(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa => "rsa-sha256",
            KeyAlgorithm::Ed25519 => "ed25519",
        }
    }

    pub fn from_dkim_name(name: &str) -> Option<Self> {
        [KeyAlgorithm::Rsa, KeyAlgorithm::Ed25519]
            .into_iter()
            .find(|alg| alg.dkim_name().eq_ignore_ascii_case(name))
    }

    pub fn from_signature_name(name: &str) -> Option<Self> {
        [KeyAlgorithm::Rsa, KeyAlgorithm::Ed25519]
            .into_iter()
            .find(|alg| alg.signature_name().eq_ignore_ascii_case(name))
    }
}

/// An RSA-2048 (or larger) private key signing `rsa-sha256`.
pub struct RsaKey {
    pair: rsa::KeyPair,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaKey(..)")
    }
}

impl RsaKey {
    /// A new 2048-bit key (about 0.1–0.5 s of CPU).
    pub fn generate() -> Result<Self, Error> {
        let pair = rsa::KeyPair::generate(KeySize::Rsa2048).map_err(|_| Error::Crypto)?;
        Ok(Self { pair })
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<Self, Error> {
        let pair = rsa::KeyPair::from_pkcs8(der).map_err(|e| Error::InvalidKey(format!("RSA PKCS#8: {e}")))?;
        if pair.public_modulus_len() < MIN_RSA_MODULUS_BYTES {
            return Err(Error::InvalidKey("RSA key shorter than 2048 bits".into()));
        }
        Ok(Self { pair })
    }

    /// The private key as PKCS#8 v1 DER: secret, to be encrypted at rest.
    pub fn to_pkcs8(&self) -> Result<Vec<u8>, Error> {
        let der: Pkcs8V1Der<'static> = self.pair.as_der().map_err(|_| Error::Crypto)?;
        Ok(der.as_ref().to_vec())
    }

    pub fn public_key(&self) -> Result<PublicKey, Error> {
        let spki = self.pair.public_key().as_der().map_err(|_| Error::Crypto)?;
        PublicKey::from_der(KeyAlgorithm::Rsa, spki.as_ref())
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut out)
            .map_err(|_| Error::Crypto)?;
        Ok(out)
    }
}

/// An Ed25519 private key.
pub struct Ed25519Key {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ed25519Key(..)")
    }
}

impl Ed25519Key {
    pub fn generate() -> Result<Self, Error> {
        let pair = Ed25519KeyPair::generate().map_err(|_| Error::Crypto)?;
        Ok(Self { pair })
    }

    /// Accepts PKCS#8 v1 and v2 (with the public key).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, Error> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| Error::InvalidKey(format!("Ed25519 PKCS#8: {e}")))?;
        Ok(Self { pair })
    }

    /// The private key as PKCS#8 v1 DER (RFC 8410), the form OpenSSL and Node read.
    pub fn to_pkcs8(&self) -> Result<Vec<u8>, Error> {
        let der: Pkcs8V1Der<'static> = self.pair.as_der().map_err(|_| Error::Crypto)?;
        Ok(der.as_ref().to_vec())
    }

    pub fn public_key(&self) -> Result<PublicKey, Error> {
        PublicKey::from_der(KeyAlgorithm::Ed25519, self.pair.public_key().as_ref())
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }
}

/// Either kind of private key, for callers that store both in one place.
#[derive(Debug)]
pub enum SigningKey {
    Rsa(RsaKey),
    Ed25519(Ed25519Key),
}

impl SigningKey {
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, Error> {
        Ok(match algorithm {
            KeyAlgorithm::Rsa => SigningKey::Rsa(RsaKey::generate()?),
            KeyAlgorithm::Ed25519 => SigningKey::Ed25519(Ed25519Key::generate()?),
        })
    }

    pub fn from_pkcs8(algorithm: KeyAlgorithm, der: &[u8]) -> Result<Self, Error> {
        Ok(match algorithm {
            KeyAlgorithm::Rsa => SigningKey::Rsa(RsaKey::from_pkcs8(der)?),
            KeyAlgorithm::Ed25519 => SigningKey::Ed25519(Ed25519Key::from_pkcs8(der)?),
        })
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            SigningKey::Rsa(_) => KeyAlgorithm::Rsa,
            SigningKey::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    pub fn to_pkcs8(&self) -> Result<Vec<u8>, Error> {
        match self {
            SigningKey::Rsa(key) => key.to_pkcs8(),
            SigningKey::Ed25519(key) => key.to_pkcs8(),
        }
    }

    pub fn public_key(&self) -> Result<PublicKey, Error> {
        match self {
            SigningKey::Rsa(key) => key.public_key(),
            SigningKey::Ed25519(key) => key.public_key(),
        }
    }

    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        match self {
            SigningKey::Rsa(key) => key.sign(message),
            SigningKey::Ed25519(key) => Ok(key.sign(message)),
        }
    }
}

/// A public key, parsed once so each verification is cheap.
#[derive(Clone)]
pub struct PublicKey {
    algorithm: KeyAlgorithm,
    spki: Vec<u8>,
    parsed: ParsedPublicKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({:?}, {})", self.algorithm, self.spki_base64())
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.algorithm == other.algorithm && self.spki == other.spki
    }
}

impl Eq for PublicKey {}

impl PublicKey {
    /// Parses DER SubjectPublicKeyInfo; for RSA also a PKCS#1 `RSAPublicKey`, for Ed25519
    /// also the raw 32 bytes (as in an RFC 8463 DKIM record).
    pub fn from_der(algorithm: KeyAlgorithm, der: &[u8]) -> Result<Self, Error> {
        let verification: &'static dyn signature::VerificationAlgorithm = match algorithm {
            KeyAlgorithm::Rsa => {
                let key =
                    rsa::PublicKey::from_der(der).map_err(|e| Error::InvalidKey(format!("RSA public key: {e}")))?;
                let spki = key.as_der().map_err(|_| Error::Crypto)?;
                // This type refuses keys outside 2048..=8192 bits, the sizes the verification
                // below accepts (`modulus_len` would need aws-lc-rs's ring-io feature, which
                // brings a second `untrusted` into the build).
                rsa::PublicEncryptingKey::from_der(spki.as_ref())
                    .map_err(|_| Error::InvalidKey("RSA key shorter than 2048 bits or longer than 8192".into()))?;
                &signature::RSA_PKCS1_2048_8192_SHA256
            }
            KeyAlgorithm::Ed25519 => &signature::ED25519,
        };
        let parsed =
            ParsedPublicKey::new(verification, der).map_err(|e| Error::InvalidKey(format!("public key: {e}")))?;
        // Re-encoded, so the same key always has the same bytes whatever form it came in.
        let spki = parsed.as_der().map_err(|_| Error::Crypto)?.as_ref().to_vec();
        Ok(Self {
            algorithm,
            spki,
            parsed,
        })
    }

    /// Parses DER SubjectPublicKeyInfo, telling the algorithm from the key itself.
    pub fn from_spki(der: &[u8]) -> Result<Self, Error> {
        if der.starts_with(&ED25519_SPKI_PREFIX) {
            Self::from_der(KeyAlgorithm::Ed25519, der)
        } else {
            Self::from_der(KeyAlgorithm::Rsa, der)
        }
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki(&self) -> &[u8] {
        &self.spki
    }

    pub fn spki_base64(&self) -> String {
        STANDARD.encode(&self.spki)
    }

    /// The bytes of a DKIM record's `p=`: the SubjectPublicKeyInfo for RSA (RFC 6376),
    /// the raw 32-byte key for Ed25519 (RFC 8463).
    pub fn dkim_key_bytes(&self) -> &[u8] {
        match self.algorithm {
            KeyAlgorithm::Rsa => &self.spki,
            KeyAlgorithm::Ed25519 => self.spki.get(ED25519_SPKI_PREFIX.len()..).unwrap_or(&self.spki),
        }
    }

    /// `Ok` when `signature` is this key's over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        self.parsed
            .verify_sig(message, signature)
            .map_err(|_| Error::BadSignature)
    }

    /// `-----BEGIN PUBLIC KEY-----` PEM, for tools that want files (OpenSSL, Node).
    pub fn to_pem(&self) -> String {
        pem("PUBLIC KEY", &self.spki)
    }
}

/// Where verifiers find public keys by `keyId`. Implemented by [`crate::key_set::KeySet`]
/// and by closures, e.g. over a cache of resolved DKIM records.
pub trait KeyLookup {
    fn find(&self, key_id: &str) -> Option<PublicKey>;
}

impl<F: Fn(&str) -> Option<PublicKey>> KeyLookup for F {
    fn find(&self, key_id: &str) -> Option<PublicKey> {
        self(key_id)
    }
}

/// PEM (RFC 7468): base64 in lines of 64 between BEGIN/END lines; `label` is e.g.
/// `PRIVATE KEY` for PKCS#8 or `PUBLIC KEY` for SubjectPublicKeyInfo.
pub fn pem(label: &str, der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    // base64 is ASCII, so splitting its bytes never cuts a character.
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_keys_survive_pkcs8_and_sign_what_their_public_key_verifies() {
        let key = RsaKey::generate().unwrap();
        let again = RsaKey::from_pkcs8(&key.to_pkcs8().unwrap()).unwrap();
        let public = key.public_key().unwrap();
        assert_eq!(public, again.public_key().unwrap());
        assert_eq!(public.algorithm(), KeyAlgorithm::Rsa);
        assert_eq!(PublicKey::from_spki(public.spki()).unwrap(), public);
        let signature = again.sign(b"message").unwrap();
        assert_eq!(signature.len(), 256);
        public.verify(b"message", &signature).unwrap();
        assert_eq!(public.verify(b"massage", &signature), Err(Error::BadSignature));
    }

    #[test]
    fn ed25519_keys_survive_pkcs8_and_raw_public_bytes() {
        let key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let again = SigningKey::from_pkcs8(KeyAlgorithm::Ed25519, &key.to_pkcs8().unwrap()).unwrap();
        let public = key.public_key().unwrap();
        assert_eq!(public, again.public_key().unwrap());
        assert_eq!(public.spki().len(), 44);
        assert_eq!(public.dkim_key_bytes().len(), 32);
        assert_eq!(
            PublicKey::from_der(KeyAlgorithm::Ed25519, public.dkim_key_bytes()).unwrap(),
            public
        );
        assert_eq!(PublicKey::from_spki(public.spki()).unwrap(), public);
        public.verify(b"m", &again.sign(b"m").unwrap()).unwrap();
    }

    #[test]
    fn rsa_public_keys_under_2048_bits_are_refused() {
        // A 1024-bit RSA SubjectPublicKeyInfo (openssl genrsa 1024).
        let short = STANDARD
            .decode(
                "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC3ScANLVF1WJaunPU6zrDMg5b8Pok/RY0j1/6iioxqEyFc5efOtKVuoBBgJr6cO9A/xP8gkX9s/snzyUc2+hrSPIRwWats1O3vujHyni6wOR5bQl5r8MkgGY2OLau709lt5TCV+gL5r7nt1kX8HDIXaFuXQpWm9uY3EAqCT3vBLQIDAQAB",
            )
            .unwrap();
        let refused = PublicKey::from_spki(&short).unwrap_err();
        assert!(
            matches!(&refused, Error::InvalidKey(why) if why.contains("shorter than 2048 bits")),
            "{refused:?}"
        );
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(matches!(RsaKey::from_pkcs8(b"nope"), Err(Error::InvalidKey(_))));
        assert!(matches!(PublicKey::from_spki(b"nope"), Err(Error::InvalidKey(_))));
        assert!(matches!(
            PublicKey::from_der(KeyAlgorithm::Ed25519, &[1; 31]),
            Err(Error::InvalidKey(_))
        ));
    }

    #[test]
    fn pem_wraps_base64_at_64_columns() {
        let text = pem("PUBLIC KEY", &[0u8; 100]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "-----BEGIN PUBLIC KEY-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last(), Some(&"-----END PUBLIC KEY-----"));
        assert_eq!(lines[1..lines.len() - 1].concat(), STANDARD.encode([0u8; 100]));
    }
}
