//! `base64url`: the verifier's strict base64url decoder (`base64-simd`) against the `base64`
//! crate's `URL_SAFE_NO_PAD` engine (strict: no padding, no non-zero trailing bits).
//!
//! Asserts, for arbitrary bytes: both accept exactly the same inputs and decode them to
//! the same bytes; `decoded_len` is exact for every length it allows; a buffer one byte
//! too short is refused, a larger one leaves the result unchanged. Never panics.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_tower::__fuzz::{base64url_decode, base64url_decoded_len};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let theirs = URL_SAFE_NO_PAD.decode(input).ok();
    let len = base64url_decoded_len(input.len());
    match len {
        // 4n+1 characters never decode.
        None => assert_eq!(theirs, None, "a 4n+1 length decoded"),
        Some(len) => {
            let ours = base64url_decode(input, len);
            assert_eq!(ours, theirs, "disagrees with the base64 crate on {input:?}");
            if let Some(decoded) = &ours {
                assert_eq!(decoded.len(), len);
                assert_eq!(base64url_decode(input, len + 3).as_ref(), Some(decoded));
                if len > 0 {
                    assert_eq!(base64url_decode(input, len - 1), None, "short buffer");
                }
                // Canonical: the only encoding of these bytes.
                assert_eq!(URL_SAFE_NO_PAD.encode(decoded).as_bytes(), input);
            }
        }
    }
});
