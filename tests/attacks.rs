//! The attack suite: every attack on a JWS verifier we know of, each a test
//! with the outcome we expect and, in its one-line doc comment, why that outcome is right.
//!
//! Many cases were already covered by the `Verifier`'s own tests in
//! `jwt-tower/tests/verifier.rs` (V below); this file (A) holds the rest, the RFC vectors,
//! and tokens signed by an independent implementation (PyJWT, `tests/vectors/`).
//!
//! | attack | V: `jwt-tower/tests/verifier.rs` | A: `tests/attacks.rs` |
//! |---|---|---|
//! | `alg: none`, every casing | `alg_none_in_any_casing_is_refused` | `alg_none_in_all_sixteen_casings_is_refused`, `rfc7515_a5_unsecured_jws_is_refused`, `pyjwt_deliberately_wrong_tokens_are_refused` (`alg-none`) |
//! | empty and stripped signatures | `alg_none_with_signature_segment_stripped_is_refused`, `empty_signature_with_a_real_alg_is_invalid` | `empty_signature_is_invalid_for_every_algorithm`, `alg_none_in_all_sixteen_casings_is_refused` |
//! | algorithm confusion (public key as HMAC secret) | `algorithm_confusion_rsa_public_key_as_hmac_secret_never_verifies`, `alg_allowed_but_not_the_keys_is_refused`, `rsa_key_from_pem_does_not_verify_pss_with_the_same_modulus`, `ec_key_does_not_verify_another_curve` | `algorithm_confusion_ec_and_ed25519_public_keys_as_hmac_secrets_never_verify`, `pyjwt_deliberately_wrong_tokens_are_refused` (`hs256-with-*-public-pem-as-secret`) |
//! | embedded `jwk`, `jku`, `x5u`, `x5c` | `embedded_jwk_is_never_used`, `jku_and_x5u_are_never_fetched`, `x5c_chain_is_never_used`, `embedded_oct_jwk_with_attacker_secret_is_never_used`, `header_extras_do_not_affect_a_genuine_token` | `embedded_key_with_an_unknown_kid_is_not_a_fallback`, `pyjwt_deliberately_wrong_tokens_are_refused` (`rs256-attacker-key-*`) |
//! | `kid`: path traversal | `unknown_kid_is_unknown_key` | `kid_with_path_traversal_names_no_key`, `pyjwt_deliberately_wrong_tokens_are_refused` (`hs256-kid-path-traversal-empty-secret`) |
//! | `kid`: SQL | | `kid_with_sql_or_nosql_injection_names_no_key` |
//! | `kid`: NUL, look-alikes | | `kid_with_nul_or_a_look_alike_names_no_key` |
//! | `kid`: very long, wrong JSON type | | `very_long_kid_names_no_key`, `kid_of_the_wrong_json_type_is_malformed` |
//! | `kid` naming another issuer's key | | `kid_naming_another_issuers_key_is_refused` |
//! | ECDSA psychic signature (r = s = 0) | | `ecdsa_psychic_signatures_are_invalid`, `pyjwt_deliberately_wrong_tokens_are_refused` (`es256-r-and-s-zero`) |
//! | ECDSA r or s = n, > n, all-0xFF | | `ecdsa_out_of_range_r_or_s_is_invalid`, `ecdsa_signature_of_the_wrong_length_is_invalid`, `ecdsa_high_s_twin_of_a_valid_signature_verifies`, `pyjwt_deliberately_wrong_tokens_are_refused` (`es384-r-and-s-equal-n`) |
//! | DER-encoded ECDSA signature | | `der_encoded_ecdsa_signature_is_invalid`, `pyjwt_deliberately_wrong_tokens_are_refused` (`es256-der-signature`) |
//! | base64url: padding | `padded_base64_is_not_accepted`, `correctly_signed_padded_payload_is_malformed` | `padding_in_a_re_signed_header_is_malformed` |
//! | base64url: `+`, `/` | `standard_base64_alphabet_is_not_accepted` | `standard_alphabet_in_a_re_signed_segment_is_malformed` |
//! | base64url: non-zero trailing bits | `non_canonical_signature_encoding_is_not_accepted` | `non_zero_trailing_bits_are_malformed_in_every_part` |
//! | whitespace | `whitespace_inside_the_token_is_not_accepted` | `whitespace_in_a_re_signed_segment_is_malformed` |
//! | extra dots | `wrong_segment_counts_are_malformed` | `extra_dots_are_refused` |
//! | duplicate JSON members: header | `duplicate_alg_in_header_is_malformed`, `duplicate_members_in_the_header_at_any_level_are_malformed` | `duplicate_header_members_are_malformed`, `tokens_with_two_readings_are_refused_over_http` |
//! | duplicate JSON members: claims, any level, any claims type | `duplicate_exp_is_malformed`, `duplicate_iss_aud_sub_are_malformed`, `duplicate_members_in_the_claims_at_any_level_are_malformed_for_every_claims_type` | `duplicate_iat_and_jti_are_malformed`, `duplicate_custom_claim_in_a_derived_claims_type_is_malformed`, `tokens_with_two_readings_are_refused_over_http` |
//! | header or claims not a JSON object (`["HS256"]`) | `header_that_is_not_a_json_object_is_malformed`, `payload_that_is_not_an_object_is_malformed` | `tokens_with_two_readings_are_refused_over_http` |
//! | header or claims not UTF-8 | `header_that_is_not_utf8_is_malformed` (and the unit test `claims_that_are_not_utf8_are_malformed`) | |
//! | control characters (NUL) in identity claims | `control_characters_in_identity_claims_are_invalid_claims` | `tokens_with_two_readings_are_refused_over_http` |
//! | `iat` in the future | `iat_in_the_future_is_not_yet_valid_without_a_max_age`, `max_age_with_an_iat_in_the_future_is_not_yet_valid` | `future_iat_cannot_dodge_a_subject_revocation` |
//! | `cty: JWT` (nested token) | `nested_jwt_content_type_is_invalid_type` | `tokens_with_two_readings_are_refused_over_http` |
//! | `aud` with no audience configured | `an_audience_is_refused_unless_configured_or_explicitly_accepted`, `the_issuer_router_reads_claims_as_strictly_as_its_verifiers` | `a_token_for_an_audience_is_refused_by_a_verifier_for_none` |
//! | claims of the wrong type (`exp` string, float, negative, overflowing) | `exp_as_a_string_is_an_invalid_claim`, `exp_as_a_float_is_floored`, `exp_past_beyond_leeway_is_expired`, `exp_larger_than_i64_is_an_invalid_claim`, `exp_as_a_non_finite_or_huge_float_is_an_invalid_claim`, `claims_of_the_wrong_shape_for_c_are_an_invalid_claim` | `numeric_dates_at_their_limits`; `registered_claims_accept_non_integer_numeric_dates` (a bug this suite found, fixed) |
//! | `aud` array vs string | `audience_string_matches`, `audience_array_matches`, `audience_no_match_is_invalid_audience`, `audience_of_the_wrong_type_is_an_invalid_claim`, `audience_missing_is_a_missing_claim` | `audience_edge_shapes`, `pyjwt_deliberately_wrong_tokens_are_refused` (`hs256-wrong-audience`) |
//! | `iss` mismatch | `issuer_wrong_is_invalid_issuer`, `issuer_of_the_wrong_type_is_an_invalid_claim`, `issuer_missing_is_a_missing_claim` | `issuer_is_compared_exactly` |
//! | `nbf` in the future | `nbf_future_beyond_leeway_is_not_yet_valid`, `nbf_within_leeway_or_unchecked_is_accepted` | `nbf_leeway_edges_are_exact` |
//! | leeway edges (exp + leeway, ±1 s) | `exp_past_within_leeway_is_accepted`, `zero_leeway_is_strict` | `exp_leeway_edges_are_exact`, `nbf_leeway_edges_are_exact`, `zero_leeway_edges_are_exact`, `max_age_edges_are_exact` |
//! | `crit` with unknown extensions | `crit_with_an_unknown_extension_is_refused`, `crit_empty_array_is_refused`, `crit_of_the_wrong_type_is_malformed`, `crit_null_is_malformed_and_enc_null_is_still_a_jwe` | `crit_naming_registered_or_present_members_is_refused`, `pyjwt_deliberately_wrong_tokens_are_refused` (`hs256-crit`) |
//! | `typ` confusion (ID token where `at+jwt` is required) | `wrong_or_missing_typ_is_invalid_type`, `required_typ_matches_with_or_without_application_prefix` | `id_token_where_an_access_token_is_required_is_invalid_type`, `without_require_typ_an_id_token_is_judged_by_its_audience_only` |
//! | a JWE given to the verifier | `five_segments_is_encrypted`, `enc_header_is_encrypted`, `crit_null_is_malformed_and_enc_null_is_still_a_jwe` | `rfc7516_a3_jwe_is_encrypted` |
//! | 8 KiB tokens | `token_longer_than_the_default_limit_is_too_large`, `token_at_exactly_the_limit_is_accepted_one_more_byte_is_not`, `oversized_signature_is_refused` | `large_tokens_through_the_http_layer_are_refused` |
//! | 1 MiB tokens | | `one_mebibyte_token_is_too_large_by_default`, `one_mebibyte_token_verifies_under_a_raised_limit`, `large_tokens_through_the_http_layer_are_refused` |
//! | deeply nested JSON (past `MAX_JSON_DEPTH`, to 100k levels) | `nesting_deeper_than_the_limit_is_malformed_in_claims_and_header` | `deeply_nested_claims_never_overflow_the_stack`, `tokens_with_two_readings_are_refused_over_http`, `deeply_nested_header_never_overflows_the_stack`, `deeply_nested_payload_through_the_issuer_router_never_overflows_the_stack` |
//! | an independent implementation (PyJWT) | | `pyjwt_tokens_verify_with_keys_from_pem`, `pyjwt_tokens_verify_against_the_jwks_pyjwt_exported`, `pyjwt_deliberately_wrong_tokens_are_refused` |
//! | RFC 7515 A.1 HS256, A.2 RS256, A.3 ES256 | | `rfc7515_a1_hs256`, `rfc7515_a2_rs256`, `rfc7515_a3_es256` |
//! | RFC 7515 A.4 ES512 | | `rfc7515_a4_es512_is_unsupported_and_refused` |
//! | RFC 7515 A.5 unsecured | | `rfc7515_a5_unsecured_jws_is_refused` |
//! | RFC 8037 A.4/A.5 Ed25519 | | `rfc8037_a4_ed25519_signature_verifies_then_the_payload_is_refused` |
//!
//! `tests/vectors/pyjwt.json` is written by `tests/vectors/generate.py` (its header says how
//! to regenerate it); these tests only read it.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::{Router, routing::get};
use jsonwebtoken::EncodingKey;
use jwt_tower::algorithm::SUPPORTED;
use jwt_tower::{
    Algorithm, AuthError, JwtLayer, KeySet, RegisteredClaims, RejectionKind, VerificationKey,
    VerifiedToken, Verifier,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use RejectionKind as K;

// ---------------------------------------------------------------- helpers

/// A 64-byte HMAC secret: long enough for HS512.
const SECRET: &[u8; 64] = b"attack-suite-secret-0123456789abcdef0123456789abcdef0123456789ab";

/// The outcome of a verification, comparable: `Ok(())` or the rejection's kind.
fn outcome<C>(result: Result<VerifiedToken<C>, AuthError>) -> Result<(), RejectionKind> {
    result.map(|_| ()).map_err(|e| e.kind())
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Runs `f` with the current second, again if the clock ticked over meanwhile: the test
/// and the verifier then agree on "now" to the second.
fn at_one_second<T>(f: impl Fn(i64) -> T) -> T {
    loop {
        let start = now();
        let result = f(start);
        if now() == start {
            return result;
        }
    }
}

const B64_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding (RFC 7515 §2).
fn b64(bytes: impl AsRef<[u8]>) -> String {
    let bytes = bytes.as_ref();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(B64_ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes base64url or standard base64 (a PEM body), ignoring padding and line breaks.
/// Test input only: it panics on anything else.
fn unb64(text: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let value = match c {
            b'+' => 62,
            b'/' => 63,
            b'=' | b'\n' | b'\r' => continue,
            _ => B64_ALPHABET
                .iter()
                .position(|a| *a == c)
                .unwrap_or_else(|| panic!("not base64: {c:?}")) as u32,
        };
        bits = bits << 6 | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn hmac_key(secret: &[u8]) -> EncodingKey {
    EncodingKey::from_secret(secret).unwrap()
}

/// The private key for `alg` among the test keys, and its public half as a verification key.
fn key_pair(alg: Algorithm) -> (EncodingKey, VerificationKey) {
    let (private, public) = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            return (
                hmac_key(SECRET),
                VerificationKey::hmac(alg, SECRET).unwrap(),
            );
        }
        Algorithm::ES256 => ("p256-private.pem", "p256-public.pem"),
        Algorithm::ES384 => ("p384-private.pem", "p384-public.pem"),
        Algorithm::EdDSA | Algorithm::Ed25519 => ("ed25519-private.pem", "ed25519-public.pem"),
        _ => ("rsa2048-private.pem", "rsa2048-public.pem"),
    };
    let pem = support::key_file(private);
    let encoding = match alg {
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem.as_bytes()),
        Algorithm::EdDSA | Algorithm::Ed25519 => EncodingKey::from_ed_pem(pem.as_bytes()),
        _ => EncodingKey::from_rsa_pem(pem.as_bytes()),
    }
    .unwrap();
    let verification = VerificationKey::from_pem(alg, support::key_file(public)).unwrap();
    (encoding, verification)
}

/// `header.payload`, both given as exact JSON text.
fn signing_input(header: &str, payload: &str) -> String {
    format!("{}.{}", b64(header), b64(payload))
}

/// The base64url signature of `signing_input` with `key` for `alg`.
fn signature(key: &EncodingKey, alg: Algorithm, signing_input: &str) -> String {
    jsonwebtoken::crypto::sign(signing_input.as_bytes(), key, support::jwt_alg(alg)).unwrap()
}

/// A token over this exact header and payload text.
fn sign_raw(key: &EncodingKey, alg: Algorithm, header: &str, payload: &str) -> String {
    let input = signing_input(header, payload);
    let sig = signature(key, alg, &input);
    format!("{input}.{sig}")
}

/// `input` (already `header.payload`, whatever its encoding) signed with HS256 over [`SECRET`].
fn hs256_over(input: &str) -> String {
    format!(
        "{input}.{}",
        signature(&hmac_key(SECRET), Algorithm::HS256, input)
    )
}

/// An HS256 token over `claims` with [`SECRET`].
fn hs256(claims: &Value) -> String {
    sign_raw(
        &hmac_key(SECRET),
        Algorithm::HS256,
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &claims.to_string(),
    )
}

/// A verifier over [`SECRET`] for HS256.
fn hs256_verifier() -> Verifier<RegisteredClaims> {
    Verifier::builder(VerificationKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap()
}

/// Claims valid for an hour.
fn claims() -> Value {
    json!({ "sub": "alice", "iat": now(), "exp": now() + 3600 })
}

/// Valid claims with `extra` members added or replaced.
fn claims_with(extra: Value) -> Value {
    let mut c = claims();
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

/// `token` with one bit of its signature's first byte flipped (and canonically re-encoded).
fn flip_signature_bit(token: &str) -> String {
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut bytes = unb64(sig);
    bytes[0] ^= 1;
    format!("{head}.{}", b64(bytes))
}

/// `token` with its payload replaced by `payload` (JSON text) under the same signature.
fn swap_payload(token: &str, payload: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], b64(payload), parts[2])
}

// ---------------------------------------------------------------- alg: none, empty signatures

/// `none` in any of its 16 casings (or escaped, or padded) is no algorithm: refused whatever the signature, before any key is used.
#[test]
fn alg_none_in_all_sixteen_casings_is_refused() {
    let verifier = Verifier::<RegisteredClaims>::builder(key_pair(Algorithm::HS256).1)
        .algorithms(SUPPORTED)
        .build()
        .unwrap();
    let genuine = hs256(&claims());
    let (_, stolen_sig) = genuine.rsplit_once('.').unwrap();
    let payload = b64(claims().to_string());
    let mut headers: Vec<String> = (0..16u8)
        .map(|mask| {
            let spelling: String = "none"
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if mask & (1 << i) != 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            json!({ "alg": spelling, "typ": "JWT" }).to_string()
        })
        .collect();
    headers.extend([
        r#"{"alg":"\u006e\u006f\u006e\u0065"}"#.to_owned(),
        r#"{"alg":"none "}"#.to_owned(),
        r#"{"alg":" none"}"#.to_owned(),
        r#"{"alg":"none\u0000"}"#.to_owned(),
    ]);
    for header in &headers {
        let h = b64(header);
        for token in [
            format!("{h}.{payload}."),
            format!("{h}.{payload}.{stolen_sig}"),
        ] {
            assert_eq!(
                outcome(verifier.verify(&token)),
                Err(K::AlgorithmNotAllowed),
                "{header}"
            );
        }
        // The signature segment stripped, dot and all: two segments are no JWS.
        assert_eq!(
            outcome(verifier.verify(&format!("{h}.{payload}"))),
            Err(K::Malformed),
            "{header}"
        );
    }
}

/// Stripping the signature leaves an empty one, which verifies under no supported algorithm.
#[test]
fn empty_signature_is_invalid_for_every_algorithm() {
    for alg in SUPPORTED {
        let (private, public) = key_pair(alg);
        let verifier = Verifier::<RegisteredClaims>::builder(public)
            .algorithms([alg])
            .build()
            .unwrap();
        // Written by hand: jsonwebtoken's `Header` cannot name `Ed25519`.
        let header = serde_json::json!({"typ": "JWT", "alg": alg.name()}).to_string();
        let token = sign_raw(&private, alg, &header, &claims().to_string());
        assert_eq!(outcome(verifier.verify(&token)), Ok(()), "{alg:?}");
        let (head, _) = token.rsplit_once('.').unwrap();
        assert_eq!(
            outcome(verifier.verify(&format!("{head}."))),
            Err(K::InvalidSignature),
            "{alg:?}"
        );
    }
}

// ---------------------------------------------------------------- algorithm confusion

/// An EC or Ed25519 public key (as PEM, DER or raw point; loaded from PEM or JWK) is never an HMAC secret: the key decides the algorithm.
#[test]
fn algorithm_confusion_ec_and_ed25519_public_keys_as_hmac_secrets_never_verify() {
    let p256 = key_pair(Algorithm::ES256).1.with_kid("ec");
    let ed = key_pair(Algorithm::EdDSA).1.with_kid("ed");
    let p384_jwk = {
        let private = key_pair(Algorithm::ES384).0;
        let mut jwk = serde_json::to_value(
            jsonwebtoken::jwk::Jwk::from_encoding_key(&private, support::jwt_alg(Algorithm::ES384))
                .unwrap(),
        )
        .unwrap();
        jwk.as_object_mut().unwrap().remove("alg");
        jwk["kid"] = json!("ec-jwk");
        VerificationKey::from_jwk_str(&jwk.to_string()).unwrap()
    };
    let hmac = VerificationKey::hmac(Algorithm::HS256, SECRET)
        .unwrap()
        .with_kid("hmac");
    let verifier = Verifier::<RegisteredClaims>::builder(KeySet::new([p256, ed, p384_jwk, hmac]))
        .algorithms(SUPPORTED)
        .build()
        .unwrap();
    for (kid, pem_file) in [
        ("ec", "p256-public.pem"),
        ("ed", "ed25519-public.pem"),
        ("ec-jwk", "p384-public.pem"),
    ] {
        let pem = support::key_file(pem_file);
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = unb64(&body);
        // The raw public key is the tail of the SubjectPublicKeyInfo (65/97 or 32 bytes).
        let raw_len = if kid == "ed" {
            32
        } else if kid == "ec" {
            65
        } else {
            97
        };
        let raw = der[der.len() - raw_len..].to_vec();
        for secret in [
            pem.as_bytes().to_vec(),
            pem.trim_end().as_bytes().to_vec(),
            der.clone(),
            raw,
        ] {
            for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
                let header = json!({ "alg": jwt_tower::algorithm::name(alg), "kid": kid });
                let token = sign_raw(
                    &hmac_key(&secret),
                    alg,
                    &header.to_string(),
                    &claims().to_string(),
                );
                assert_eq!(
                    outcome(verifier.verify(&token)),
                    Err(K::AlgorithmNotAllowed),
                    "{kid} {alg:?}"
                );
            }
        }
    }
    // The reverse: an ES256 token naming the HMAC key is refused too, and genuine tokens pass.
    let (p256_private, _) = key_pair(Algorithm::ES256);
    let es_as_hmac = sign_raw(
        &p256_private,
        Algorithm::ES256,
        r#"{"alg":"ES256","kid":"hmac"}"#,
        &claims().to_string(),
    );
    assert_eq!(
        outcome(verifier.verify(&es_as_hmac)),
        Err(K::AlgorithmNotAllowed)
    );
    let genuine = sign_raw(
        &p256_private,
        Algorithm::ES256,
        r#"{"alg":"ES256","kid":"ec"}"#,
        &claims().to_string(),
    );
    assert_eq!(outcome(verifier.verify(&genuine)), Ok(()));
}

// ---------------------------------------------------------------- keys named by the token

/// A key carried in the header is never a fallback for a `kid` we lack: the token names an unknown key.
#[test]
fn embedded_key_with_an_unknown_kid_is_not_a_fallback() {
    let (_, ours) = key_pair(Algorithm::RS256);
    let other =
        VerificationKey::from_pem(Algorithm::RS256, support::key_file("rsa2048b-public.pem"))
            .unwrap()
            .with_kid("other");
    let verifier =
        Verifier::<RegisteredClaims>::builder(KeySet::new([ours.with_kid("issuer-key"), other]))
            .algorithms([Algorithm::RS256])
            .build()
            .unwrap();
    let attacker =
        EncodingKey::from_rsa_pem(support::key_file("rsa2048b-private.pem").as_bytes()).unwrap();
    let jwk = serde_json::to_value(
        jsonwebtoken::jwk::Jwk::from_encoding_key(&attacker, support::jwt_alg(Algorithm::RS256))
            .unwrap(),
    )
    .unwrap();
    for header in [
        json!({ "alg": "RS256", "kid": "attacker-key", "jwk": jwk }),
        json!({ "alg": "RS256", "jwk": jwk }),
        json!({ "alg": "RS256", "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"] }),
        json!({ "alg": "RS256", "kid": "attacker-key", "jku": "https://attacker.example/jwks" }),
    ] {
        let token = sign_raw(
            &attacker,
            Algorithm::RS256,
            &header.to_string(),
            &claims().to_string(),
        );
        assert_eq!(
            outcome(verifier.verify(&token)),
            Err(K::UnknownKey),
            "{header}"
        );
    }
}

