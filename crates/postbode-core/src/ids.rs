//! Ids are `<kind>_<ULID>` in lower case: unique without coordination between nodes,
//! sortable by creation time (so a list's cursor is simply the last id), and the
//! prefix tells a person at a glance what an id in a log line refers to.

pub const ACCOUNT: &str = "acc";
pub const API_KEY: &str = "key";
pub const WEBHOOK: &str = "wh";
pub const EVENT: &str = "evt";
pub const DELIVERY: &str = "dlv";
pub const ATTEMPT: &str = "att";
pub const SIGNING_KEY: &str = "sk";
pub const DATABASE: &str = "db";
pub const COLLECTION: &str = "col";
pub const PROFILE: &str = "prf";
pub const SUBPROFILE: &str = "sub";
pub const MESSAGE: &str = "msg";
pub const BATCH: &str = "bat";
pub const DOMAIN: &str = "dom";
pub const JOB: &str = "job";

/// Ids made by this process sort in the order they were made, even within one
/// millisecond (the random part counts up), so "newest first" and per-subject order hold.
pub fn new_id(kind: &str) -> String {
    static GENERATOR: std::sync::Mutex<ulid::Generator> = std::sync::Mutex::new(ulid::Generator::new());
    let ulid = GENERATOR
        .lock()
        .map_err(drop)
        .and_then(|mut generator| generator.generate().map_err(drop))
        // Only 2^80 ids in one millisecond overflow the count; a random one is unique still.
        .unwrap_or_else(|()| ulid::Ulid::generate());
    format!("{kind}_{}", ulid.to_string().to_ascii_lowercase())
}

/// True when `id` has the shape of an id of `kind`; a malformed id can then be answered
/// like a missing one without a database look-up.
pub fn has_kind(id: &str, kind: &str) -> bool {
    id.strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|ulid| ulid.len() == 26 && ulid.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_kind_and_sort_by_time() {
        let ids: Vec<String> = (0..1000).map(|_| new_id(EVENT)).collect();
        assert!(has_kind(&ids[0], EVENT));
        assert!(!has_kind(&ids[0], WEBHOOK));
        assert!(
            ids.windows(2).all(|pair| pair[0] < pair[1]),
            "in the order they were made"
        );
    }
}
