//! The parsers of the signature headers a receiver reads from the network: the
//! draft-cavage `Signature` header, and RFC 9421's `Signature-Input` and `Signature`.
//! None may panic, and whatever parses must write back to the same meaning.

#![no_main]

use libfuzzer_sys::fuzz_target;
use postbode_signature::http_signature::SignatureParams;
use postbode_signature::rfc9421;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(params) = SignatureParams::parse(text) {
        let again = SignatureParams::parse(&params.to_header_value()).expect("our own header parses");
        assert_eq!(again, params);
    }
    if let Ok(inputs) = rfc9421::parse_signature_input(text) {
        for input in inputs {
            let again = rfc9421::parse_signature_input(&input.to_header_value()).expect("our own input parses");
            assert_eq!(again, vec![input]);
        }
    }
    let _ = rfc9421::parse_signature(text);
    let _ = rfc9421::check_content_digest(text, data);
});
