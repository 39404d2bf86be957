//! Ids as 128-bit keys. Postbode's ids are `<kind>_<ULID>`, and a ULID is 128 bits, so
//! the bench keeps a million ids in 16 bytes each instead of a heap string each.

use std::hash::{DefaultHasher, Hash, Hasher};

/// The id's ULID as a number; any other shape of id gets a 128-bit hash instead (two
/// independent 64-bit hashes), which only has to be unique among one run's ids.
pub fn id_key(id: &str) -> u128 {
    if let Some((_, ulid)) = id.split_once('_')
        && let Some(value) = decode_ulid(ulid)
    {
        return value;
    }
    let half = |salt: u8| {
        let mut hasher = DefaultHasher::new();
        salt.hash(&mut hasher);
        id.hash(&mut hasher);
        hasher.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

/// Crockford base32, 26 characters, the first at most 7 (so the value fits 128 bits).
fn decode_ulid(text: &str) -> Option<u128> {
    if text.len() != 26 {
        return None;
    }
    let mut value: u128 = 0;
    for (i, byte) in text.bytes().enumerate() {
        let digit = crockford(byte)?;
        if i == 0 && digit > 7 {
            return None;
        }
        value = (value << 5) | u128::from(digit);
    }
    Some(value)
}

fn crockford(byte: u8) -> Option<u8> {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let lower = byte.to_ascii_lowercase();
    ALPHABET.iter().position(|&c| c == lower).map(|p| p as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulids_decode_and_differ() {
        let a = id_key("evt_01hx5m3y6k8t0d2v4w6x8z9abc");
        let b = id_key("evt_01hx5m3y6k8t0d2v4w6x8z9abd");
        assert_eq!(b - a, 1);
        assert_eq!(id_key("dlv_00000000000000000000000001"), 1);
        assert_eq!(id_key("dlv_7zzzzzzzzzzzzzzzzzzzzzzzzz"), u128::MAX);
    }

    #[test]
    fn other_ids_are_hashed() {
        assert_ne!(id_key("evt_1"), id_key("evt_2"));
        assert_eq!(id_key("evt_1"), id_key("evt_1"));
        assert_ne!(id_key("dlv_8zzzzzzzzzzzzzzzzzzzzzzzzz"), u128::MAX);
    }
}