/// Two HMAC keys, `a` and `b`, and the verifier over them.
fn two_keys() -> (Verifier<RegisteredClaims>, EncodingKey) {
    let secret_a = [b'a'; 32];
    let set = KeySet::new([
        VerificationKey::hmac(Algorithm::HS256, secret_a)
            .unwrap()
            .with_kid("a"),
        VerificationKey::hmac(Algorithm::HS256, [b'b'; 32])
            .unwrap()
            .with_kid("b"),
    ]);
    let verifier = Verifier::builder(set)
        .algorithms([Algorithm::HS256])
        .max_token_len(2 << 20)
        .build()
        .unwrap();
    (verifier, hmac_key(&secret_a))
}

/// An HS256 token naming `kid` (given as the JSON text of the string, escapes and all).
fn with_kid_json(key: &EncodingKey, kid_json: &str) -> String {
    sign_raw(
        key,
        Algorithm::HS256,
        &format!(r#"{{"alg":"HS256","kid":{kid_json}}}"#),
        &claims().to_string(),
    )
}

fn with_kid(key: &EncodingKey, kid: &str) -> String {
    with_kid_json(key, &Value::from(kid).to_string())
}

/// A `kid` is an opaque name in our key set, never a path: traversal (to /dev/null, or back to a real kid) names no key.
#[test]
fn kid_with_path_traversal_names_no_key() {
    let (verifier, a) = two_keys();
    for kid in [
        "../../../../../../dev/null",
        "/dev/null",
        "/proc/self/environ",
        "..\\..\\..\\windows\\win.ini",
        "file:///dev/null",
        "%2e%2e%2f%2e%2e%2fdev%2fnull",
        "a/../a",
        "./a",
        "a/",
        "b/../a",
    ] {
        for token in [with_kid_empty_secret(kid), with_kid(&a, kid)] {
            assert_eq!(
                outcome(verifier.verify(&token)),
                Err(K::UnknownKey),
                "{kid}"
            );
        }
    }
    assert_eq!(outcome(verifier.verify(&with_kid(&a, "a"))), Ok(()));
}

/// As [`with_kid`], signed with an empty HMAC secret: the key a naive verifier would read
/// from /dev/null. jsonwebtoken refuses to sign with an empty secret, so aws-lc-rs signs.
fn with_kid_empty_secret(kid: &str) -> String {
    use aws_lc_rs::hmac;
    let input = signing_input(
        &format!(r#"{{"alg":"HS256","kid":{}}}"#, Value::from(kid)),
        &claims().to_string(),
    );
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b""), input.as_bytes());
    format!("{input}.{}", b64(tag))
}

