//! `verify`: token text through `Verifier::<serde_json::Value>` (with and without the
//! verified-token cache), `Verifier::<RegisteredClaims>` (with issuer, audience and
//! required claims) and a `Verifier::by_issuer` router, over one key set holding an HS256
//! secret, an ES256, an EdDSA and an RS256 key (the test keys of `jwt-tower/tests/keys/`).
//!
//! The first input byte picks a mode:
//! - raw: the rest of the input, if UTF-8, is the token;
//! - mutate: one of several genuinely signed tokens, overwritten, spliced and cut where
//!   the input says;
//! - re-sign: the input gives a header's and a payload's JSON bytes, which are encoded
//!   and signed properly (HS256 or EdDSA), so that the claims and header checks are
//!   reached behind a valid signature.
//!
//! Asserts, besides never panicking:
//! - a token accepted in the raw and mutate modes carries one of the genuine tokens'
//!   signing inputs byte for byte, and for the deterministic signatures (HS256, EdDSA,
//!   RS256, where our strict base64url admits one text per signature) it *is* that token:
//!   no forgery, no second spelling; a genuine token is always accepted;
//! - jsonwebtoken as an oracle: whatever we accept, `jsonwebtoken::decode` accepts with
//!   the same key, algorithm and a validation no stricter than ours, and it reads the same
//!   claims. We are stricter in places (non-canonical base64, repeated member names,
//!   non-object JSON, deep nesting, mistyped registered claims, control characters in
//!   identity claims, a future `iat`, `cty: JWT`, `crit`, `typ`, key selection by `kid`),
//!   so only this direction is
//!   checked, and only where jsonwebtoken's reading is comparable: a header it can parse,
//!   and no `exp`/`nbf` that is a number but not a non-negative integer (it rounds
//!   fractional dates and refuses negative ones, where we floor and accept);
//! - the verifiers agree: one with a verified-token cache answers exactly as the same one
//!   without (outside the instants a token expires or becomes valid); the router accepts
//!   exactly what its one verifier does; the strict verifier accepts only what the
//!   lenient one does, with the same claims, unless the claims hold something no
//!   `serde_json::Value` can (which `RegisteredClaims` skips).
#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use jwt_tower::{Algorithm, KeySet, RegisteredClaims, RejectionKind, VerificationKey, Verifier};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const ISSUER: &str = "https://issuer.test";
const P256_PRIVATE: &str = include_str!("../../jwt-tower/tests/keys/p256-private.pem");
const P256_PUBLIC: &str = include_str!("../../jwt-tower/tests/keys/p256-public.pem");
const ED25519_PRIVATE: &str = include_str!("../../jwt-tower/tests/keys/ed25519-private.pem");
const ED25519_PUBLIC: &str = include_str!("../../jwt-tower/tests/keys/ed25519-public.pem");
const RSA_PRIVATE: &str = include_str!("../../jwt-tower/tests/keys/rsa2048-private.pem");
const RSA_PUBLIC: &str = include_str!("../../jwt-tower/tests/keys/rsa2048-public.pem");

const ALGS: [Algorithm; 4] = [
    Algorithm::HS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
    Algorithm::RS256,
];

fn kid(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "hs",
        Algorithm::ES256 => "es",
        Algorithm::EdDSA => "ed",
        _ => "rs",
    }
}

fn encoding_key(alg: Algorithm) -> EncodingKey {
    match alg {
        Algorithm::HS256 => EncodingKey::from_secret(SECRET).unwrap(),
        Algorithm::ES256 => EncodingKey::from_ec_pem(P256_PRIVATE.as_bytes()).unwrap(),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(ED25519_PRIVATE.as_bytes()).unwrap(),
        _ => EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
    }
}

fn decoding_key(alg: Algorithm) -> DecodingKey {
    match alg {
        Algorithm::HS256 => DecodingKey::from_secret(SECRET).unwrap(),
        Algorithm::ES256 => DecodingKey::from_ec_pem(P256_PUBLIC.as_bytes()).unwrap(),
        Algorithm::EdDSA => DecodingKey::from_ed_pem(ED25519_PUBLIC.as_bytes()).unwrap(),
        _ => DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes()).unwrap(),
    }
}

