//! How an id is stored in the columns that hold the most rows (events, deliveries,
//! attempts, and the webhooks they point at): as a 17-byte key, its kind in one byte and
//! its ULID in 16, instead of the 30 characters of `dlv_01m99ck4hpbrxp9nq8rb7zcqs3`. A
//! delivery's row and index entries carry about a dozen ids, so this is most of its
//! size on disk.
//!
//! The key names its kind, so a key reads back as the id it was made from without
//! knowing its column ([`id`]). Keys of one kind sort as their ids do (the ULID is
//! big-endian, and Crockford's alphabet is in ASCII order), so cursors and "newest
//! first" work on keys unchanged. A string that is not an id of a kind stored as a key
//! (a search term, a cursor someone made up) is stored as its own bytes: it reads back
//! as itself and never equals a key, so a look-up by it finds nothing, as it did before.

use postbode_core::ids;

/// The kinds stored as keys; a key's first byte is its kind's place here, plus one.
const KINDS: [&str; 4] = [ids::WEBHOOK, ids::EVENT, ids::DELIVERY, ids::ATTEMPT];

/// Crockford's base 32, in lower case, as ids spell it.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

pub const KEY_LEN: usize = 17;

/// The stored form of `id`.
pub fn key(id: &str) -> Vec<u8> {
    parse(id).map_or_else(|| id.as_bytes().to_vec(), |key| key.to_vec())
}

/// The stored forms of `ids`, in upper-case hexadecimal: how a list of keys travels in
/// a JSON parameter (SQLite's `unhex`).
pub fn hex_keys<S: AsRef<str>>(ids: &[S]) -> Vec<String> {
    ids.iter().map(|id| hex(&key(id.as_ref()))).collect()
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    text
}

/// The id a stored value holds: a key's id, or the bytes of a string stored as itself.
pub fn id(stored: Vec<u8>) -> crate::Result<String> {
    if let Some(id) = unkey(&stored) {
        return Ok(id);
    }
    String::from_utf8(stored).map_err(|_| crate::StoreError::Corrupt("an id that is neither a key nor text".into()))
}

fn parse(id: &str) -> Option<[u8; KEY_LEN]> {
    let (kind, ulid) = id.split_once('_')?;
    let code = KINDS.iter().position(|k| *k == kind)?;
    let digits = ulid.as_bytes();
    // 26 digits of 5 bits are 130 bits: the first digit holds only the top 3 of 128.
    if digits.len() != 26 || digits[0] > b'7' {
        return None;
    }
    let mut value: u128 = 0;
    for digit in digits {
        let n = ALPHABET.iter().position(|a| a == digit)?;
        value = (value << 5) | n as u128;
    }
    let mut key = [0u8; KEY_LEN];
    key[0] = code as u8 + 1;
    key[1..].copy_from_slice(&value.to_be_bytes());
    Some(key)
}

fn unkey(stored: &[u8]) -> Option<String> {
    if stored.len() != KEY_LEN {
        return None;
    }
    let kind = KINDS.get(usize::from(stored[0]).checked_sub(1)?)?;
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&stored[1..]);
    let mut value = u128::from_be_bytes(bytes);
    let mut digits = [0u8; 26];
    for digit in digits.iter_mut().rev() {
        *digit = ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    let mut id = String::with_capacity(kind.len() + 27);
    id.push_str(kind);
    id.push('_');
    id.extend(digits.iter().map(|d| char::from(*d)));
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_comes_back_from_its_key_and_keys_sort_as_ids_do() {
        let ids: Vec<String> = (0..200).map(|_| ids::new_id(ids::DELIVERY)).collect();
        for id in &ids {
            assert_eq!(key(id).len(), KEY_LEN);
            assert_eq!(super::id(key(id)).unwrap(), *id);
        }
        let keys: Vec<Vec<u8>> = ids.iter().map(|id| key(id)).collect();
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
        let webhook = ids::new_id(ids::WEBHOOK);
        assert_eq!(super::id(key(&webhook)).unwrap(), webhook);
        assert_ne!(key(&webhook)[0], key(&ids[0])[0]);
    }

    #[test]
    fn what_is_not_an_id_of_a_keyed_kind_is_kept_as_it_is() {
        for text in [
            "order-4712",
            "dlv_01NOTHING",
            "",
            "dlv_01M99CK4HPBRXP9NQ8RB7ZCQS3",
            "dlv_81m99ck4hpbrxp9nq8rb7zcqs3",
            "dlv_01m99ck4hpbrxp9nq8rb7zcqsu",
            "acc_01m99ck4hpbrxp9nq8rb7zcqs3",
        ] {
            assert_eq!(key(text), text.as_bytes());
            assert_eq!(id(key(text)).unwrap(), text);
        }
    }

    #[test]
    fn a_list_of_keys_travels_in_hexadecimal() {
        assert_eq!(hex(&[0x01, 0xab, 0x00]), "01AB00");
        assert_eq!(hex_keys(&["ab"]), vec!["6162".to_owned()]);
    }
}