/// SQL or NoSQL in a `kid` is just a name no key has: the key set is a map, nothing is ever queried.
#[test]
fn kid_with_sql_or_nosql_injection_names_no_key() {
    let (verifier, a) = two_keys();
    let attacker = hmac_key(b"attacker-secret-attacker-secret!");
    for kid in [
        "' OR '1'='1",
        "a' OR 'x'='x",
        "x' UNION SELECT 'attacker-secret-attacker-secret!' --",
        "a'; DROP TABLE keys; --",
        "a\" OR \"\"=\"",
        "{\"$ne\":null}",
        "a' --",
    ] {
        for key in [&attacker, &a] {
            assert_eq!(
                outcome(verifier.verify(&with_kid(key, kid))),
                Err(K::UnknownKey),
                "{kid}"
            );
        }
    }
}

/// NUL does not truncate a `kid` and look-alikes are other names; a JSON escape is only another spelling of the same one.
#[test]
fn kid_with_nul_or_a_look_alike_names_no_key() {
    let (verifier, a) = two_keys();
    for kid in [
        "a\0",
        "a\0b",
        "\0a",
        "\0",
        "A",
        "a ",
        " a",
        "\u{430}",
        "a\u{200b}",
        "",
    ] {
        assert_eq!(
            outcome(verifier.verify(&with_kid(&a, kid))),
            Err(K::UnknownKey),
            "{kid:?}"
        );
    }
    // `"\u0061"` is JSON for "a": the same kid, and a's signature verifies under it.
    assert_eq!(
        outcome(verifier.verify(&with_kid_json(&a, r#""\u0061""#))),
        Ok(())
    );
    assert_eq!(
        outcome(verifier.verify(&with_kid_json(&a, r#""\u0062""#))),
        Err(K::InvalidSignature)
    );
}

/// A very long `kid` (5 000 bytes, or 1 MiB under a raised limit) is looked up like any other: no key, no panic.
#[test]
fn very_long_kid_names_no_key() {
    let (raised, a) = two_keys();
    let default = Verifier::<RegisteredClaims>::builder(raised.keys().clone())
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap();
    let long = with_kid(&a, &"a".repeat(5_000));
    assert!(long.len() < 8 * 1024);
    assert_eq!(outcome(default.verify(&long)), Err(K::UnknownKey));
    let mebibyte = with_kid(&a, &"a".repeat(1 << 20));
    assert_eq!(outcome(raised.verify(&mebibyte)), Err(K::UnknownKey));
    assert_eq!(outcome(default.verify(&mebibyte)), Err(K::TokenTooLarge));
}

/// A `kid` must be a string (RFC 7515 §4.1.4): a number, an array or a NoSQL operator object is a broken header.
#[test]
fn kid_of_the_wrong_json_type_is_malformed() {
    let (verifier, a) = two_keys();
    for kid_json in [r#"{"$ne":null}"#, r#"{"$gt":""}"#, "42", r#"["a"]"#, "true"] {
        assert_eq!(
            outcome(verifier.verify(&with_kid_json(&a, kid_json))),
            Err(K::Malformed),
            "{kid_json}"
        );
    }
}

/// Under `Verifier::by_issuer` keys belong to one issuer: a token claiming issuer B is checked with B's keys only.
#[test]
fn kid_naming_another_issuers_key_is_refused() {
    const A: &str = "https://a.issuer.test";
    const B: &str = "https://b.issuer.test";
    let (secret_a, secret_b) = ([b'A'; 32], [b'B'; 32]);
    let issuer = |iss: &str, secret: &[u8; 32], own_kid: &str| {
        let set = KeySet::new([
            VerificationKey::hmac(Algorithm::HS256, secret)
                .unwrap()
                .with_kid(own_kid),
            VerificationKey::hmac(Algorithm::HS256, secret)
                .unwrap()
                .with_kid("shared-name"),
        ]);
        Verifier::<RegisteredClaims>::builder(set)
            .algorithms([Algorithm::HS256])
            .issuer(iss)
            .build()
            .unwrap()
    };
    let both = Verifier::by_issuer([
        (A, issuer(A, &secret_a, "a-key")),
        (B, issuer(B, &secret_b, "b-key")),
    ])
    .unwrap();
    let token = |secret: &[u8; 32], kid: &str, iss: &str| {
        sign_raw(
            &hmac_key(secret),
            Algorithm::HS256,
            &json!({ "alg": "HS256", "kid": kid }).to_string(),
            &claims_with(json!({ "iss": iss })).to_string(),
        )
    };
    // Genuine tokens of each issuer pass.
    assert_eq!(outcome(both.verify(&token(&secret_a, "a-key", A))), Ok(()));
    assert_eq!(outcome(both.verify(&token(&secret_b, "b-key", B))), Ok(()));
    // Claiming B, naming A's key and signed by it: B has no `a-key`.
    assert_eq!(
        outcome(both.verify(&token(&secret_a, "a-key", B))),
        Err(K::UnknownKey)
    );
    assert_eq!(
        outcome(both.verify(&token(&secret_b, "b-key", A))),
        Err(K::UnknownKey)
    );
    // The same kid in both issuers: claiming B selects B's key, which A's signature fails.
    assert_eq!(
        outcome(both.verify(&token(&secret_a, "shared-name", B))),
        Err(K::InvalidSignature)
    );
    assert_eq!(
        outcome(both.verify(&token(&secret_a, "shared-name", A))),
        Ok(())
    );
    // `none` through the router is refused too.
    let none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","kid":"a-key"}"#),
        b64(claims_with(json!({ "iss": A })).to_string())
    );
    assert_eq!(outcome(both.verify(&none)), Err(K::AlgorithmNotAllowed));
}

// ---------------------------------------------------------------- ECDSA signatures

/// The order n of P-256 and of P-384 (SEC 2), big-endian.
fn curve_order(alg: Algorithm) -> Vec<u8> {
    match alg {
        Algorithm::ES256 => hex("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"),
        Algorithm::ES384 => hex(concat!(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
            "C7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973"
        )),
        _ => unreachable!(),
    }
}

/// `a - b` for big-endian numbers of the same length, `a >= b`.
fn sub(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = a.to_vec();
    let mut borrow = 0i16;
    for i in (0..a.len()).rev() {
        let d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        out[i] = d.rem_euclid(256) as u8;
    }
    assert_eq!(borrow, 0);
    out
}

/// `a + 1` for a big-endian number (no overflow in our uses).
fn plus_one(a: &[u8]) -> Vec<u8> {
    let mut out = a.to_vec();
    for byte in out.iter_mut().rev() {
        let (sum, carry) = byte.overflowing_add(1);
        *byte = sum;
        if !carry {
            break;
        }
    }
    out
}

/// A verifier for `alg` (ES256 or ES384) over the test key, the signing input of a valid
/// token, and that token's raw r and s.
fn ecdsa_case(alg: Algorithm) -> (Verifier<RegisteredClaims>, String, Vec<u8>, Vec<u8>) {
    let (private, public) = key_pair(alg);
    let verifier = Verifier::builder(public).algorithms([alg]).build().unwrap();
    let header = json!({ "alg": jwt_tower::algorithm::name(alg), "typ": "JWT" });
    let input = signing_input(&header.to_string(), &claims().to_string());
    let sig = unb64(&signature(&private, alg, &input));
    let half = sig.len() / 2;
    (verifier, input, sig[..half].to_vec(), sig[half..].to_vec())
}

fn with_signature(input: &str, signature: &[u8]) -> String {
    format!("{input}.{}", b64(signature))
}

/// Psychic signatures (CVE-2022-21449): r = 0 or s = 0 is outside ECDSA's range [1, n-1], so the signature is invalid.
#[test]
fn ecdsa_psychic_signatures_are_invalid() {
    for alg in [Algorithm::ES256, Algorithm::ES384] {
        let (verifier, input, r, s) = ecdsa_case(alg);
        let zero = vec![0u8; r.len()];
        assert_eq!(
            outcome(verifier.verify(&with_signature(&input, &[r.clone(), s.clone()].concat()))),
            Ok(()),
            "{alg:?}: the genuine signature"
        );
        for (name, sig) in [
            ("r = s = 0", [zero.clone(), zero.clone()].concat()),
            ("r = 0", [zero.clone(), s.clone()].concat()),
            ("s = 0", [r.clone(), zero.clone()].concat()),
        ] {
            assert_eq!(
                outcome(verifier.verify(&with_signature(&input, &sig))),
                Err(K::InvalidSignature),
                "{alg:?}: {name}"
            );
        }
    }
}

/// r or s equal to n or above it (n + 1, all-0xFF) is outside [1, n-1]: invalid, never reduced mod n.
#[test]
fn ecdsa_out_of_range_r_or_s_is_invalid() {
    for alg in [Algorithm::ES256, Algorithm::ES384] {
        let (verifier, input, r, s) = ecdsa_case(alg);
        let n = curve_order(alg);
        let n_plus_one = plus_one(&n);
        let ones = vec![0xFFu8; n.len()];
        for (name, sig) in [
            ("r = s = n", [n.clone(), n.clone()].concat()),
            ("r = n", [n.clone(), s.clone()].concat()),
            ("s = n", [r.clone(), n.clone()].concat()),
            ("r = n + 1", [n_plus_one.clone(), s.clone()].concat()),
            ("s = n + 1", [r.clone(), n_plus_one.clone()].concat()),
            ("r = s = 0xFF..", [ones.clone(), ones.clone()].concat()),
            ("r = 0xFF..", [ones.clone(), s.clone()].concat()),
            ("s = 0xFF..", [r.clone(), ones.clone()].concat()),
        ] {
            assert_eq!(
                outcome(verifier.verify(&with_signature(&input, &sig))),
                Err(K::InvalidSignature),
                "{alg:?}: {name}"
            );
        }
    }
}

/// A JWS ECDSA signature is exactly twice the curve size (RFC 7518 §3.4): any other length is invalid.
#[test]
fn ecdsa_signature_of_the_wrong_length_is_invalid() {
    for alg in [Algorithm::ES256, Algorithm::ES384] {
        let (verifier, input, r, s) = ecdsa_case(alg);
        let genuine = [r.clone(), s.clone()].concat();
        let other_size = if alg == Algorithm::ES256 { 96 } else { 64 };
        for (name, sig) in [
            ("one byte short", genuine[..genuine.len() - 1].to_vec()),
            ("one byte long", [genuine.clone(), vec![0]].concat()),
            ("leading zero", [vec![0], genuine.clone()].concat()),
            (
                "r with a leading zero",
                [vec![0], r.clone(), s.clone()].concat(),
            ),
            ("r only", r.clone()),
            ("other curve's size", vec![1u8; other_size]),
        ] {
            assert_eq!(
                outcome(verifier.verify(&with_signature(&input, &sig))),
                Err(K::InvalidSignature),
                "{alg:?}: {name}"
            );
        }
    }
}

/// (r, n - s) signs the same bytes as (r, s) and JWS has no low-S rule, so it verifies: a token's text is not unique, its `jti` is.
#[test]
fn ecdsa_high_s_twin_of_a_valid_signature_verifies() {
    // The twin forges nothing (header and claims are the signed ones), but the token's text
    // changes: replay caches and revocation must key on `jti`, never on the token string.
    for alg in [Algorithm::ES256, Algorithm::ES384] {
        let (verifier, input, r, s) = ecdsa_case(alg);
        let twin = [r.clone(), sub(&curve_order(alg), &s)].concat();
        assert_ne!(twin, [r.clone(), s.clone()].concat());
        assert_eq!(
            outcome(verifier.verify(&with_signature(&input, &twin))),
            Ok(()),
            "{alg:?}"
        );
    }
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` of big-endian magnitudes (no multi-byte lengths:
/// enough for P-256 and P-384).
fn der_signature(r: &[u8], s: &[u8]) -> Vec<u8> {
    let integer = |v: &[u8]| {
        let start = v.iter().position(|b| *b != 0).unwrap_or(v.len() - 1);
        let v = &v[start..];
        let pad = v[0] & 0x80 != 0;
        let mut out = vec![0x02, (v.len() + usize::from(pad)) as u8];
        if pad {
            out.push(0);
        }
        out.extend_from_slice(v);
        out
    };
    let body = [integer(r), integer(s)].concat();
    assert!(body.len() < 128);
    [vec![0x30, body.len() as u8], body].concat()
}

/// JWS requires raw r‖s (RFC 7518 §3.4), not DER: a genuine signature DER-encoded is invalid, as is DER r = s = 0.
#[test]
fn der_encoded_ecdsa_signature_is_invalid() {
    for alg in [Algorithm::ES256, Algorithm::ES384] {
        let (verifier, input, r, s) = ecdsa_case(alg);
        let der = der_signature(&r, &s);
        assert_eq!(
            outcome(verifier.verify(&with_signature(&input, &der))),
            Err(K::InvalidSignature),
            "{alg:?}"
        );
        assert_eq!(
            outcome(verifier.verify(&format!("{input}.MAYCAQACAQA"))),
            Err(K::InvalidSignature),
            "{alg:?}"
        );
        // The same r and s, raw, verify: only the encoding was wrong.
        assert_eq!(
            outcome(verifier.verify(&with_signature(&input, &[r, s].concat()))),
            Ok(())
        );
    }
}

// ---------------------------------------------------------------- encoding

/// The base64url alphabet's 6-bit value of `c`.
fn b64_value(c: u8) -> usize {
    B64_ALPHABET.iter().position(|a| *a == c).unwrap()
}

/// `segment` with non-zero bits left over in its last character: the same bytes, spelled
/// another way. `None` when its length leaves no bits over (a multiple of 4).
fn trailing_bits_twin(segment: &str) -> Option<String> {
    if segment.len().is_multiple_of(4) {
        return None;
    }
    let (head, last) = segment.split_at(segment.len() - 1);
    let twin = B64_ALPHABET[b64_value(last.as_bytes()[0]) ^ 1] as char;
    // The twin decodes to the same bytes: a lax decoder would accept both.
    assert_eq!(unb64(&format!("{head}{twin}")), unb64(segment));
    Some(format!("{head}{twin}"))
}

/// JSON text of `value` padded with a member `p` until its base64url length is not a
/// multiple of 4, so that its last character carries unused bits.
fn with_unused_bits(mut value: Value) -> String {
    for pad in 0.. {
        value["p"] = json!("x".repeat(pad));
        if !b64(value.to_string()).len().is_multiple_of(4) {
            return value.to_string();
        }
    }
    unreachable!()
}

/// Non-zero trailing bits spell the same bytes another way; a token has one text, so they are malformed in any part, even signed.
#[test]
fn non_zero_trailing_bits_are_malformed_in_every_part() {
    let verifier = hs256_verifier();
    let header = with_unused_bits(json!({ "alg": "HS256" }));
    let payload = with_unused_bits(claims());
    let (h, p) = (b64(&header), b64(&payload));
    assert_eq!(
        outcome(verifier.verify(&hs256_over(&format!("{h}.{p}")))),
        Ok(())
    );
    let h_twin = trailing_bits_twin(&h).unwrap();
    let p_twin = trailing_bits_twin(&p).unwrap();
    assert_eq!(
        outcome(verifier.verify(&hs256_over(&format!("{h_twin}.{p}")))),
        Err(K::Malformed)
    );
    assert_eq!(
        outcome(verifier.verify(&hs256_over(&format!("{h}.{p_twin}")))),
        Err(K::Malformed)
    );
    // The signature's own twin (HS256: 43 characters, 2 unused bits).
    let token = hs256_over(&format!("{h}.{p}"));
    let (head, sig) = token.rsplit_once('.').unwrap();
    let sig_twin = trailing_bits_twin(sig).unwrap();
    assert_eq!(
        outcome(verifier.verify(&format!("{head}.{sig_twin}"))),
        Err(K::Malformed)
    );
}

/// `+` and `/` are not base64url (RFC 7515 §2): a segment written with them is malformed even when the signature covers it.
#[test]
fn standard_alphabet_in_a_re_signed_segment_is_malformed() {
    let verifier = hs256_verifier();
    // "???>>>" encodes to "Pz8_Pj4-": both url-safe characters appear.
    let header = json!({ "alg": "HS256", "x": "???>>>" }).to_string();
    let payload = claims_with(json!({ "note": "???>>>" })).to_string();
    let standard = |segment: String| -> String {
        let out = segment.replace('-', "+").replace('_', "/");
        assert_ne!(out, segment);
        out
    };
    let (h, p) = (b64(&header), b64(&payload));
    assert_eq!(
        outcome(verifier.verify(&hs256_over(&format!("{h}.{p}")))),
        Ok(())
    );
    assert_eq!(
        outcome(verifier.verify(&hs256_over(&format!("{}.{p}", standard(h.clone()))))),
        Err(K::Malformed)
    );
    assert_eq!(
        outcome(verifier.verify(&hs256_over(&format!("{h}.{}", standard(p.clone()))))),
        Err(K::Malformed)
    );
}

/// `=` padding is not base64url either: a padded header is malformed even when the signature covers it.
#[test]
fn padding_in_a_re_signed_header_is_malformed() {
    let verifier = hs256_verifier();
    let header = with_unused_bits(json!({ "alg": "HS256" }));
    let h = b64(&header);
    let padded = format!("{h}{}", "=".repeat(4 - h.len() % 4));
    let p = b64(claims().to_string());
    assert_eq!(
        outcome(verifier.verify(&hs256_over(&format!("{padded}.{p}")))),
        Err(K::Malformed)
    );
}

/// Whitespace is not base64url: inside a segment (even signed over) or after the token (a file's newline), it is malformed.
#[test]
fn whitespace_in_a_re_signed_segment_is_malformed() {
    let verifier = hs256_verifier();
    let h = b64(r#"{"alg":"HS256","typ":"JWT"}"#);
    let p = b64(claims().to_string());
    let (h1, h2) = h.split_at(8);
    let (p1, p2) = p.split_at(12);
    for input in [
        format!("{h1} {h2}.{p}"),
        format!("{h1}\t{h2}.{p}"),
        format!("{h}.{p1}\n{p2}"),
        format!("{h}.{p1}\r\n{p2}"),
        format!("{h} .{p}"),
        format!("{h}. {p}"),
    ] {
        assert_eq!(
            outcome(verifier.verify(&hs256_over(&input))),
            Err(K::Malformed),
            "{input:?}"
        );
    }
    let token = hs256_over(&format!("{h}.{p}"));
    for bad in [
        format!("{token}\n"),
        format!("{token}\r\n"),
        format!("{token} "),
    ] {
        assert_eq!(outcome(verifier.verify(&bad)), Err(K::Malformed), "{bad:?}");
    }
}

/// A JWS has exactly three segments: an extra dot makes it malformed, and five segments is a JWE, refused as encrypted.
#[test]
fn extra_dots_are_refused() {
    let verifier = hs256_verifier();
    let token = hs256(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    let (h, p, s) = (parts[0], parts[1], parts[2]);
    for bad in [
        format!(".{token}"),
        format!("{token}."),
        format!("{h}..{p}.{s}"),
        format!("{h}.{p}..{s}"),
        format!("{h}.{p}.{s}.{s}"),
        "...".to_owned(),
    ] {
        assert_eq!(outcome(verifier.verify(&bad)), Err(K::Malformed), "{bad}");
    }
    for jwe_shaped in [
        format!("{token}.."),
        format!("..{token}"),
        "....".to_owned(),
    ] {
        assert_eq!(
            outcome(verifier.verify(&jwe_shaped)),
            Err(K::Encrypted),
            "{jwe_shaped}"
        );
    }
}

// ---------------------------------------------------------------- duplicate members

/// A header member given twice (`kid`, `typ`, `crit`, or `alg` once escaped) is ambiguous between parsers: malformed.
#[test]
fn duplicate_header_members_are_malformed() {
    let (verifier, a) = two_keys();
    let typed = Verifier::<RegisteredClaims>::builder(verifier.keys().clone())
        .algorithms([Algorithm::HS256])
        .require_typ("at+jwt")
        .build()
        .unwrap();
    for header in [
        r#"{"alg":"HS256","kid":"b","kid":"a"}"#,
        r#"{"alg":"HS256","kid":"a","\u006bid":"b"}"#,
        r#"{"alg":"HS256","kid":"a","typ":"JWT","typ":"at+jwt"}"#,
        r#"{"alg":"HS256","kid":"a","crit":["x"],"crit":[]}"#,
        r#"{"alg":"none","\u0061lg":"HS256","kid":"a"}"#,
        r#"{"\u0061lg":"HS256","alg":"HS256","kid":"a"}"#,
    ] {
        let token = sign_raw(&a, Algorithm::HS256, header, &claims().to_string());
        assert_eq!(
            outcome(verifier.verify(&token)),
            Err(K::Malformed),
            "{header}"
        );
        assert_eq!(outcome(typed.verify(&token)), Err(K::Malformed), "{header}");
    }
}

/// A second `jti` could dodge revocation and a second `iat` the maximum age: duplicates, even escaped, are malformed.
#[test]
fn duplicate_iat_and_jti_are_malformed() {
    let exp = now() + 3600;
    for payload in [
        format!(r#"{{"jti":"revoked","jti":"fresh","exp":{exp}}}"#),
        format!(r#"{{"jti":"revoked","\u006ati":"fresh","exp":{exp}}}"#),
        format!(r#"{{"iat":1,"iat":{},"exp":{exp}}}"#, now()),
        format!(r#"{{"iat":{},"\u0069at":1,"exp":{exp}}}"#, now()),
        format!(r#"{{"scp":"a","scp":["b"],"exp":{exp}}}"#),
    ] {
        let token = sign_raw(
            &hmac_key(SECRET),
            Algorithm::HS256,
            r#"{"alg":"HS256"}"#,
            &payload,
        );
        assert_eq!(
            outcome(hs256_verifier().verify(&token)),
            Err(K::Malformed),
            "{payload}"
        );
    }
}

/// A custom claim given twice is refused before any claims type reads it, so custom claims cannot be doubled either.
#[test]
fn duplicate_custom_claim_in_a_derived_claims_type_is_malformed() {
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Tenanted {
        tenant: String,
    }
    let verifier = Verifier::<Tenanted>::builder(key_pair(Algorithm::HS256).1)
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap();
    let exp = now() + 3600;
    let once = hs256_raw_payload(&format!(r#"{{"tenant":"acme","exp":{exp}}}"#));
    assert_eq!(outcome(verifier.verify(&once)), Ok(()));
    for payload in [
        format!(r#"{{"tenant":"acme","tenant":"globex","exp":{exp}}}"#),
        format!(r#"{{"tenant":"acme","t\u0065nant":"globex","exp":{exp}}}"#),
    ] {
        assert_eq!(
            outcome(verifier.verify(&hs256_raw_payload(&payload))),
            Err(K::Malformed),
            "{payload}"
        );
    }
}

fn hs256_raw_payload(payload: &str) -> String {
    sign_raw(
        &hmac_key(SECRET),
        Algorithm::HS256,
        r#"{"alg":"HS256"}"#,
        payload,
    )
}

// ---------------------------------------------------------------- claim values

/// NumericDates at their limits are refused or compared without overflow: beyond 2^53 no float is a whole second.
#[test]
fn numeric_dates_at_their_limits() {
    // `Value` claims: the registered claims are judged by the verifier alone.
    let verifier = Verifier::<Value>::builder(key_pair(Algorithm::HS256).1)
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap();
    let exp = now() + 3600;
    for (payload, expected) in [
        (
            r#"{"exp":99999999999999999999}"#.to_owned(),
            Err(K::InvalidClaim),
        ),
        (
            r#"{"exp":9007199254740992.0}"#.to_owned(),
            Err(K::InvalidClaim),
        ),
        (r#"{"exp":9007199254740991.0}"#.to_owned(), Ok(())),
        (
            r#"{"exp":-9007199254740992.0}"#.to_owned(),
            Err(K::InvalidClaim),
        ),
        (r#"{"exp":1e400}"#.to_owned(), Err(K::Malformed)),
        (r#"{"exp":4.1e9}"#.to_owned(), Ok(())),
        (r#"{"exp":-1.5}"#.to_owned(), Err(K::Expired)),
        (r#"{"exp":-0}"#.to_owned(), Err(K::Expired)),
        (r#"{"exp":""}"#.to_owned(), Err(K::InvalidClaim)),
        (format!(r#"{{"exp":"{exp}"}}"#), Err(K::InvalidClaim)),
        (
            format!(r#"{{"exp":{exp},"nbf":{}}}"#, i64::MAX),
            Err(K::NotYetValid),
        ),
        (format!(r#"{{"exp":{exp},"nbf":{}}}"#, i64::MIN), Ok(())),
        (
            format!(r#"{{"exp":{exp},"nbf":18446744073709551615}}"#),
            Err(K::InvalidClaim),
        ),
    ] {
        assert_eq!(
            outcome(verifier.verify(&hs256_raw_payload(&payload))),
            expected,
            "{payload}"
        );
    }
    let max_age = Verifier::<Value>::builder(key_pair(Algorithm::HS256).1)
        .algorithms([Algorithm::HS256])
        .max_age(Duration::from_secs(3600))
        .build()
        .unwrap();
    for (iat, expected) in [(i64::MIN, K::TooOld), (i64::MAX, K::NotYetValid)] {
        let token = hs256_raw_payload(&format!(r#"{{"exp":{exp},"iat":{iat}}}"#));
        assert_eq!(outcome(max_age.verify(&token)), Err(expected), "{iat}");
    }
}

/// RFC 7519 §2 allows non-integer NumericDates, which the verifier floors, so `RegisteredClaims` must accept them too.
#[test]
fn registered_claims_accept_non_integer_numeric_dates() {
    // Found by this suite: `RegisteredClaims`' `i64` fields refused a float as
    // InvalidClaim although the verifier's own checks read and floor it.
    let verifier = hs256_verifier();
    let exp = now() + 3600;
    for payload in [
        format!(r#"{{"exp":{exp}.5}}"#),
        format!(r#"{{"exp":{exp},"iat":{}.25}}"#, now()),
        format!(r#"{{"exp":{exp},"nbf":{}.0}}"#, now()),
        r#"{"exp":4.1e9}"#.to_owned(),
    ] {
        let verified = verifier.verify(&hs256_raw_payload(&payload));
        assert_eq!(outcome(verified), Ok(()), "{payload}");
    }
}

/// `aud` is a string or an array of strings compared exactly: null or nested items are the wrong type, near misses other audiences.
#[test]
fn audience_edge_shapes() {
    let verifier = Verifier::<RegisteredClaims>::builder(key_pair(Algorithm::HS256).1)
        .algorithms([Algorithm::HS256])
        .audience("orders-api")
        .build()
        .unwrap();
    for (aud, expected) in [
        (json!(["orders-api", null]), Err(K::InvalidClaim)),
        (json!([["orders-api"]]), Err(K::InvalidClaim)),
        (json!([{ "aud": "orders-api" }]), Err(K::InvalidClaim)),
        (json!(""), Err(K::InvalidAudience)),
        (json!([""]), Err(K::InvalidAudience)),
        (json!("ORDERS-API"), Err(K::InvalidAudience)),
        (json!("orders-api\u{0}"), Err(K::InvalidAudience)),
        (json!(" orders-api"), Err(K::InvalidAudience)),
        (json!("orders-api billing"), Err(K::InvalidAudience)),
        (json!(["orders-api", "orders-api"]), Ok(())),
        (json!(["billing", "orders-api"]), Ok(())),
        (json!("orders-api"), Ok(())),
    ] {
        let token = hs256(&claims_with(json!({ "aud": aud })));
        assert_eq!(outcome(verifier.verify(&token)), expected, "{aud}");
    }
}

/// `iss` is compared as an exact string: case, Unicode normalisation, a NUL, the scheme or a port make another issuer.
#[test]
fn issuer_is_compared_exactly() {
    let verifier = Verifier::<RegisteredClaims>::builder(key_pair(Algorithm::HS256).1)
        .algorithms([Algorithm::HS256])
        .issuer("https://auth.example.com/caf\u{e9}")
        .build()
        .unwrap();
    for iss in [
        "HTTPS://AUTH.EXAMPLE.COM/caf\u{e9}",
        "https://auth.example.com/cafe\u{301}",
        "https://auth.example.com/caf\u{e9}\u{0}",
        "http://auth.example.com/caf\u{e9}",
        "https://auth.example.com:443/caf\u{e9}",
        "https://auth.example.com/caf%C3%A9",
    ] {
        let token = hs256(&claims_with(json!({ "iss": iss })));
        assert_eq!(
            outcome(verifier.verify(&token)),
            Err(K::InvalidIssuer),
            "{iss:?}"
        );
    }
    let token = hs256(&claims_with(
        json!({ "iss": "https://auth.example.com/caf\u{e9}" }),
    ));
    assert_eq!(outcome(verifier.verify(&token)), Ok(()));
}

// ---------------------------------------------------------------- time and leeway

fn leeway_verifier(leeway: u64) -> Verifier<RegisteredClaims> {
    Verifier::builder(key_pair(Algorithm::HS256).1)
        .algorithms([Algorithm::HS256])
        .leeway(Duration::from_secs(leeway))
        .max_age(Duration::from_secs(3600))
        .build()
        .unwrap()
}

/// Valid before `exp` (RFC 7519 §4.1.4) plus exactly the leeway: expired at exp + leeway, accepted one second earlier.
#[test]
fn exp_leeway_edges_are_exact() {
    let verifier = leeway_verifier(60);
    let check = |offset: i64| {
        at_one_second(|now| {
            outcome(verifier.verify(&hs256(&json!({ "iat": now, "exp": now + offset }))))
        })
    };
    assert_eq!(check(-60), Err(K::Expired), "exactly at exp + leeway");
    assert_eq!(check(-59), Ok(()), "one second before exp + leeway");
    assert_eq!(check(-61), Err(K::Expired), "one second after exp + leeway");
}

/// Valid on or after `nbf` (RFC 7519 §4.1.5) less exactly the leeway: accepted at now + leeway, refused one second later.
#[test]
fn nbf_leeway_edges_are_exact() {
    let verifier = leeway_verifier(60);
    let check = |offset: i64| {
        at_one_second(|now| {
            outcome(verifier.verify(&hs256(
                &json!({ "iat": now, "nbf": now + offset, "exp": now + 3600 }),
            )))
        })
    };
    assert_eq!(check(60), Ok(()), "exactly at now + leeway");
    assert_eq!(check(59), Ok(()), "one second earlier");
    assert_eq!(check(61), Err(K::NotYetValid), "one second later");
}

/// With no leeway the RFC's rules apply bare: exp = now is expired, nbf = now is valid.
#[test]
fn zero_leeway_edges_are_exact() {
    let verifier = leeway_verifier(0);
    let check = |exp: i64, nbf: i64| {
        at_one_second(|now| {
            outcome(verifier.verify(&hs256(
                &json!({ "iat": now, "nbf": now + nbf, "exp": now + exp }),
            )))
        })
    };
    assert_eq!(check(0, 0), Err(K::Expired));
    assert_eq!(check(1, 0), Ok(()));
    assert_eq!(check(1, -1), Ok(()));
    assert_eq!(check(60, 1), Err(K::NotYetValid));
}

/// `max_age` allows an `iat` up to max_age + leeway ago and leeway ahead, inclusive: one second beyond is too old, or not valid yet.
#[test]
fn max_age_edges_are_exact() {
    let verifier = leeway_verifier(60);
    let check = |offset: i64| {
        at_one_second(|now| {
            outcome(verifier.verify(&hs256(&json!({ "iat": now + offset, "exp": now + 600 }))))
        })
    };
    assert_eq!(check(-3660), Ok(()), "exactly max_age + leeway ago");
    assert_eq!(check(-3661), Err(K::TooOld), "one second more");
    assert_eq!(check(60), Ok(()), "exactly leeway ahead");
    assert_eq!(check(61), Err(K::NotYetValid), "one second further ahead");
}

// ---------------------------------------------------------------- crit, typ, JWE

/// We implement no `crit` extension and RFC 7515 §4.1.11 forbids registered names there: every entry is refused.
#[test]
fn crit_naming_registered_or_present_members_is_refused() {
    let verifier = hs256_verifier();
    for header in [
        json!({ "alg": "HS256", "crit": ["alg"] }),
        json!({ "alg": "HS256", "crit": ["kid"], "kid": "k" }),
        json!({ "alg": "HS256", "crit": ["b64"], "b64": true }),
        json!({ "alg": "HS256", "crit": ["exp"], "exp": now() + 60 }),
        json!({ "alg": "HS256", "crit": ["x", "x"], "x": 1 }),
    ] {
        let token = sign_raw(
            &hmac_key(SECRET),
            Algorithm::HS256,
            &header.to_string(),
            &claims().to_string(),
        );
        assert_eq!(
            outcome(verifier.verify(&token)),
            Err(K::UnsupportedCritical),
            "{header}"
        );
    }
    let token = sign_raw(
        &hmac_key(SECRET),
        Algorithm::HS256,
        r#"{"alg":"HS256","crit":[1]}"#,
        &claims().to_string(),
    );
    assert_eq!(outcome(verifier.verify(&token)), Err(K::Malformed));
}

const IDP: &str = "https://id.example.com";

/// The identity provider's RSA key (kid `idp-key`): signing half, and a verifier over the
/// public half for access tokens of `orders-api`, requiring `at+jwt` when `typed`.
fn idp(typed: bool) -> (EncodingKey, Verifier<Value>) {
    let (private, public) = key_pair(Algorithm::RS256);
    let mut builder = Verifier::builder(KeySet::single(public.with_kid("idp-key")))
        .algorithms([Algorithm::RS256])
        .issuer(IDP)
        .audience("orders-api");
    if typed {
        builder = builder.require_typ("at+jwt");
    }
    (private, builder.build().unwrap())
}

/// OpenID Connect ID token claims for `aud` (nonce, at_hash, azp, auth_time, sid).
fn id_token_claims(aud: &str) -> Value {
    json!({
        "iss": IDP, "sub": "alice", "aud": aud, "azp": "web-client",
        "nonce": "n-0S6_WzA2Mj", "at_hash": "77QmUPtjPfzWtF2AnpK9RQ", "sid": "08a5019c",
        "auth_time": now() - 30, "iat": now(), "exp": now() + 600,
    })
}

fn rs256(key: &EncodingKey, header: Value, claims: &Value) -> String {
    sign_raw(
        key,
        Algorithm::RS256,
        &header.to_string(),
        &claims.to_string(),
    )
}

/// An ID token is no access token (RFC 9068 §4): with `at+jwt` required it is refused before its claims, whatever its `aud`.
#[test]
fn id_token_where_an_access_token_is_required_is_invalid_type() {
    let (key, verifier) = idp(true);
    for aud in ["web-client", "orders-api"] {
        for header in [
            json!({ "alg": "RS256", "kid": "idp-key", "typ": "JWT" }),
            json!({ "alg": "RS256", "kid": "idp-key" }),
            json!({ "alg": "RS256", "kid": "idp-key", "typ": "application/jwt" }),
            json!({ "alg": "RS256", "kid": "idp-key", "typ": "JWT", "cty": "at+jwt" }),
            json!({ "alg": "RS256", "kid": "idp-key", "typ": "id_token+jwt" }),
            json!({ "alg": "RS256", "kid": "idp-key", "typ": "logout+jwt" }),
            json!({ "alg": "RS256", "kid": "idp-key", "typ": "secevent+jwt" }),
            json!({ "alg": "RS256", "kid": "idp-key", "typ": "at+jwt; charset=utf-8" }),
        ] {
            let token = rs256(&key, header.clone(), &id_token_claims(aud));
            assert_eq!(
                outcome(verifier.verify(&token)),
                Err(K::InvalidType),
                "{aud} {header}"
            );
        }
    }
    // The provider's real access token passes.
    let access = json!({ "iss": IDP, "sub": "alice", "aud": "orders-api", "client_id": "web-client",
        "scope": "orders:read", "jti": "at-1", "iat": now(), "exp": now() + 600 });
    let token = rs256(
        &key,
        json!({ "alg": "RS256", "kid": "idp-key", "typ": "at+jwt" }),
        &access,
    );
    assert_eq!(outcome(verifier.verify(&token)), Ok(()));
}

/// Why `at+jwt` matters: without it an ID token is stopped only by its audience, and passes when that names the API.
#[test]
fn without_require_typ_an_id_token_is_judged_by_its_audience_only() {
    let (key, verifier) = idp(false);
    let header = json!({ "alg": "RS256", "kid": "idp-key", "typ": "JWT" });
    let for_client = rs256(&key, header.clone(), &id_token_claims("web-client"));
    assert_eq!(
        outcome(verifier.verify(&for_client)),
        Err(K::InvalidAudience)
    );
    let for_api = rs256(&key, header, &id_token_claims("orders-api"));
    assert_eq!(outcome(verifier.verify(&for_api)), Ok(()));
}

/// RFC 7516 A.3's JWE, verbatim, is refused as encrypted, never decrypted, even by a verifier holding an HMAC secret.
#[test]
fn rfc7516_a3_jwe_is_encrypted() {
    const JWE: &str = concat!(
        "eyJhbGciOiJBMTI4S1ciLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0.",
        "6KB707dM9YTIgHtLvtgWQ8mKwboJW3of9locizkDTHzBC2IlrT1oOQ.",
        "AxY8DCtDaGlsbGljb3RoZQ.",
        "KDlTtXchhZTGufMYmOYGS4HffxPSUrfmqCHXaI9wOGY.",
        "U0m_YmjN04DJvceFICbCVQ"
    );
    let verifier = Verifier::<RegisteredClaims>::builder(key_pair(Algorithm::HS256).1)
        .algorithms(SUPPORTED)
        .build()
        .unwrap();
    assert_eq!(outcome(verifier.verify(JWE)), Err(K::Encrypted));
    // Its protected header alone, as a three-segment token, is refused by its `enc`.
    let (header, _) = JWE.split_once('.').unwrap();
    let token = format!("{header}.{}.", b64(claims().to_string()));
    assert_eq!(outcome(verifier.verify(&token)), Err(K::Encrypted));
}

// ---------------------------------------------------------------- size and depth

/// A genuinely signed HS256 token of at least `len` bytes (and at most 4 more): a `pad`
/// claim fills it.
fn token_of_len(len: usize) -> String {
    let mut pad = 0;
    loop {
        let token = hs256(&claims_with(json!({ "pad": "x".repeat(pad) })));
        if token.len() >= len {
            assert!(token.len() <= len + 4);
            return token;
        }
        pad += ((len - token.len()) * 3 / 4).max(1);
    }
}

/// 1 MiB is 128 times the default 8 KiB limit: refused on its length alone, before anything is decoded.
#[test]
fn one_mebibyte_token_is_too_large_by_default() {
    let verifier = hs256_verifier();
    let signed = token_of_len(1 << 20);
    assert!(signed.len() >= 1 << 20);
    assert_eq!(outcome(verifier.verify(&signed)), Err(K::TokenTooLarge));
    assert_eq!(
        outcome(verifier.verify(&"!".repeat(1 << 20))),
        Err(K::TokenTooLarge)
    );
    assert_eq!(
        outcome(verifier.verify(&".".repeat(1 << 20))),
        Err(K::TokenTooLarge)
    );
}

/// Under a raised limit a genuine 1 MiB token verifies and a tampered one does not: size alone is no reason to refuse.
#[test]
fn one_mebibyte_token_verifies_under_a_raised_limit() {
    let token = token_of_len(1 << 20);
    let verifier = Verifier::<RegisteredClaims>::builder(key_pair(Algorithm::HS256).1)
        .algorithms([Algorithm::HS256])
        .max_token_len(token.len())
        .build()
        .unwrap();
    assert_eq!(outcome(verifier.verify(&token)), Ok(()));
    assert_eq!(
        outcome(verifier.verify(&flip_signature_bit(&token))),
        Err(K::InvalidSignature)
    );
    let tampered = swap_payload(
        &token,
        &claims_with(json!({ "sub": "mallory", "pad": "x".repeat(700_000) })).to_string(),
    );
    assert_eq!(
        outcome(verifier.verify(&tampered)),
        Err(K::InvalidSignature)
    );
    assert_eq!(
        outcome(verifier.verify(&format!("{token}A"))),
        Err(K::TokenTooLarge)
    );
}

/// Through the HTTP layer the 8 KiB limit is a 401 `invalid_token` that does not echo the
/// token, with the verified-token cache off and on (with it, the layer looks a token up
/// before anything else, and a miss goes straight to the full verification); hyper stops
/// 1 MiB headers first.
#[tokio::test]
async fn large_tokens_through_the_http_layer_are_refused() {
    let cached = Verifier::builder(VerificationKey::hmac(Algorithm::HS256, SECRET).unwrap())
        .algorithms([Algorithm::HS256])
        .cache(100)
        .build()
        .unwrap();
    for verifier in [hs256_verifier(), cached] {
        let app = Router::new()
            .route("/me", get(|| async { "ok" }))
            .layer(JwtLayer::<RegisteredClaims>::new(verifier.clone()));
        let small = hs256(&claims());
        for (token, status) in [
            (small.clone(), 200),
            (small.clone(), 200),
            (token_of_len(8 * 1024 + 1), 401),
            (token_of_len(1 << 20), 401),
        ] {
            let request = http::Request::get("/me")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status().as_u16(), status, "{}", token.len());
            if status == 401 {
                let challenge = response.headers()["www-authenticate"].to_str().unwrap();
                assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
                let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                    .await
                    .unwrap();
                let body = String::from_utf8(body.to_vec()).unwrap();
                assert!(body.contains("larger"), "{body}");
                assert!(!body.contains(&token[..64]));
            }
        }
        assert_eq!(verifier.metrics().rejected(K::TokenTooLarge), 2);
    }
    let app = Router::new()
        .route("/me", get(|| async { "ok" }))
        .layer(JwtLayer::new(hs256_verifier()));
    // Over a real connection: 16 KiB reaches the layer and is refused by it; hyper itself
    // refuses 1 MiB of headers before any service runs.
    let url = format!("http://{}/me", support::serve(app).await);
    let reply = support::send(
        support::http()
            .get(&url)
            .bearer_auth(token_of_len(16 * 1024)),
    )
    .await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert!(reply.body.contains("larger"), "{reply:?}");
    let huge = support::http()
        .get(&url)
        .bearer_auth(token_of_len(1 << 20))
        .send()
        .await;
    // 431 Request Header Fields Too Large, or, if hyper closes the connection while the
    // client is still sending, a failed request: either way the service never ran.
    match huge {
        Ok(response) => assert_eq!(response.status().as_u16(), 431),
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
}

/// `depth` nested arrays: `[[[…]]]`.
fn nested_arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// `depth` nested objects: `{"a":{"a":…{}}}`.
fn nested_objects(depth: usize) -> String {
    format!("{}{{}}{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))
}

fn deep_verifier() -> Verifier<Value> {
    Verifier::builder(key_pair(Algorithm::HS256).1)
        .algorithms([Algorithm::HS256])
        .max_token_len(1 << 20)
        .build()
        .unwrap()
}

/// 100 000 nested levels in a claim cost no stack: the strict reading stops at `MAX_JSON_DEPTH`, whoever reads the claim.
#[test]
fn deeply_nested_claims_never_overflow_the_stack() {
    // Whether the claims type reads the deep claim (`Value`) or not (`RegisteredClaims`),
    // the strict reading refuses it past `MAX_JSON_DEPTH` before any claims type: Malformed.
    // Forged, it is never read.
    let exp = now() + 3600;
    let reads_everything = deep_verifier();
    let ignores_it = Verifier::<RegisteredClaims>::builder(key_pair(Algorithm::HS256).1)
        .algorithms([Algorithm::HS256])
        .max_token_len(1 << 20)
        .build()
        .unwrap();
    for nested in [
        nested_arrays(100_000),
        nested_objects(100_000),
        nested_arrays(3_000),
    ] {
        let token = hs256_raw_payload(&format!(r#"{{"exp":{exp},"x":{nested}}}"#));
        assert_eq!(outcome(reads_everything.verify(&token)), Err(K::Malformed));
        assert_eq!(outcome(ignores_it.verify(&token)), Err(K::Malformed));
        assert_eq!(
            outcome(reads_everything.verify(&flip_signature_bit(&token))),
            Err(K::InvalidSignature)
        );
        // In a registered claim the first nested level is already the wrong type.
        for claim in ["aud", "iss", "nbf", "roles"] {
            let token = hs256_raw_payload(&format!(r#"{{"exp":{exp},"{claim}":{nested}}}"#));
            assert_eq!(
                outcome(ignores_it.verify(&token)),
                Err(K::InvalidClaim),
                "{claim}"
            );
        }
    }
    // Within the default 8 KiB limit: 2 500 levels.
    let token = hs256_raw_payload(&format!(r#"{{"exp":{exp},"x":{}}}"#, nested_arrays(2_500)));
    assert!(token.len() <= 8 * 1024);
    let default = Verifier::<Value>::builder(key_pair(Algorithm::HS256).1)
        .algorithms([Algorithm::HS256])
        .build()
        .unwrap();
    assert_eq!(outcome(default.verify(&token)), Err(K::Malformed));
}

/// Nesting in the header needs no key (it is parsed before the signature): past `MAX_JSON_DEPTH`, in any member, a broken header.
#[test]
fn deeply_nested_header_never_overflows_the_stack() {
    let verifier = deep_verifier();
    let payload = b64(claims().to_string());
    for nested in [nested_arrays(100_000), nested_objects(100_000)] {
        for header in [
            format!(r#"{{"alg":"HS256","x":{nested}}}"#),
            format!(r#"{{"x":{nested},"alg":"HS256"}}"#),
        ] {
            let unsigned = format!("{}.{payload}.", b64(&header));
            assert_eq!(outcome(verifier.verify(&unsigned)), Err(K::Malformed));
        }
        for member in ["alg", "kid", "typ", "crit", "enc"] {
            let header = format!(r#"{{"alg":"HS256","{member}":{nested}}}"#);
            let unsigned = format!("{}.{payload}.", b64(&header));
            assert_eq!(
                outcome(verifier.verify(&unsigned)),
                Err(K::Malformed),
                "{member}"
            );
        }
    }
    // `enc` of any value within the limit marks a JWE.
    let header = format!(r#"{{"alg":"HS256","enc":{}}}"#, nested_arrays(8));
    let unsigned = format!("{}.{payload}.", b64(&header));
    assert_eq!(outcome(verifier.verify(&unsigned)), Err(K::Encrypted));
}

/// The issuer router reads `iss` before any signature, as strictly as its verifiers: deep nesting beside it is malformed, in it the wrong type.
#[test]
fn deeply_nested_payload_through_the_issuer_router_never_overflows_the_stack() {
    let issuer = deep_verifier_for("https://a.test");
    let router = Verifier::by_issuer([("https://a.test", issuer)]).unwrap();
    let header = b64(r#"{"alg":"HS256"}"#);
    for nested in [nested_arrays(100_000), nested_objects(100_000)] {
        for payload in [
            format!(r#"{{"x":{nested},"iss":"https://a.test"}}"#),
            format!(r#"{{"iss":"https://a.test","x":{nested}}}"#),
        ] {
            let token = format!("{header}.{}.", b64(&payload));
            assert_eq!(outcome(router.verify(&token)), Err(K::Malformed));
        }
        let token = format!("{header}.{}.", b64(format!(r#"{{"iss":{nested}}}"#)));
        assert_eq!(outcome(router.verify(&token)), Err(K::InvalidClaim));
    }
}

fn deep_verifier_for(issuer: &str) -> Verifier<Value> {
    Verifier::builder(key_pair(Algorithm::HS256).1)
        .algorithms([Algorithm::HS256])
        .issuer(issuer)
        .max_token_len(1 << 20)
        .build()
        .unwrap()
}

// ---------------------------------------------------------------- one reading

/// A token signed over exactly this header text and claims text, with HS256 over [`SECRET`].
fn hs256_raw(header: &str, payload: &str) -> String {
    sign_raw(&hmac_key(SECRET), Algorithm::HS256, header, payload)
}

/// Tokens that two JSON readers would read two ways, each refused through a real HTTP server whatever the claims type, with its own description.
#[tokio::test]
async fn tokens_with_two_readings_are_refused_over_http() {
    let exp = now() + 3600;
    let plain = format!(r#"{{"sub":"alice","exp":{exp}}}"#);
    let deep = format!(
        r#"{{"sub":"alice","exp":{exp},"x":{}1{}}}"#,
        "[".repeat(1_000),
        "]".repeat(1_000)
    );
    let header = r#"{"alg":"HS256"}"#;
    let cases = [
        // serde reads a JSON array into a struct by position.
        (
            hs256_raw(r#"["HS256"]"#, &plain),
            "the token header is not a JSON object",
        ),
        (
            hs256_raw(header, &format!(r#"["alice",{exp}]"#)),
            "the token's claims are not a JSON object",
        ),
        // `RegisteredClaims` read alice where a `Value` read null.
        (
            hs256_raw(
                header,
                &format!(r#"{{"sub":"alice","sub":null,"exp":{exp}}}"#),
            ),
            "the token's claims repeat a member name",
        ),
        (
            hs256_raw(
                header,
                &format!(r#"{{"sub":"alice","ctx":{{"t":1,"t":2}},"exp":{exp}}}"#),
            ),
            "the token's claims repeat a member name",
        ),
        (
            hs256_raw(r#"{"alg":"HS256","x":1,"x":2}"#, &plain),
            "the token header repeats a member name",
        ),
        (
            hs256_raw(header, &deep),
            "the token's claims nest arrays or objects too deep",
        ),
        // A C string reads `alice`.
        (
            hs256(&claims_with(json!({ "sub": "alice\u{0}admin" }))),
            "the `sub` claim holds a control character",
        ),
        (
            hs256_raw(r#"{"alg":"HS256","cty":"JWT"}"#, &plain),
            "nested tokens (`cty: JWT`) are not accepted",
        ),
    ];
    let app = Router::new()
        .route("/registered", get(|| async { "ok" }))
        .route_layer(JwtLayer::<RegisteredClaims>::new(hs256_verifier()));
    let value =
        Verifier::<Value>::builder(VerificationKey::hmac(Algorithm::HS256, SECRET).unwrap())
            .algorithms([Algorithm::HS256])
            .build()
            .unwrap();
    let app = app.merge(
        Router::new()
            .route("/value", get(|| async { "ok" }))
            .route_layer(JwtLayer::<Value>::new(value)),
    );
    let base = format!("http://{}", support::serve(app).await);
    let ok = hs256_raw(header, &plain);
    for path in ["/registered", "/value"] {
        let reply = support::send(
            support::http()
                .get(format!("{base}{path}"))
                .bearer_auth(&ok),
        )
        .await;
        assert_eq!(reply.status, 200, "{path}");
        for (token, description) in &cases {
            let reply = support::send(
                support::http()
                    .get(format!("{base}{path}"))
                    .bearer_auth(token),
            )
            .await;
            assert_eq!(reply.status, 401, "{path}: {description}");
            let challenge = reply.challenge.clone().unwrap_or_default();
            assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
            assert!(reply.body.contains(description), "{path}: {}", reply.body);
        }
    }
}

/// An `iat` in the future is not valid yet, max age or not: else a token minted "after" a subject's revocation would outlive it.
#[test]
fn future_iat_cannot_dodge_a_subject_revocation() {
    use jwt_tower::revoke::{Revocation, Revocations};
    let revocations = Revocations::new();
    revocations.apply(Revocation::Subject {
        sub: "alice".into(),
        before: now(),
    });
    let verifier = Verifier::<RegisteredClaims>::builder(
        VerificationKey::hmac(Algorithm::HS256, SECRET).unwrap(),
    )
    .algorithms([Algorithm::HS256])
    .revocations(revocations)
    .build()
    .unwrap();
    let issued = |iat: i64| hs256(&claims_with(json!({ "iat": iat })));
    assert_eq!(
        outcome(verifier.verify(&issued(now() - 10))),
        Err(K::Revoked)
    );
    let err = verifier.verify(&issued(now() + 3600)).unwrap_err();
    assert_eq!(
        (err.kind(), err.description()),
        (K::NotYetValid, "the token's `iat` is in the future")
    );
}

/// Without a configured audience a token naming one is refused (RFC 7519 §4.1.3), as jsonwebtoken's and PyJWT's defaults do; accepting any is one explicit call.
#[test]
fn a_token_for_an_audience_is_refused_by_a_verifier_for_none() {
    let token = hs256(&claims_with(json!({ "aud": "billing" })));
    // jsonwebtoken's default validation, for comparison.
    let theirs = jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_secret(SECRET).unwrap(),
        &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
    );
    assert!(matches!(
        theirs.map_err(|e| e.into_kind()),
        Err(jsonwebtoken::errors::ErrorKind::InvalidAudience)
    ));
    assert_eq!(
        outcome(hs256_verifier().verify(&token)),
        Err(K::InvalidAudience)
    );
    let any = Verifier::<RegisteredClaims>::builder(
        VerificationKey::hmac(Algorithm::HS256, SECRET).unwrap(),
    )
    .algorithms([Algorithm::HS256])
    .accept_any_audience()
    .build()
    .unwrap();
    assert_eq!(outcome(any.verify(&token)), Ok(()));
}

// ---------------------------------------------------------------- RFC 7515 Appendix A

/// The RFC 7515 A.1–A.3 payload: `{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}`.
const RFC7515_PAYLOAD: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

/// A leeway reaching back to 2011 (and forward past 2100): enough to accept the RFC's tokens.
const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Checks an RFC 7515 vector whose `exp` (2011) is long past: the signature is checked before
/// the claims, so `Expired` proves it verified; one signature byte changed is
/// `InvalidSignature`; and with a century of leeway it is accepted with the RFC's claims.
fn check_rfc7515_vector(keys: impl Into<jwt_tower::Keys> + Clone, alg: Algorithm, token: &str) {
    let strict = Verifier::<Value>::builder(keys.clone())
        .algorithms([alg])
        .build()
        .unwrap();
    assert_eq!(outcome(strict.verify(token)), Err(K::Expired));
    assert_eq!(
        outcome(strict.verify(&flip_signature_bit(token))),
        Err(K::InvalidSignature)
    );
    let lenient = Verifier::<Value>::builder(keys)
        .algorithms([alg])
        .leeway(CENTURY)
        .build()
        .unwrap();
    let verified = lenient.verify(token).unwrap();
    assert_eq!(
        *verified.claims(),
        json!({ "iss": "joe", "exp": 1300819380, "http://example.com/is_root": true })
    );
    assert_eq!(verified.header().unwrap().alg, alg);
    // Tampered claims under the genuine signature: refused however lenient the verifier.
    let tampered = swap_payload(
        token,
        r#"{"iss":"joe","exp":1300819380,"http://example.com/is_root":true,"admin":true}"#,
    );
    assert_eq!(outcome(lenient.verify(&tampered)), Err(K::InvalidSignature));
}

/// RFC 7515 A.1 (HS256) verbatim, key from its `oct` JWK: the signature verifies, so the token is Expired (exp is in 2011).
#[test]
fn rfc7515_a1_hs256() {
    const TOKEN: &str = concat!(
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9",
        ".",
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ",
        ".",
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    );
    const JWK: &str = r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#;
    assert!(TOKEN.contains(RFC7515_PAYLOAD));
    let key = VerificationKey::from_jwk_str(JWK).unwrap();
    check_rfc7515_vector(key, Algorithm::HS256, TOKEN);
    let set = KeySet::from_jwks_str(&format!(r#"{{"keys":[{JWK}]}}"#)).unwrap();
    check_rfc7515_vector(set, Algorithm::HS256, TOKEN);
    let verified = Verifier::<Value>::builder(VerificationKey::from_jwk_str(JWK).unwrap())
        .algorithms([Algorithm::HS256])
        .leeway(CENTURY)
        .build()
        .unwrap()
        .verify(TOKEN)
        .unwrap();
    assert_eq!(verified.header().unwrap().typ.as_deref(), Some("JWT"));
}

/// RFC 7515 A.2 (RS256) verbatim, key from its RSA JWK: the signature verifies, so the token is Expired (exp is in 2011).
#[test]
fn rfc7515_a2_rs256() {
    const TOKEN: &str = concat!(
        "eyJhbGciOiJSUzI1NiJ9",
        ".",
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ",
        ".",
        "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7",
        "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4",
        "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K",
        "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv",
        "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB",
        "p0igcN_IoypGlUPQGe77Rw"
    );
    const JWK: &str = concat!(
        r#"{"kty":"RSA","#,
        r#""n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx"#,
        "HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMs",
        "D1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSH",
        "SXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdV",
        "MTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8",
        r#"NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ","#,
        r#""e":"AQAB"}"#
    );
    assert!(TOKEN.contains(RFC7515_PAYLOAD));
    let key = VerificationKey::from_jwk_str(JWK).unwrap();
    check_rfc7515_vector(key.clone(), Algorithm::RS256, TOKEN);
    // The JWK has no `alg`: the key may verify RS* and PS*, but an RS256 signature is no PS256 one.
    let relabelled = TOKEN.replacen("eyJhbGciOiJSUzI1NiJ9", &b64(r#"{"alg":"PS256"}"#), 1);
    let verifier = Verifier::<Value>::builder(key)
        .algorithms([Algorithm::PS256])
        .leeway(CENTURY)
        .build()
        .unwrap();
    assert_eq!(
        outcome(verifier.verify(&relabelled)),
        Err(K::InvalidSignature)
    );
}

/// RFC 7515 A.3 (ES256) verbatim, key from its JWK's public members: the signature verifies, so the token is Expired.
#[test]
fn rfc7515_a3_es256() {
    const TOKEN: &str = concat!(
        "eyJhbGciOiJFUzI1NiJ9",
        ".",
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ",
        ".",
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
    );
    const JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
    assert!(TOKEN.contains(RFC7515_PAYLOAD));
    let key = VerificationKey::from_jwk_str(JWK).unwrap();
    check_rfc7515_vector(key.clone(), Algorithm::ES256, TOKEN);
    // The psychic variant of the RFC's own token: r = s = 0 under the same key.
    let (input, _) = TOKEN.rsplit_once('.').unwrap();
    let lenient = Verifier::<Value>::builder(key)
        .algorithms([Algorithm::ES256])
        .leeway(CENTURY)
        .build()
        .unwrap();
    assert_eq!(
        outcome(lenient.verify(&with_signature(input, &[0u8; 64]))),
        Err(K::InvalidSignature)
    );
}

/// RFC 7515 A.4 (ES512) verbatim: jwt-tower implements no ES512, so its P-521 key is refused and the token too.
#[test]
fn rfc7515_a4_es512_is_unsupported_and_refused() {
    const TOKEN: &str = concat!(
        "eyJhbGciOiJFUzUxMiJ9",
        ".",
        "UGF5bG9hZA",
        ".",
        "AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZq",
        "wqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8Kp",
        "EHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn"
    );
    const JWK: &str = concat!(
        r#"{"kty":"EC","crv":"P-521","#,
        r#""x":"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk","#,
        r#""y":"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2"}"#
    );
    assert_eq!(unb64("UGF5bG9hZA"), b"Payload");
    assert!(matches!(
        VerificationKey::from_jwk_str(JWK),
        Err(jwt_tower::ConfigError::InvalidJwk(_))
    ));
    assert!(KeySet::from_jwks_str(&format!(r#"{{"keys":[{JWK}]}}"#)).is_err());
    assert!(jwt_tower::algorithm::parse("ES512").is_err());
    let verifier = Verifier::<Value>::builder(key_pair(Algorithm::ES256).1)
        .algorithms(SUPPORTED)
        .leeway(CENTURY)
        .build()
        .unwrap();
    assert_eq!(outcome(verifier.verify(TOKEN)), Err(K::AlgorithmNotAllowed));
}

/// RFC 7515 A.5, the unsecured JWS, verbatim: `alg: none` is refused whatever the verifier allows, holds or forgives.
#[test]
fn rfc7515_a5_unsecured_jws_is_refused() {
    const TOKEN: &str = concat!(
        "eyJhbGciOiJub25lIn0",
        ".",
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ",
        "."
    );
    assert!(TOKEN.contains(RFC7515_PAYLOAD));
    for alg in SUPPORTED {
        let verifier = Verifier::<Value>::builder(key_pair(alg).1)
            .algorithms(SUPPORTED)
            .leeway(CENTURY)
            .require_exp(false)
            .build()
            .unwrap();
        assert_eq!(
            outcome(verifier.verify(TOKEN)),
            Err(K::AlgorithmNotAllowed),
            "{alg:?}"
        );
    }
}

/// RFC 8037 A.4/A.5 (Ed25519) verbatim: the signature verifies, then the payload, not a JSON object, is malformed.
#[test]
fn rfc8037_a4_ed25519_signature_verifies_then_the_payload_is_refused() {
    const TOKEN: &str = concat!(
        "eyJhbGciOiJFZERTQSJ9",
        ".",
        "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc",
        ".",
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
    );
    const JWK: &str =
        r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
    assert_eq!(
        unb64("RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"),
        b"Example of Ed25519 signing"
    );
    let verifier = Verifier::<Value>::builder(VerificationKey::from_jwk_str(JWK).unwrap())
        .algorithms([Algorithm::EdDSA])
        .leeway(CENTURY)
        .require_exp(false)
        .build()
        .unwrap();
    assert_eq!(outcome(verifier.verify(TOKEN)), Err(K::Malformed));
    assert_eq!(
        outcome(verifier.verify(&flip_signature_bit(TOKEN))),
        Err(K::InvalidSignature)
    );
    let other_payload = TOKEN.replacen(
        "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc",
        &b64("Example of Ed25519 signinG"),
        1,
    );
    assert_eq!(
        outcome(verifier.verify(&other_payload)),
        Err(K::InvalidSignature)
    );
    // The same key refuses an Ed25519 signature under another algorithm's name.
    let relabelled = TOKEN.replacen("eyJhbGciOiJFZERTQSJ9", &b64(r#"{"alg":"ES256"}"#), 1);
    assert_eq!(
        outcome(verifier.verify(&relabelled)),
        Err(K::AlgorithmNotAllowed)
    );
}

// ---------------------------------------------------------------- PyJWT

/// The tokens `tests/vectors/generate.py` made with PyJWT.
fn pyjwt() -> Value {
    serde_json::from_str(include_str!("vectors/pyjwt.json")).unwrap()
}

fn algorithm_named(name: &str) -> Algorithm {
    jwt_tower::algorithm::parse(name).unwrap()
}

fn kind_named(name: &str) -> RejectionKind {
    *RejectionKind::ALL
        .iter()
        .find(|k| k.as_str() == name)
        .unwrap_or_else(|| panic!("no rejection kind {name}"))
}

/// Checks that `verifier` accepts the PyJWT token `case` with exactly its claims, and refuses
/// copies with a claim changed or a signature bit flipped.
fn check_pyjwt_token(verifier: &Verifier<Value>, case: &Value) {
    let alg = algorithm_named(case["alg"].as_str().unwrap());
    let token = case["token"].as_str().unwrap();
    let verified = verifier
        .verify(token)
        .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
    assert_eq!(*verified.claims(), case["claims"], "{alg:?}");
    assert_eq!(verified.header().unwrap().alg, alg);
    assert_eq!(
        verified.header().unwrap().kid.as_deref(),
        case["kid"].as_str()
    );
    assert_eq!(verified.header().unwrap().typ.as_deref(), Some("JWT"));
    let mut claims = case["claims"].clone();
    claims["sub"] = json!("py-admin");
    assert_eq!(
        outcome(verifier.verify(&swap_payload(token, &claims.to_string()))),
        Err(K::InvalidSignature),
        "{alg:?}: claims changed"
    );
    assert_eq!(
        outcome(verifier.verify(&flip_signature_bit(token))),
        Err(K::InvalidSignature),
        "{alg:?}: signature changed"
    );
}

/// An independent implementation's tokens verify, with exactly its claims, under our keys read from the same PEM files.
#[test]
fn pyjwt_tokens_verify_with_keys_from_pem() {
    let doc = pyjwt();
    let cases = doc["accept"].as_array().unwrap();
    assert_eq!(cases.len(), 12);
    for case in cases {
        let alg = algorithm_named(case["alg"].as_str().unwrap());
        let key = match case["public_key_file"].as_str() {
            Some(file) => VerificationKey::from_pem(alg, support::key_file(file)).unwrap(),
            None => VerificationKey::hmac(alg, doc["hmac_secret"].as_str().unwrap()).unwrap(),
        };
        let verifier = Verifier::<Value>::builder(key.with_kid(case["kid"].as_str().unwrap()))
            .algorithms([alg])
            .issuer(doc["issuer"].as_str().unwrap())
            .audience(doc["audience"].as_str().unwrap())
            .build()
            .unwrap();
        check_pyjwt_token(&verifier, case);
    }
    let algs: Vec<&str> = cases.iter().map(|c| c["alg"].as_str().unwrap()).collect();
    // PyJWT names Ed25519 keys' signatures `EdDSA` only: it cannot write RFC 9864's
    // `Ed25519`, which the EdDSA case's key verifies all the same (other tests cover it).
    let ours: Vec<&str> = SUPPORTED
        .iter()
        .filter(|a| **a != Algorithm::Ed25519)
        .map(|a| jwt_tower::algorithm::name(*a))
        .collect();
    assert_eq!(algs, ours, "one PyJWT token per supported algorithm");
}

/// PyJWT's tokens verify against the JWKS PyJWT exported; its P-521 key is skipped, as jwt-tower has no ES512.
#[test]
fn pyjwt_tokens_verify_against_the_jwks_pyjwt_exported() {
    let doc = pyjwt();
    let (set, skipped) = KeySet::from_jwks_filtered(&doc["jwks"].to_string(), None).unwrap();
    assert_eq!(set.len(), 5);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].kid.as_deref(), Some("py-p521"));
    let verifier = Verifier::<Value>::builder(set)
        .algorithms(SUPPORTED)
        .issuer(doc["issuer"].as_str().unwrap())
        .audience(doc["audience"].as_str().unwrap())
        .build()
        .unwrap();
    for case in doc["accept"].as_array().unwrap() {
        check_pyjwt_token(&verifier, case);
    }
}

/// Tokens the generator made wrong on purpose are refused with the kind it recorded, for the reason it recorded.
#[test]
fn pyjwt_deliberately_wrong_tokens_are_refused() {
    let doc = pyjwt();
    let (set, _) = KeySet::from_jwks_filtered(&doc["jwks"].to_string(), None).unwrap();
    let verifier = Verifier::<Value>::builder(set)
        .algorithms(SUPPORTED)
        .issuer(doc["issuer"].as_str().unwrap())
        .audience(doc["audience"].as_str().unwrap())
        .build()
        .unwrap();
    let cases = doc["refuse"].as_array().unwrap();
    assert!(cases.len() >= 14);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let expected = kind_named(case["expect"].as_str().unwrap());
        assert_eq!(
            outcome(verifier.verify(case["token"].as_str().unwrap())),
            Err(expected),
            "{name}: {}",
            case["why"]
        );
    }
}