struct Fixture {
    lenient: Verifier<Value>,
    /// As `lenient`, with a verified-token cache.
    cached: Verifier<Value>,
    strict: Verifier<RegisteredClaims>,
    routed: Verifier<RegisteredClaims>,
    /// Genuinely signed tokens, and their algorithm.
    originals: Vec<(String, Algorithm)>,
    decoding: Vec<(Algorithm, DecodingKey)>,
    /// The keys the re-sign mode signs with.
    hs256: EncodingKey,
    eddsa: EncodingKey,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let keys = KeySet::new([
        VerificationKey::hmac(Algorithm::HS256, SECRET)
            .unwrap()
            .with_kid(kid(Algorithm::HS256)),
        VerificationKey::from_pem(Algorithm::ES256, P256_PUBLIC)
            .unwrap()
            .with_kid(kid(Algorithm::ES256)),
        VerificationKey::from_pem(Algorithm::EdDSA, ED25519_PUBLIC)
            .unwrap()
            .with_kid(kid(Algorithm::EdDSA)),
        VerificationKey::from_pem(Algorithm::RS256, RSA_PUBLIC)
            .unwrap()
            .with_kid(kid(Algorithm::RS256)),
    ]);
    let lenient = Verifier::builder(keys.clone())
        .algorithms(ALGS)
        .accept_any_audience()
        .build()
        .unwrap();
    let cached = Verifier::builder(keys.clone())
        .algorithms(ALGS)
        .accept_any_audience()
        .cache(64)
        .build()
        .unwrap();
    let strict: Verifier<RegisteredClaims> = Verifier::builder(keys)
        .algorithms(ALGS)
        .issuer(ISSUER)
        .audience("api")
        .require_claims(["sub", "jti"])
        .build()
        .unwrap();
    let routed = Verifier::by_issuer([(ISSUER, strict.clone())]).unwrap();
    let claim_sets = [
        // Plain JSON: the scanner's fast path.
        json!({"sub": "alice", "iss": ISSUER, "aud": "api", "exp": 4_000_000_000u64,
               "iat": 1_700_000_000, "jti": "j1", "scope": "read write", "roles": ["admin"]}),
        // Escapes and nesting: serde's path.
        json!({"sub": "al\"ice", "iss": ISSUER, "aud": ["web", "api"], "exp": 4_000_000_000u64,
               "nbf": 1_700_000_000, "jti": "j\\2", "ctx": {"tenant": "acme", "n": [1, 2.5]}}),
    ];
    let mut originals = Vec::new();
    for alg in ALGS {
        for claims in &claim_sets {
            let mut header = Header::new(jwt_alg(alg));
            header.kid = Some(kid(alg).to_owned());
            let token = jsonwebtoken::encode(&header, claims, &encoding_key(alg)).unwrap();
            assert!(lenient.verify(&token).is_ok() && strict.verify(&token).is_ok());
            originals.push((token, alg));
        }
    }
    let decoding = ALGS
        .into_iter()
        .map(|alg| (alg, decoding_key(alg)))
        .collect();
    Fixture {
        lenient,
        cached,
        strict,
        routed,
        originals,
        decoding,
        hs256: encoding_key(Algorithm::HS256),
        eddsa: encoding_key(Algorithm::EdDSA),
    }
});

fn signing_input(token: &str) -> &str {
    token.rsplit_once('.').map_or(token, |(input, _)| input)
}

/// The token's decoded payload.
fn payload(token: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()
}

/// Whether jsonwebtoken reads this token's dates as we do (see the module docs).
fn comparable(token: &str) -> bool {
    if jsonwebtoken::decode_header(token).is_err() {
        return false;
    }
    let Some(Ok(Value::Object(claims))) = payload(token).map(|p| serde_json::from_slice(&p)) else {
        return false;
    };
    // Only numbers it cannot take as a u64 are left out: a date of another type (a
    // string, say) is refused by both.
    ["exp", "nbf"].iter().all(|date| {
        claims
            .get(*date)
            .is_none_or(|v| !v.is_number() || v.as_u64().is_some())
    })
}

