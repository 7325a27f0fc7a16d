//! `claims_scan`: the verifier's plain-JSON claims scanner (its fast path) against the
//! serde reading of the same claims view it stands in for.
//!
//! Asserts, for arbitrary UTF-8 text, several sets of required claims and each possible
//! roles claim: whenever the fast path returns a view, serde accepts the text too and
//! builds the very same view (registered claims, roles, which required claims were
//! seen). Where the fast path declines, anything goes (serde decides). Never panics.
#![no_main]

use jwt_tower::__fuzz::claims_views;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    // The first byte picks the verifier's configuration, the rest is the payload.
    let Some((&config, text)) = input.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let roles_claim = ["roles", "groups", "sub", "aud", ""][usize::from(config % 5)];
    let required: &[&str] = match (config / 5) % 4 {
        0 => &[],
        1 => &["sub"],
        2 => &["sub", "tenant", "groups", "exp"],
        _ => &["", "x", "roles", "iat", "jti"],
    };
    let (fast, slow) = claims_views(text, required, roles_claim);
    if let Some(fast) = fast {
        match slow {
            Ok(slow) => assert_eq!(fast, slow, "the views differ for {text:?}"),
            Err(e) => panic!("the fast path accepted what serde refuses ({e}): {text:?}"),
        }
    }
});
