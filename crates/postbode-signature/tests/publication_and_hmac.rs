//! Key publication (DKIM records, the key set) and the Standard Webhooks round trip.

mod common;

use common::{ed25519_key, rsa_key};
use postbode_signature::dkim::{self, DkimRecord, TXT_STRING_MAX};
use postbode_signature::key_set::{KeySet, KeyState};
use postbode_signature::keys::{KeyLookup, PublicKey};
use postbode_signature::{Error, standard_webhooks};
use proptest::prelude::*;

#[test]
fn a_2048_bit_key_s_record_is_split_into_quoted_strings_and_parses_back() {
    let key = rsa_key().public_key().unwrap();
    let text = dkim::record(&key);
    assert!(text.starts_with("v=DKIM1;k=rsa;p="));
    assert_eq!(text.len(), "v=DKIM1;k=rsa;p=".len() + 392, "base64 of a 294-byte SPKI");
    let zone = dkim::zone_text(&text);
    let pieces: Vec<&str> = zone.split("\" \"").collect();
    assert_eq!(pieces.len(), 2);
    assert!(zone.starts_with('"') && zone.ends_with('"'));
    for piece in &pieces {
        assert!(piece.trim_matches('"').len() <= TXT_STRING_MAX);
    }
    assert_eq!(dkim::parse_record(&zone).unwrap(), DkimRecord::Key(key.clone()));
    // As `dig +short TXT` prints it, and as a resolver joins the strings.
    assert_eq!(
        dkim::parse_record(&format!("{zone}\n")).unwrap(),
        DkimRecord::Key(key.clone())
    );
    assert_eq!(
        dkim::parse_record(&dkim::split_txt(&text).concat()).unwrap(),
        DkimRecord::Key(key)
    );
}

#[test]
fn a_key_set_serves_as_the_verifiers_key_lookup() {
    let mut set = KeySet::default();
    set.push(
        dkim::key_id("pb202605aaaa", "w.example"),
        rsa_key().public_key().unwrap(),
        KeyState::Retired,
    );
    set.push(
        dkim::key_id("pb202606bbbb", "w.example"),
        ed25519_key().public_key().unwrap(),
        KeyState::Active,
    );
    let parsed = KeySet::from_json(&set.to_json()).unwrap();
    assert_eq!(
        parsed.find("pb202605aaaa._domainkey.w.example"),
        Some(rsa_key().public_key().unwrap())
    );
    assert_eq!(
        parsed.get("pb202606bbbb._domainkey.w.example").unwrap().state,
        KeyState::Active
    );
}

#[test]
fn a_closure_is_a_key_lookup_too() {
    let key = ed25519_key().public_key().unwrap();
    let lookup = |id: &str| (id == "a").then(|| key.clone());
    assert!(lookup.find("a").is_some());
    assert!(lookup.find("b").is_none());
}

fn any_key() -> impl Strategy<Value = PublicKey> {
    prop_oneof![
        Just(rsa_key().public_key().unwrap()),
        Just(ed25519_key().public_key().unwrap())
    ]
}

proptest! {
    #[test]
    fn split_txt_keeps_every_character_in_pieces_of_at_most_255(text in "\\PC{0,1200}") {
        let pieces = dkim::split_txt(&text);
        prop_assert_eq!(pieces.concat(), text.clone());
        prop_assert!(pieces.iter().all(|p| !p.is_empty() && p.len() <= TXT_STRING_MAX));
    }

    #[test]
    fn a_record_survives_white_space_and_any_splitting(
        key in any_key(),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..6),
        spaces in proptest::collection::vec(any::<proptest::sample::Index>(), 0..6),
    ) {
        let text = dkim::record(&key);
        // Folding white space after some `;` and inside the base64, as RFC 6376 allows.
        let mut spaced = text.replace(';', "; ");
        let p = spaced.find("p=").unwrap() + 2;
        for at in spaces {
            let i = p + at.index(spaced.len() - p);
            spaced.insert_str(i, " \t");
        }
        let mut positions: Vec<usize> = cuts.iter().map(|at| at.index(spaced.len())).collect();
        positions.sort_unstable();
        positions.dedup();
        let mut zone = String::from("\"");
        let mut last = 0;
        for at in positions {
            zone.push_str(&spaced[last..at]);
            zone.push_str("\" \"");
            last = at;
        }
        zone.push_str(&spaced[last..]);
        zone.push('"');
        prop_assert_eq!(dkim::parse_record(&spaced).unwrap(), DkimRecord::Key(key.clone()));
        prop_assert_eq!(dkim::parse_record(&zone).unwrap(), DkimRecord::Key(key));
    }

    #[test]
    fn standard_webhooks_round_trip(
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        id in "[a-zA-Z0-9_]{1,40}",
        timestamp in 1_000_000_000i64..4_000_000_000,
        skew in -300i64..=300,
    ) {
        let secret = standard_webhooks::Secret::generate().unwrap();
        let header = standard_webhooks::sign(&secret, &id, timestamp, &body);
        let secrets = [secret];
        prop_assert_eq!(
            standard_webhooks::verify(&secrets, &id, &timestamp.to_string(), &header, &body, timestamp + skew),
            Ok(())
        );
        let mut tampered = body.clone();
        tampered.push(b' ');
        prop_assert_eq!(
            standard_webhooks::verify(&secrets, &id, &timestamp.to_string(), &header, &tampered, timestamp),
            Err(Error::BadSignature)
        );
    }
}