/// Verifies `token` with all three verifiers and checks what they accept. `genuine`:
/// only the original tokens can be accepted (no signing key in the loop).
fn check(token: &str, genuine: bool) {
    let f = &*FIXTURE;
    let lenient = f.lenient.verify(token);
    let strict = f.strict.verify(token);
    let routed = f.routed.verify(token);
    let cached = f.cached.verify(token);
    let time_bound = |r: &Result<_, jwt_tower::AuthError>| {
        r.as_ref().is_err_and(|e| {
            matches!(
                e.kind(),
                RejectionKind::Expired | RejectionKind::NotYetValid
            )
        })
    };
    if !time_bound(&lenient) && !time_bound(&cached) {
        assert_eq!(
            cached.as_ref().map(|v| v.claims()).map_err(|e| e.kind()),
            lenient.as_ref().map(|v| v.claims()).map_err(|e| e.kind()),
            "the cached verifier disagrees on {token:?}"
        );
    }
    // Error kinds may differ (the router refuses a token without `iss` before its
    // signature is checked); what is accepted may not.
    assert_eq!(
        routed.as_ref().ok().map(|v| v.claims()),
        strict.as_ref().ok().map(|v| v.claims()),
        "the router and its verifier disagree on {token:?}"
    );
    if let Ok(strict) = &strict {
        match &lenient {
            Ok(lenient) => {
                let as_registered: RegisteredClaims =
                    serde_json::from_value(lenient.claims().clone())
                        .unwrap_or_else(|e| panic!("{e}: {token:?}"));
                assert_eq!(&as_registered, strict.claims(), "{token:?}");
            }
            // `RegisteredClaims` skips claims it does not know, a `Value` reads them all:
            // the lenient verifier may refuse claims no `Value` can hold (invalid UTF-8 in
            // a string, a number out of range), and nothing else.
            Err(e) => assert!(
                payload(token).is_some_and(|p| serde_json::from_slice::<Value>(&p).is_err()),
                "the strict verifier accepted what the lenient one refuses ({e}): {token:?}"
            ),
        }
    }
    let Ok(verified) = &lenient else {
        if genuine && let Some((_, alg)) = f.originals.iter().find(|(t, _)| t == token) {
            panic!("a genuine {alg:?} token was refused: {:?}", lenient.err());
        }
        return;
    };
    let alg = verified.header().unwrap().alg;
    if genuine {
        let original = f
            .originals
            .iter()
            .find(|(t, _)| signing_input(t) == signing_input(token))
            .unwrap_or_else(|| panic!("accepted a signing input nobody signed: {token:?}"));
        assert_eq!(alg, original.1);
        if alg != Algorithm::ES256 {
            assert_eq!(
                token, original.0,
                "a second spelling of a deterministic signature"
            );
        }
    }
    if comparable(token) {
        let key = &f
            .decoding
            .iter()
            .find(|(a, _)| *a == alg)
            .expect("a key for alg")
            .1;
        let mut validation = Validation::new(jwt_alg(alg));
        validation.leeway = 30;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        let theirs = jsonwebtoken::decode::<Value>(token, key, &validation)
            .unwrap_or_else(|e| panic!("we accept, jsonwebtoken refuses ({e}): {token:?}"));
        assert_eq!(&theirs.claims, verified.claims(), "{token:?}");
    }
}

/// Applies the input's edits to `token`: 4-byte records `[op, pos, pos, value]`.
fn mutate(token: &[u8], edits: &[u8]) -> Vec<u8> {
    let f = &*FIXTURE;
    let mut out = token.to_vec();
    for edit in edits.chunks_exact(4) {
        let pos = usize::from(u16::from_le_bytes([edit[1], edit[2]]));
        let value = edit[3];
        let at = pos % (out.len() + 1);
        match edit[0] % 6 {
            0 if at < out.len() => out[at] = value,
            1 => out.insert(at, value),
            2 if at < out.len() => {
                out.remove(at);
            }
            3 => out.truncate(at),
            4 => {
                // Overwrite from `at` with a stretch of another genuine token.
                let (other, _) = &f.originals[usize::from(value) % f.originals.len()];
                let from = pos % other.len();
                let len = usize::from(edit[0] >> 3).min(other.len() - from);
                for (i, b) in other.as_bytes()[from..from + len].iter().enumerate() {
                    match out.get_mut(at + i) {
                        Some(slot) => *slot = *b,
                        None => out.push(*b),
                    }
                }
            }
            5 if at < out.len() => out[at] ^= 1 << (value % 8),
            _ => {}
        }
    }
    out
}

fuzz_target!(|input: &[u8]| {
    let f = &*FIXTURE;
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            if let Ok(token) = std::str::from_utf8(rest) {
                check(token, true);
            }
        }
        1 => {
            let Some((&which, edits)) = rest.split_first() else {
                return;
            };
            let (original, _) = &f.originals[usize::from(which) % f.originals.len()];
            let mutated = mutate(original.as_bytes(), edits);
            if let Ok(token) = std::str::from_utf8(&mutated) {
                check(token, true);
            }
        }
        _ => {
            // [alg, header length, header bytes..., payload bytes...]
            let [alg, header_len, rest @ ..] = rest else {
                return;
            };
            let (alg, key) = if alg % 2 == 0 {
                (Algorithm::HS256, &f.hs256)
            } else {
                (Algorithm::EdDSA, &f.eddsa)
            };
            let (header, payload) = rest.split_at(usize::from(*header_len).min(rest.len()));
            let mut token = URL_SAFE_NO_PAD.encode(header);
            token.push('.');
            token.push_str(&URL_SAFE_NO_PAD.encode(payload));
            let signature =
                jsonwebtoken::crypto::sign(token.as_bytes(), key, jwt_alg(alg)).expect("signing");
            token.push('.');
            token.push_str(&signature);
            check(&token, false);
        }
    }
});

/// The same algorithm as jsonwebtoken, the oracle, names it.
fn jwt_alg(alg: Algorithm) -> jsonwebtoken::Algorithm {
    alg.name().parse().expect("the same JOSE names")
}
