//! The body digest both `Digest` (RFC 3230) and `Content-Digest` (RFC 9530) carry.

use aws_lc_rs::{constant_time, digest};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::Error;

pub(crate) fn sha256(body: &[u8]) -> digest::Digest {
    digest::digest(&digest::SHA256, body)
}

pub(crate) fn sha256_base64(body: &[u8]) -> String {
    STANDARD.encode(sha256(body).as_ref())
}

/// Compares a received base64 digest with the body's, in constant time so a forger
/// learns nothing from timing.
pub(crate) fn check_sha256(body: &[u8], received_base64: &str) -> Result<(), Error> {
    let received = STANDARD
        .decode(received_base64.trim())
        .map_err(|_| Error::malformed("digest: the value is not base64"))?;
    constant_time::verify_slices_are_equal(sha256(body).as_ref(), &received).map_err(|_| Error::DigestMismatch)
}
