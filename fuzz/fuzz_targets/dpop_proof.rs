//! `dpop_proof`: DPoP proofs through `DpopChecker::check`.
//!
//! The first input byte picks the form of the rest: (even) the proof's text as is, or
//! (odd) a header and claims, split at the first `\n`, that the target signs with a
//! fixed Ed25519 key (adding its `jwk` to a header without one), so that the checker
//! reaches the claims behind a valid signature.
//!
//! Asserts, besides never panicking, that an accepted proof is what an independent
//! reading says it must be: three canonical unpadded base64url segments (the `base64`
//! crate), a header that is a JSON object with `typ` `dpop+jwt`, an allowed `alg` and a
//! `jwk`; claims with `htm` `GET`, `iat` within the window, `ath` the token's hash and a
//! `jti` of at most `MAX_JTI_LEN` bytes; and that the proof's thumbprint is the `jwk`'s.
#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, Method};
use jwt_tower::Algorithm;
use jwt_tower::dpop::{DpopChecker, DpopKey, MAX_JTI_LEN, access_token_hash, jwk_thumbprint};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const NOW: i64 = 1_800_000_000;
const TOKEN: &str = "the.access.token";

static CHECKER: LazyLock<DpopChecker> = LazyLock::new(|| {
    DpopChecker::builder("https://api.example.com")
        .build()
        .unwrap()
});
static KEY: LazyLock<DpopKey> = LazyLock::new(|| DpopKey::generate(Algorithm::Ed25519).unwrap());

fn object(segment: &str) -> Map<String, Value> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .expect("an accepted segment is canonical base64url");
    match serde_json::from_slice(&bytes).expect("an accepted segment is JSON") {
        Value::Object(map) => map,
        _ => panic!("an accepted segment is an object"),
    }
}

fn proof_of(data: &[u8]) -> Option<String> {
    let (&form, rest) = data.split_first()?;
    if form % 2 == 0 {
        return std::str::from_utf8(rest).ok().map(str::to_owned);
    }
    let split = rest.iter().position(|&b| b == b'\n')?;
    let mut header: Value = serde_json::from_slice(&rest[..split]).ok()?;
    // A header without a `jwk` gets the signing key's: the signature then verifies.
    if let Some(header) = header.as_object_mut() {
        header
            .entry("jwk")
            .or_insert_with(|| KEY.public_jwk().clone());
    }
    let claims: Value = serde_json::from_slice(&rest[split + 1..]).ok()?;
    KEY.sign(&header, &claims).ok()
}

fuzz_target!(|data: &[u8]| {
    let Some(proof) = proof_of(data) else {
        return;
    };
    let checked = CHECKER.check(
        &proof,
        &Method::GET,
        "/orders",
        &HeaderMap::new(),
        Some(TOKEN),
        NOW,
    );
    let Ok(checked) = checked else {
        return;
    };
    let parts: Vec<&str> = proof.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = object(parts[0]);
    let claims = object(parts[1]);
    URL_SAFE_NO_PAD.decode(parts[2]).expect("signature base64url");

    assert_eq!(header["typ"], "dpop+jwt");
    assert!(["ES256", "Ed25519", "EdDSA"].contains(&header["alg"].as_str().unwrap()));
    let jwk = header["jwk"].as_object().expect("a jwk object");
    assert!(!jwk.contains_key("d"));
    assert_eq!(jwk_thumbprint(jwk).unwrap(), checked.jkt());

    assert_eq!(claims["htm"], "GET");
    let iat = claims["iat"].as_i64().expect("an integer iat");
    assert!((NOW - 60..=NOW + 30).contains(&iat));
    assert_eq!(checked.iat(), iat);
    assert_eq!(claims["ath"], access_token_hash(TOKEN));
    let jti = claims["jti"].as_str().expect("a string jti");
    assert!(!jti.is_empty() && jti.len() <= MAX_JTI_LEN);
    assert_eq!(checked.jti(), jti);
});
