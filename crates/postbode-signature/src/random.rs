//! Unguessable values from the operating system's generator (through aws-lc).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::Error;

pub fn bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut out = [0u8; N];
    SystemRandom::new().fill(&mut out).map_err(|_| Error::Random)?;
    Ok(out)
}

/// `len` characters drawn uniformly from `alphabet` (rejection sampling, so no bias).
pub fn string(alphabet: &[u8], len: usize) -> Result<String, Error> {
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for byte in bytes::<64>()? {
            if (byte as usize) < limit && out.len() < len {
                out.push(alphabet[byte as usize % alphabet.len()] as char);
            }
        }
    }
    Ok(out)
}

pub const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
pub const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
