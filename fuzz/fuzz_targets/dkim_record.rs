//! The DKIM key record parser, which reads TXT text from DNS. It may not panic, and a key
//! it accepts must come back from the record we would publish for it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use postbode_signature::dkim::{self, DkimRecord};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(DkimRecord::Key(key)) = dkim::parse_record(text) {
        let published = dkim::zone_text(&dkim::record(&key));
        assert_eq!(dkim::parse_record(&published), Ok(DkimRecord::Key(key)));
    }
});
