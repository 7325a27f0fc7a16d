//! The HTTP-free `Verifier`: every refusal it can make, and what it accepts.
//!
//! Each test states in one line why the expected outcome is the right one.

mod common;

use std::borrow::Cow;
use std::time::Duration;

use common::*;
use jsonwebtoken::EncodingKey;
use jwt_tower::algorithm::SUPPORTED;
use jwt_tower::{
    Algorithm, ConfigError, KeySet, RegisteredClaims, RejectionKind, VerificationKey, Verifier,
};
use serde::Deserialize;
use serde_json::{Value, json};

const HS: Algorithm = Algorithm::HS256;

/// A verifier over the HMAC test key, allowing HS256.
fn hs256() -> Verifier<RegisteredClaims> {
    Verifier::builder(verification_key(HS))
        .algorithms([HS])
        .build()
        .unwrap()
}

/// An HS256 token with exactly these claims (as given, no defaults added).
fn hs_token(claims: &Value) -> String {
    mint(HS, None, claims)
}

/// An HS256 token with exactly this payload text (for duplicate members and odd JSON).
fn hs_raw(payload: &str) -> String {
    sign_raw(HS, r#"{"alg":"HS256","typ":"JWT"}"#, payload)
}

/// Valid claims without `name`.
fn claims_without(name: &str) -> Value {
    let mut c = claims();
    c.as_object_mut().unwrap().remove(name);
    c
}

// ---------------------------------------------------------------- alg: none & allow-list

#[test]
fn alg_none_in_any_casing_is_refused() {
    // `none` is never an algorithm, whatever the allow-list holds and however it is spelled.
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms(SUPPORTED)
        .build()
        .unwrap();
    let payload = b64(claims().to_string());
    for spelling in ["none", "None", "NONE", "nOnE"] {
        let header = b64(json!({ "alg": spelling, "typ": "JWT" }).to_string());
        // Empty signature, trailing dot kept (the classic `alg: none` token).
        let empty = format!("{header}.{payload}.");
        assert_eq!(
            kind(verifier.verify(&empty)),
            RejectionKind::AlgorithmNotAllowed,
            "{spelling}"
        );
        // A real signature from the right key, with the header relabelled as unsigned.
        let signed = hs_token(&claims());
        let sig = signed.rsplit_once('.').unwrap().1;
        let relabelled = format!("{header}.{payload}.{sig}");
        assert_eq!(
            kind(verifier.verify(&relabelled)),
            RejectionKind::AlgorithmNotAllowed,
            "{spelling}"
        );
    }
}

#[test]
fn alg_none_with_signature_segment_stripped_is_refused() {
    // Dropping the trailing dot too leaves two segments: not a JWS at all.
    let header = b64(r#"{"alg":"none"}"#);
    let token = format!("{header}.{}", b64(claims().to_string()));
    assert_eq!(kind(hs256().verify(&token)), RejectionKind::Malformed);
    // And an empty header `alg` is no algorithm either.
    let token = format!("{}.{}.", b64(r#"{"alg":""}"#), b64(claims().to_string()));
    assert_eq!(
        kind(hs256().verify(&token)),
        RejectionKind::AlgorithmNotAllowed
    );
}

#[test]
fn missing_or_unknown_alg_is_refused() {
    // No `alg`, a made-up one, or a wrong casing of a real one are all outside the allow-list.
    for header in [
        json!({ "typ": "JWT" }),
        json!({ "alg": "HS1024" }),
        json!({ "alg": "hs256" }),
        json!({ "alg": "HS256 " }),
    ] {
        let token = sign_header(HS, &header, &claims());
        assert_eq!(
            kind(hs256().verify(&token)),
            RejectionKind::AlgorithmNotAllowed,
            "{header}"
        );
    }
}

#[test]
fn alg_of_the_wrong_json_type_is_malformed() {
    // `alg` must be a string; anything else is a broken header, not an algorithm.
    let token = sign_header(HS, &json!({ "alg": 256 }), &claims());
    assert_eq!(kind(hs256().verify(&token)), RejectionKind::Malformed);
}

#[test]
fn alg_outside_the_allow_list_is_refused() {
    // The key it names could verify HS384 (same secret), but the allow-list only names HS256.
    let keys = KeySet::new([
        VerificationKey::hmac(Algorithm::HS384, SECRET)
            .unwrap()
            .with_kid("384"),
        verification_key(HS).with_kid("256"),
    ]);
    let verifier = Verifier::<RegisteredClaims>::builder(keys)
        .algorithms([HS])
        .build()
        .unwrap();
    let token = mint(Algorithm::HS384, Some("384"), &claims());
    assert_eq!(
        kind(verifier.verify(&token)),
        RejectionKind::AlgorithmNotAllowed
    );
}

#[test]
fn alg_allowed_but_not_the_keys_is_refused() {
    // The allow-list has HS384, but the selected key is an HS256 key: the key decides.
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS, Algorithm::HS384])
        .build()
        .unwrap();
    let token = mint(Algorithm::HS384, None, &claims());
    assert_eq!(
        kind(verifier.verify(&token)),
        RejectionKind::AlgorithmNotAllowed
    );
}

#[test]
fn rsa_key_from_pem_does_not_verify_pss_with_the_same_modulus() {
    // A PEM key loaded for RS256 is for RS256 only: a PS256 token from the same RSA key pair is refused.
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(Algorithm::RS256))
        .algorithms([Algorithm::RS256, Algorithm::PS256])
        .build()
        .unwrap();
    let token = mint(Algorithm::PS256, None, &claims());
    assert_eq!(
        kind(verifier.verify(&token)),
        RejectionKind::AlgorithmNotAllowed
    );
}

#[test]
fn ec_key_does_not_verify_another_curve() {
    // A P-256 key with an ES384 token (signed by the P-384 key): the key is not for ES384.
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(Algorithm::ES256))
        .algorithms([Algorithm::ES256, Algorithm::ES384])
        .build()
        .unwrap();
    let token = mint(Algorithm::ES384, None, &claims());
    assert_eq!(
        kind(verifier.verify(&token)),
        RejectionKind::AlgorithmNotAllowed
    );
}

#[test]
fn algorithm_confusion_rsa_public_key_as_hmac_secret_never_verifies() {
    // The classic confusion attack: HS256 signed with the RSA public key's PEM bytes as the secret.
    let public_pem = key_file("rsa2048-public.pem");
    let rsa = VerificationKey::from_pem(Algorithm::RS256, &public_pem).unwrap();
    let verifier = Verifier::<RegisteredClaims>::builder(rsa.clone())
        .algorithms([Algorithm::RS256, HS])
        .build()
        .unwrap();
    for secret in [public_pem.as_bytes(), public_pem.trim_end().as_bytes()] {
        let token = sign_raw_with(
            &EncodingKey::from_secret(secret).unwrap(),
            HS,
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &claims().to_string(),
        );
        assert_eq!(
            kind(verifier.verify(&token)),
            RejectionKind::AlgorithmNotAllowed
        );
    }
    // The same through a kid, and with the RSA key loaded from a JWK without `alg` (RS*/PS*).
    let mut jwk = public_jwk(Algorithm::RS256, "rsa");
    jwk.as_object_mut().unwrap().remove("alg");
    let from_jwk = VerificationKey::from_jwk_str(&jwk.to_string()).unwrap();
    let verifier = Verifier::<RegisteredClaims>::builder(KeySet::new([from_jwk]))
        .algorithms(SUPPORTED)
        .build()
        .unwrap();
    let token = sign_raw_with(
        &EncodingKey::from_secret(public_pem.as_bytes()).unwrap(),
        HS,
        r#"{"alg":"HS256","kid":"rsa"}"#,
        &claims().to_string(),
    );
    assert_eq!(
        kind(verifier.verify(&token)),
        RejectionKind::AlgorithmNotAllowed
    );
    // Sanity: the genuine RS256 token still verifies with both.
    let good = mint(Algorithm::RS256, Some("rsa"), &claims());
    assert!(verifier.verify(&good).is_ok());
}

// ---------------------------------------------------------------- kid rules

fn two_hmac_keys() -> (KeySet, EncodingKey, EncodingKey) {
    let secret_a = [b'a'; 32];
    let secret_b = [b'b'; 32];
    let set = KeySet::new([
        VerificationKey::hmac(HS, secret_a).unwrap().with_kid("a"),
        VerificationKey::hmac(HS, secret_b).unwrap().with_kid("b"),
    ]);
    (
        set,
        EncodingKey::from_secret(&secret_a).unwrap(),
        EncodingKey::from_secret(&secret_b).unwrap(),
    )
}

fn hs_with(key: &EncodingKey, kid: Option<&str>) -> String {
    let header = match kid {
        Some(kid) => json!({ "alg": "HS256", "kid": kid }),
        None => json!({ "alg": "HS256" }),
    };
    sign_raw_with(key, HS, &header.to_string(), &claims().to_string())
}

#[test]
fn kid_selects_exactly_that_key() {
    // `kid` picks one key; a token signed by another key of the set is not tried against it.
    let (set, key_a, key_b) = two_hmac_keys();
    let verifier = Verifier::<RegisteredClaims>::builder(set)
        .algorithms([HS])
        .build()
        .unwrap();
    assert!(verifier.verify(&hs_with(&key_a, Some("a"))).is_ok());
    assert!(verifier.verify(&hs_with(&key_b, Some("b"))).is_ok());
    assert_eq!(
        kind(verifier.verify(&hs_with(&key_b, Some("a")))),
        RejectionKind::InvalidSignature
    );
}

#[test]
fn unknown_kid_is_unknown_key() {
    // A kid the set does not hold selects nothing: no scan over the other keys.
    let (set, key_a, _) = two_hmac_keys();
    let verifier = Verifier::<RegisteredClaims>::builder(set)
        .algorithms([HS])
        .build()
        .unwrap();
    assert_eq!(
        kind(verifier.verify(&hs_with(&key_a, Some("c")))),
        RejectionKind::UnknownKey
    );
    assert_eq!(
        kind(verifier.verify(&hs_with(&key_a, Some("")))),
        RejectionKind::UnknownKey
    );
    assert_eq!(
        kind(verifier.verify(&hs_with(&key_a, Some("A")))),
        RejectionKind::UnknownKey
    );
}

#[test]
fn no_kid_against_two_keys_is_unknown_key() {
    // With two keys and no default, a token without kid cannot be matched to one.
    let (set, key_a, _) = two_hmac_keys();
    let verifier = Verifier::<RegisteredClaims>::builder(set)
        .algorithms([HS])
        .build()
        .unwrap();
    assert_eq!(
        kind(verifier.verify(&hs_with(&key_a, None))),
        RejectionKind::UnknownKey
    );
}

#[test]
fn no_kid_uses_the_default_kid() {
    // `with_default_kid` names the key for kid-less tokens, and only that key.
    let (set, key_a, key_b) = two_hmac_keys();
    let verifier = Verifier::<RegisteredClaims>::builder(set.with_default_kid("a"))
        .algorithms([HS])
        .build()
        .unwrap();
    assert!(verifier.verify(&hs_with(&key_a, None)).is_ok());
    assert_eq!(
        kind(verifier.verify(&hs_with(&key_b, None))),
        RejectionKind::InvalidSignature
    );
    // Tokens with a kid still get their own key.
    assert!(verifier.verify(&hs_with(&key_b, Some("b"))).is_ok());
}

#[test]
fn default_kid_naming_no_key_selects_nothing() {
    // A default kid that is not in the set is not a licence to pick some other key.
    let (set, key_a, _) = two_hmac_keys();
    let verifier = Verifier::<RegisteredClaims>::builder(set.with_default_kid("zzz"))
        .algorithms([HS])
        .build()
        .unwrap();
    assert_eq!(
        kind(verifier.verify(&hs_with(&key_a, None))),
        RejectionKind::UnknownKey
    );
}

#[test]
fn single_key_set_accepts_a_token_without_kid() {
    // The only key of a set is its default, even when that key has a kid.
    let key = verification_key(HS).with_kid("k1");
    let verifier = Verifier::<RegisteredClaims>::builder(KeySet::single(key))
        .algorithms([HS])
        .build()
        .unwrap();
    assert!(verifier.verify(&mint(HS, None, &claims())).is_ok());
    assert!(verifier.verify(&mint(HS, Some("k1"), &claims())).is_ok());
    // But a token naming another kid contradicts the key's own name.
    assert_eq!(
        kind(verifier.verify(&mint(HS, Some("k2"), &claims()))),
        RejectionKind::UnknownKey
    );
}

#[test]
fn single_kidless_key_accepts_any_kid() {
    // A lone key without a kid has no name a token could contradict.
    let verifier = hs256();
    for kid in ["k1", "anything", ""] {
        let verified = verifier.verify(&mint(HS, Some(kid), &claims())).unwrap();
        assert_eq!(verified.header().unwrap().kid.as_deref(), Some(kid));
    }
    assert!(verifier.verify(&mint(HS, None, &claims())).is_ok());
}

#[test]
fn kidless_key_beside_named_keys_is_not_a_fallback() {
    // Once named keys exist, an unknown kid or a missing kid does not fall back to the unnamed key.
    let (set, key_a, _) = two_hmac_keys();
    let set = set.with_key(verification_key(HS));
    let verifier = Verifier::<RegisteredClaims>::builder(set)
        .algorithms([HS])
        .build()
        .unwrap();
    assert_eq!(
        kind(verifier.verify(&mint(HS, Some("zzz"), &claims()))),
        RejectionKind::UnknownKey
    );
    assert_eq!(
        kind(verifier.verify(&mint(HS, None, &claims()))),
        RejectionKind::UnknownKey
    );
    assert!(verifier.verify(&hs_with(&key_a, Some("a"))).is_ok());
}

// ---------------------------------------------------------------- keys named by the token

/// An RS256 verifier over the real RSA test key (kid "issuer-key").
fn rsa_verifier() -> Verifier<RegisteredClaims> {
    let key = verification_key(Algorithm::RS256).with_kid("issuer-key");
    Verifier::builder(KeySet::single(key))
        .algorithms([Algorithm::RS256])
        .build()
        .unwrap()
}

/// The attacker's own RSA key pair (the second test key).
fn attacker_rsa() -> EncodingKey {
    EncodingKey::from_rsa_pem(key_file("rsa2048b-private.pem").as_bytes()).unwrap()
}

fn attacker_jwk() -> Value {
    init();
    let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&attacker_rsa(), jwt_alg(Algorithm::RS256))
        .unwrap();
    let mut jwk = serde_json::to_value(jwk).unwrap();
    jwk["kid"] = json!("issuer-key");
    jwk
}

#[test]
fn embedded_jwk_is_never_used() {
    // The attacker signs with its own key and embeds that key: we only ever use our keys.
    let header = json!({ "alg": "RS256", "kid": "issuer-key", "jwk": attacker_jwk() });
    let token = sign_raw_with(
        &attacker_rsa(),
        Algorithm::RS256,
        &header.to_string(),
        &claims().to_string(),
    );
    assert_eq!(
        kind(rsa_verifier().verify(&token)),
        RejectionKind::InvalidSignature
    );
}

#[test]
fn jku_and_x5u_are_never_fetched() {
    // URLs in the header pointing at attacker keys are ignored; the signature is checked with our key.
    for (name, value) in [
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
    ] {
        let mut header = json!({ "alg": "RS256", "kid": "issuer-key" });
        header[name] = value;
        let token = sign_raw_with(
            &attacker_rsa(),
            Algorithm::RS256,
            &header.to_string(),
            &claims().to_string(),
        );
        assert_eq!(
            kind(rsa_verifier().verify(&token)),
            RejectionKind::InvalidSignature,
            "{name}"
        );
    }
}

#[test]
fn x5c_chain_is_never_used() {
    // An embedded certificate chain is not a key source either.
    let header = json!({ "alg": "RS256", "kid": "issuer-key", "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"] });
    let token = sign_raw_with(
        &attacker_rsa(),
        Algorithm::RS256,
        &header.to_string(),
        &claims().to_string(),
    );
    assert_eq!(
        kind(rsa_verifier().verify(&token)),
        RejectionKind::InvalidSignature
    );
}

#[test]
fn embedded_oct_jwk_with_attacker_secret_is_never_used() {
    // Same attack with HMAC: the attacker's secret travels in the header, and is ignored.
    let secret = [b'x'; 32];
    let jwk = json!({ "kty": "oct", "k": b64(secret), "alg": "HS256" });
    let header = json!({ "alg": "HS256", "jwk": jwk });
    let token = sign_raw_with(
        &EncodingKey::from_secret(&secret).unwrap(),
        HS,
        &header.to_string(),
        &claims().to_string(),
    );
    assert_eq!(
        kind(hs256().verify(&token)),
        RejectionKind::InvalidSignature
    );
}

#[test]
fn header_extras_do_not_affect_a_genuine_token() {
    // jku/x5u/jwk are ignored, not refused: a token signed by our key still verifies with them present.
    let header = json!({ "alg": "RS256", "kid": "issuer-key", "jku": "https://attacker.example/", "jwk": attacker_jwk() });
    let token = sign_header(Algorithm::RS256, &header, &claims());
    assert!(rsa_verifier().verify(&token).is_ok());
}

// ---------------------------------------------------------------- crit, JWE, shape

#[test]
fn crit_with_an_unknown_extension_is_refused() {
    // We implement no JWS extension, so any name in `crit` is one we do not understand.
    let header = json!({ "alg": "HS256", "crit": ["urn:example:ext"], "urn:example:ext": true });
    assert_eq!(
        kind(hs256().verify(&sign_header(HS, &header, &claims()))),
        RejectionKind::UnsupportedCritical
    );
    let header = json!({ "alg": "HS256", "crit": ["b64"], "b64": false });
    assert_eq!(
        kind(hs256().verify(&sign_header(HS, &header, &claims()))),
        RejectionKind::UnsupportedCritical
    );
}

#[test]
fn crit_empty_array_is_refused() {
    // RFC 7515 §4.1.11 forbids an empty `crit` list.
    let header = json!({ "alg": "HS256", "crit": [] });
    assert_eq!(
        kind(hs256().verify(&sign_header(HS, &header, &claims()))),
        RejectionKind::UnsupportedCritical
    );
}

#[test]
fn crit_of_the_wrong_type_is_malformed() {
    // `crit` must be an array of strings; a bare string is a broken header.
    let header = json!({ "alg": "HS256", "crit": "exp" });
    assert_eq!(
        kind(hs256().verify(&sign_header(HS, &header, &claims()))),
        RejectionKind::Malformed
    );
}

#[test]
fn five_segments_is_encrypted() {
    // Five segments is JWE compact serialization: encrypted tokens are not accepted.
    let header = b64(r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#);
    let token = format!("{header}.a2V5.aXY.Y2lwaGVydGV4dA.dGFn");
    assert_eq!(kind(hs256().verify(&token)), RejectionKind::Encrypted);
}

#[test]
fn enc_header_is_encrypted() {
    // An `enc` member marks a JWE even in three segments.
    let header = json!({ "alg": "HS256", "enc": "A256GCM" });
    assert_eq!(
        kind(hs256().verify(&sign_header(HS, &header, &claims()))),
        RejectionKind::Encrypted
    );
}

#[test]
fn wrong_segment_counts_are_malformed() {
    // Only three segments make a JWS; 1, 2, 4 and 6 do not.
    let token = hs_token(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    for bad in [
        String::new(),
        parts[0].to_owned(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{token}.extra"),
        format!("{token}.a.b.c"),
        "..".to_owned(),
    ] {
        assert_eq!(
            kind(hs256().verify(&bad)),
            RejectionKind::Malformed,
            "{bad:?}"
        );
    }
    // Three empty segments: an empty header is no JSON.
    assert_eq!(kind(hs256().verify("..")), RejectionKind::Malformed);
}

#[test]
fn header_or_payload_that_is_not_json_is_malformed() {
    // Undecodable or non-JSON header/payload is a malformed token, signature or not.
    let garbage_header = format!("{}.{}.sig", b64("not json"), b64(claims().to_string()));
    assert_eq!(
        kind(hs256().verify(&garbage_header)),
        RejectionKind::Malformed
    );
    let garbage_payload = hs_raw("not json");
    assert_eq!(
        kind(hs256().verify(&garbage_payload)),
        RejectionKind::Malformed
    );
    let truncated = hs_raw(r#"{"sub":"alice","exp":"#);
    assert_eq!(kind(hs256().verify(&truncated)), RejectionKind::Malformed);
}

#[test]
fn payload_that_is_not_an_object_is_malformed() {
    // Claims must be a JSON object (RFC 7519 §7.2), whatever the claims type could make of an array.
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Positional {
        sub: String,
        exp: i64,
    }
    let positional = Verifier::<Positional>::builder(verification_key(HS))
        .algorithms([HS])
        .require_exp(false)
        .build()
        .unwrap();
    let exp = now() + 3600;
    for payload in [
        format!(r#"["alice",{exp}]"#),
        "[]".to_owned(),
        " \"alice\"".to_owned(),
        "42".to_owned(),
        "null".to_owned(),
        "true".to_owned(),
    ] {
        let token = hs_raw(&payload);
        for err in [
            hs256().verify(&token).unwrap_err(),
            positional.verify(&token).unwrap_err(),
        ] {
            assert_eq!(err.kind(), RejectionKind::Malformed, "{payload}");
            assert_eq!(
                err.description(),
                "the token's claims are not a JSON object",
                "{payload}"
            );
        }
    }
}

#[test]
fn trailing_data_after_the_claims_is_malformed() {
    // Two JSON documents in the payload are not one claims object.
    let token = hs_raw(&format!("{} {{}}", claims()));
    assert_eq!(kind(hs256().verify(&token)), RejectionKind::Malformed);
    // An empty object first, then the claims: refused too, whatever the claims type.
    let lenient = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .require_exp(false)
        .build()
        .unwrap();
    for payload in [
        format!("{{}}{}", claims()),
        "{} trailing".to_owned(),
        "{ } {}".to_owned(),
    ] {
        let token = hs_raw(&payload);
        assert_eq!(
            kind(lenient.verify(&token)),
            RejectionKind::Malformed,
            "{payload}"
        );
    }
}

#[test]
fn duplicate_alg_in_header_is_malformed() {
    // A header naming `alg` twice is ambiguous: parsers could disagree on which one wins.
    let token = sign_raw(HS, r#"{"alg":"none","alg":"HS256"}"#, &claims().to_string());
    assert_eq!(kind(hs256().verify(&token)), RejectionKind::Malformed);
    let token = sign_raw(
        HS,
        r#"{"alg":"HS256","alg":"HS256"}"#,
        &claims().to_string(),
    );
    assert_eq!(kind(hs256().verify(&token)), RejectionKind::Malformed);
}

#[test]
fn padded_base64_is_not_accepted() {
    // JWS uses unpadded base64url: `=` padding in the header or signature is malformed.
    let token = hs_token(&claims());
    let (h, rest) = token.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    for bad in [
        format!("{h}.{p}.{s}="),
        format!("{h}=.{p}.{s}"),
        format!("{h}.{p}.{s}=="),
    ] {
        assert_eq!(
            kind(hs256().verify(&bad)),
            RejectionKind::Malformed,
            "{bad}"
        );
    }
    // Padding on the payload changes the signing input, so the old signature no longer matches.
    let k = kind(hs256().verify(&format!("{h}.{p}=.{s}")));
    assert!(
        matches!(
            k,
            RejectionKind::Malformed | RejectionKind::InvalidSignature
        ),
        "{k:?}"
    );
}

#[test]
fn correctly_signed_padded_payload_is_malformed() {
    // Even signed over the padded text, a padded payload segment is not base64url.
    let payload = claims().to_string();
    let mut padded = b64(&payload);
    let pad = (4 - padded.len() % 4) % 4;
    if pad == 0 {
        // Make the JSON one byte longer so that its encoding needs padding.
        padded = b64(format!("{payload} "));
    }
    let pad = (4 - padded.len() % 4) % 4;
    assert!(pad > 0);
    let signing_input = format!("{}.{padded}{}", b64(r#"{"alg":"HS256"}"#), "=".repeat(pad));
    let sig = jsonwebtoken::crypto::sign(signing_input.as_bytes(), &encoding_key(HS), jwt_alg(HS))
        .unwrap();
    let token = format!("{signing_input}.{sig}");
    assert_eq!(kind(hs256().verify(&token)), RejectionKind::Malformed);
}

#[test]
fn standard_base64_alphabet_is_not_accepted() {
    // `+` and `/` are not in the base64url alphabet: never a valid signature.
    let token = hs_token(&claims());
    let (head, sig) = token.rsplit_once('.').unwrap();
    let standard: String = sig
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    for bad_sig in [
        format!("+{}", &sig[1..]),
        format!("/{}", &sig[1..]),
        standard,
    ] {
        let bad = format!("{head}.{bad_sig}");
        if bad == token {
            continue; // this signature had no `-`/`_` to translate
        }
        let k = kind(hs256().verify(&bad));
        assert!(
            matches!(
                k,
                RejectionKind::Malformed | RejectionKind::InvalidSignature
            ),
            "{k:?}"
        );
    }
    // In the header, a `+` or `/` makes it undecodable.
    let (h, rest) = token.split_once('.').unwrap();
    assert_eq!(
        kind(hs256().verify(&format!("+{}.{rest}", &h[1..]))),
        RejectionKind::Malformed
    );
}

#[test]
fn non_canonical_signature_encoding_is_not_accepted() {
    // Changing the unused low bits of the last character decodes to the same bytes: still refused.
    let token = hs_token(&claims());
    let (head, sig) = token.rsplit_once('.').unwrap();
    // HS256: 32 bytes = 43 characters, the last one carries 2 unused bits.
    assert_eq!(sig.len(), 43);
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = sig.as_bytes()[42];
    let index = ALPHABET.iter().position(|c| *c == last).unwrap();
    let twin = ALPHABET[index ^ 1] as char;
    let bad = format!("{head}.{}{twin}", &sig[..42]);
    let k = kind(hs256().verify(&bad));
    assert!(
        matches!(
            k,
            RejectionKind::Malformed | RejectionKind::InvalidSignature
        ),
        "{k:?}"
    );
}

#[test]
fn whitespace_inside_the_token_is_not_accepted() {
    // A token is exactly its characters: embedded whitespace is not skipped.
    let token = hs_token(&claims());
    let (head, sig) = token.rsplit_once('.').unwrap();
    for bad in [
        format!("{head}.{} ", sig),
        format!("{head}.\n{sig}"),
        format!(" {token}"),
    ] {
        let k = kind(hs256().verify(&bad));
        assert!(
            matches!(
                k,
                RejectionKind::Malformed | RejectionKind::InvalidSignature
            ),
            "{k:?}"
        );
    }
}

#[test]
fn oversized_signature_is_refused() {
    // A signature far longer than any key could produce is refused without decoding it into the buffer.
    let token = hs_token(&claims());
    let (head, _) = token.rsplit_once('.').unwrap();
    let bad = format!("{head}.{}", "A".repeat(2000));
    let k = kind(hs256().verify(&bad));
    assert!(
        matches!(
            k,
            RejectionKind::Malformed | RejectionKind::InvalidSignature
        ),
        "{k:?}"
    );
    let bad = format!("{head}.{}", "A".repeat(1368));
    let k = kind(hs256().verify(&bad));
    assert!(
        matches!(
            k,
            RejectionKind::Malformed | RejectionKind::InvalidSignature
        ),
        "{k:?}"
    );
}

#[test]
fn empty_signature_with_a_real_alg_is_invalid() {
    // Stripping the signature of an HS256 token does not make it unsigned.
    let token = hs_token(&claims());
    let (head, _) = token.rsplit_once('.').unwrap();
    assert_eq!(
        kind(hs256().verify(&format!("{head}."))),
        RejectionKind::InvalidSignature
    );
}

#[test]
fn token_longer_than_the_default_limit_is_too_large() {
    // Over 8 KiB the token is refused before any decoding.
    assert_eq!(hs256().max_token_len(), 8 * 1024);
    let big = hs_token(&claims_with(json!({ "pad": "x".repeat(9000) })));
    assert!(big.len() > 8 * 1024);
    assert_eq!(kind(hs256().verify(&big)), RejectionKind::TokenTooLarge);
    // Not even a garbage string of that size is looked at.
    assert_eq!(
        kind(hs256().verify(&"!".repeat(8 * 1024 + 1))),
        RejectionKind::TokenTooLarge
    );
    // A token just under the limit is fine.
    let mut pad = 5000;
    let fits = loop {
        let t = hs_token(&claims_with(json!({ "pad": "x".repeat(pad) })));
        if t.len() <= 8 * 1024 {
            break t;
        }
        pad -= 100;
    };
    assert!(hs256().verify(&fits).is_ok());
}

#[test]
fn token_at_exactly_the_limit_is_accepted_one_more_byte_is_not() {
    // The limit is inclusive: `max_token_len(n)` accepts a token of n bytes.
    let token = hs_token(&claims());
    let at_limit = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .max_token_len(token.len())
        .build()
        .unwrap();
    assert!(at_limit.verify(&token).is_ok());
    let below = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .max_token_len(token.len() - 1)
        .build()
        .unwrap();
    assert_eq!(kind(below.verify(&token)), RejectionKind::TokenTooLarge);
}

#[test]
fn claims_are_not_read_before_the_signature_verifies() {
    // An expired token with a bad signature is a bad signature, not an expired token.
    let expired = hs_token(&claims_with(json!({ "exp": now() - 3600 })));
    let forged = sign_raw_with(
        &EncodingKey::from_secret(&[b'z'; 32]).unwrap(),
        HS,
        r#"{"alg":"HS256"}"#,
        &claims_with(json!({ "exp": now() - 3600 })).to_string(),
    );
    assert_eq!(kind(hs256().verify(&expired)), RejectionKind::Expired);
    assert_eq!(
        kind(hs256().verify(&forged)),
        RejectionKind::InvalidSignature
    );
    // A payload that is not even JSON but badly signed: still a signature failure.
    let forged = sign_raw_with(
        &EncodingKey::from_secret(&[b'z'; 32]).unwrap(),
        HS,
        r#"{"alg":"HS256"}"#,
        "not json",
    );
    assert_eq!(
        kind(hs256().verify(&forged)),
        RejectionKind::InvalidSignature
    );
}

#[test]
fn a_tampered_payload_is_an_invalid_signature() {
    // Swapping in another payload under the same signature breaks it.
    let token = hs_token(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    let other = b64(claims_with(json!({ "sub": "mallory" })).to_string());
    let tampered = format!("{}.{other}.{}", parts[0], parts[2]);
    assert_eq!(
        kind(hs256().verify(&tampered)),
        RejectionKind::InvalidSignature
    );
}

// ---------------------------------------------------------------- exp, nbf, iat

#[test]
fn missing_exp_is_a_missing_claim_by_default() {
    // `exp` is required unless `require_exp(false)`.
    let token = hs_token(&claims_without("exp"));
    assert_eq!(kind(hs256().verify(&token)), RejectionKind::MissingClaim);
    // `exp: null` is no expiry either.
    let token = hs_token(&claims_with(json!({ "exp": null })));
    assert_eq!(kind(hs256().verify(&token)), RejectionKind::MissingClaim);
}

#[test]
fn missing_exp_is_fine_when_not_required() {
    // `require_exp(false)` lets non-expiring tokens through (but a present exp is still checked).
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .require_exp(false)
        .build()
        .unwrap();
    assert!(verifier.verify(&hs_token(&claims_without("exp"))).is_ok());
    let expired = hs_token(&claims_with(json!({ "exp": now() - 3600 })));
    assert_eq!(kind(verifier.verify(&expired)), RejectionKind::Expired);
}

#[test]
fn exp_past_beyond_leeway_is_expired() {
    // 60 s past with the default 30 s leeway is expired.
    let token = hs_token(&claims_with(json!({ "exp": now() - 60 })));
    assert_eq!(kind(hs256().verify(&token)), RejectionKind::Expired);
    // A very old or negative exp is expired too (no overflow).
    for exp in [json!(0), json!(-1), json!(i64::MIN)] {
        let token = hs_token(&claims_with(json!({ "exp": exp })));
        assert_eq!(
            kind(hs256().verify(&token)),
            RejectionKind::Expired,
            "{exp}"
        );
    }
}

#[test]
fn exp_past_within_leeway_is_accepted() {
    // 10 s past is within the default 30 s leeway for clock skew.
    let token = hs_token(&claims_with(json!({ "exp": now() - 10 })));
    assert!(hs256().verify(&token).is_ok());
}

#[test]
fn zero_leeway_is_strict() {
    // With no leeway, an exp one second ago is expired.
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    let token = hs_token(&claims_with(json!({ "exp": now() - 1 })));
    assert_eq!(kind(verifier.verify(&token)), RejectionKind::Expired);
    let token = hs_token(&claims_with(json!({ "exp": now() + 60 })));
    assert!(verifier.verify(&token).is_ok());
}

#[test]
fn far_future_exp_is_accepted() {
    // A huge exp (i64::MAX) must not overflow into the past.
    let token = hs_token(&claims_with(json!({ "exp": i64::MAX })));
    assert!(hs256().verify(&token).is_ok());
}

#[test]
fn exp_larger_than_i64_is_an_invalid_claim() {
    // u64::MAX is not a representable NumericDate here.
    let token = hs_token(&claims_with(json!({ "exp": u64::MAX })));
    assert_eq!(kind(hs256().verify(&token)), RejectionKind::InvalidClaim);
}

#[test]
fn nbf_future_beyond_leeway_is_not_yet_valid() {
    // 120 s ahead is past the 30 s leeway.
    let token = hs_token(&claims_with(json!({ "nbf": now() + 120 })));
    assert_eq!(kind(hs256().verify(&token)), RejectionKind::NotYetValid);
}

#[test]
fn nbf_within_leeway_or_unchecked_is_accepted() {
    // 10 s ahead is clock skew; and `validate_nbf(false)` ignores nbf entirely.
    assert!(
        hs256()
            .verify(&hs_token(&claims_with(json!({ "nbf": now() + 10 }))))
            .is_ok()
    );
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .validate_nbf(false)
        .build()
        .unwrap();
    assert!(
        verifier
            .verify(&hs_token(&claims_with(json!({ "nbf": now() + 3600 }))))
            .is_ok()
    );
}

#[test]
fn exp_as_a_string_is_an_invalid_claim() {
    // A NumericDate is a JSON number; "exp":"1700000000" has the wrong type.
    let token = hs_token(&claims_with(json!({ "exp": (now() + 3600).to_string() })));
    assert_eq!(kind(hs256().verify(&token)), RejectionKind::InvalidClaim);
    for bad in [json!(true), json!([1]), json!({ "t": 1 })] {
        let token = hs_token(&claims_with(json!({ "exp": bad })));
        assert_eq!(
            kind(hs256().verify(&token)),
            RejectionKind::InvalidClaim,
            "{bad}"
        );
    }
    // nbf and iat follow the same rule.
    let token = hs_token(&claims_with(json!({ "nbf": "0" })));
    assert_eq!(kind(hs256().verify(&token)), RejectionKind::InvalidClaim);
    let token = hs_token(&claims_with(json!({ "iat": "0" })));
    assert_eq!(kind(hs256().verify(&token)), RejectionKind::InvalidClaim);
}

#[test]
fn exp_as_a_float_is_floored() {
    // RFC 7519 allows non-integer NumericDates; we floor them.
    let exp = now() + 3600;
    let payload = format!(r#"{{"sub":"alice","exp":{exp}.75}}"#);
    let verified = Verifier::<Value>::builder(verification_key(HS))
        .algorithms([HS])
        .build()
        .unwrap()
        .verify(&hs_raw(&payload))
        .unwrap();
    assert_eq!(verified.identity().expires_at(), Some(exp));
    // A float exp in the past is still expired.
    let payload = format!(r#"{{"exp":{}.5}}"#, now() - 3600);
    assert_eq!(
        kind(hs256().verify(&hs_raw(&payload))),
        RejectionKind::Expired
    );
}

#[test]
fn exp_as_a_non_finite_or_huge_float_is_an_invalid_claim() {
    // 1e300 cannot be a time in seconds.
    let token = hs_raw(r#"{"exp":1e300}"#);
    assert_eq!(kind(hs256().verify(&token)), RejectionKind::InvalidClaim);
}

#[test]
fn max_age_with_an_old_iat_is_too_old() {
    // Issued two hours ago, accepted for one hour at most.
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .max_age(Duration::from_secs(3600))
        .build()
        .unwrap();
    let old = hs_token(&claims_with(json!({ "iat": now() - 7200 })));
    assert_eq!(kind(verifier.verify(&old)), RejectionKind::TooOld);
    let fresh = hs_token(&claims_with(json!({ "iat": now() - 60 })));
    assert!(verifier.verify(&fresh).is_ok());
}

#[test]
fn max_age_without_iat_is_a_missing_claim() {
    // max_age makes iat required: without it the age cannot be known.
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .max_age(Duration::from_secs(3600))
        .build()
        .unwrap();
    assert_eq!(
        kind(verifier.verify(&hs_token(&claims_without("iat")))),
        RejectionKind::MissingClaim
    );
}

#[test]
fn max_age_with_an_iat_in_the_future_is_not_yet_valid() {
    // An iat beyond the leeway in the future is not "too old" but not valid yet, max age or not.
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .max_age(Duration::from_secs(3600))
        .build()
        .unwrap();
    let token = hs_token(&claims_with(json!({ "iat": now() + 600 })));
    assert_eq!(kind(verifier.verify(&token)), RejectionKind::NotYetValid);
}

// ---------------------------------------------------------------- iss, aud, sub

fn with_issuer() -> Verifier<RegisteredClaims> {
    Verifier::builder(verification_key(HS))
        .algorithms([HS])
        .issuer("https://auth.example.com")
        .issuer("https://auth2.example.com")
        .build()
        .unwrap()
}

#[test]
fn issuer_matches() {
    // Both configured issuers are accepted.
    for iss in ["https://auth.example.com", "https://auth2.example.com"] {
        let verified = with_issuer()
            .verify(&hs_token(&claims_with(json!({ "iss": iss }))))
            .unwrap();
        assert_eq!(verified.identity().issuer(), Some(iss));
    }
}

#[test]
fn issuer_missing_is_a_missing_claim() {
    // Once an issuer is configured, iss is required.
    assert_eq!(
        kind(with_issuer().verify(&hs_token(&claims()))),
        RejectionKind::MissingClaim
    );
    let token = hs_token(&claims_with(json!({ "iss": null })));
    assert_eq!(
        kind(with_issuer().verify(&token)),
        RejectionKind::MissingClaim
    );
}

#[test]
fn issuer_wrong_is_invalid_issuer() {
    // A different issuer, a prefix of ours, or ours with a trailing slash are all different strings.
    for iss in [
        "https://evil.example.com",
        "https://auth.example.co",
        "https://auth.example.com/",
        "",
    ] {
        let token = hs_token(&claims_with(json!({ "iss": iss })));
        assert_eq!(
            kind(with_issuer().verify(&token)),
            RejectionKind::InvalidIssuer,
            "{iss}"
        );
    }
}

#[test]
fn issuer_of_the_wrong_type_is_an_invalid_claim() {
    // iss is a StringOrURI: a number or an array (even holding our issuer) is the wrong type.
    for iss in [
        json!(42),
        json!(["https://auth.example.com"]),
        json!({ "iss": "x" }),
        json!(true),
    ] {
        let token = hs_token(&claims_with(json!({ "iss": iss })));
        assert_eq!(
            kind(with_issuer().verify(&token)),
            RejectionKind::InvalidClaim,
            "{iss}"
        );
    }
}

#[test]
fn issuer_with_json_escapes_is_compared_decoded() {
    // `\/` is JSON for `/`: the decoded value is what is compared.
    let payload = format!(
        r#"{{"iss":"https:\/\/auth.example.com","exp":{}}}"#,
        now() + 60
    );
    assert!(with_issuer().verify(&hs_raw(&payload)).is_ok());
}

fn with_audience() -> Verifier<RegisteredClaims> {
    Verifier::builder(verification_key(HS))
        .algorithms([HS])
        .audience("orders-api")
        .build()
        .unwrap()
}

#[test]
fn audience_string_matches() {
    // aud as a single string equal to ours.
    assert!(
        with_audience()
            .verify(&hs_token(&claims_with(json!({ "aud": "orders-api" }))))
            .is_ok()
    );
}

#[test]
fn audience_array_matches() {
    // aud as an array naming ours among others.
    let token = hs_token(&claims_with(json!({ "aud": ["billing", "orders-api"] })));
    assert!(with_audience().verify(&token).is_ok());
}

#[test]
fn audience_no_match_is_invalid_audience() {
    // Neither the string, nor any array element, nor an empty array names us.
    for aud in [
        json!("billing"),
        json!(["billing", "orders"]),
        json!([]),
        json!("orders-api "),
    ] {
        let token = hs_token(&claims_with(json!({ "aud": aud })));
        assert_eq!(
            kind(with_audience().verify(&token)),
            RejectionKind::InvalidAudience,
            "{aud}"
        );
    }
}

#[test]
fn audience_of_the_wrong_type_is_an_invalid_claim() {
    // aud is a string or an array of strings; a number, an object or a mixed array are not.
    for aud in [
        json!(42),
        json!({ "aud": "orders-api" }),
        json!(["orders-api", 1]),
        json!(true),
    ] {
        let token = hs_token(&claims_with(json!({ "aud": aud })));
        assert_eq!(
            kind(with_audience().verify(&token)),
            RejectionKind::InvalidClaim,
            "{aud}"
        );
    }
}

#[test]
fn audience_missing_is_a_missing_claim() {
    // Once an audience is configured, aud is required.
    assert_eq!(
        kind(with_audience().verify(&hs_token(&claims()))),
        RejectionKind::MissingClaim
    );
}

#[test]
fn subject_is_enforced_when_configured() {
    // `subject("alice")` accepts alice, refuses bob and a token without sub.
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .subject("alice")
        .build()
        .unwrap();
    let ok = verifier.verify(&hs_token(&claims())).unwrap();
    assert_eq!(ok.subject(), Some("alice"));
    assert_eq!(ok.identity().subject(), Some("alice"));
    let bob = hs_token(&claims_with(json!({ "sub": "bob" })));
    assert_eq!(kind(verifier.verify(&bob)), RejectionKind::InvalidSubject);
    assert_eq!(
        kind(verifier.verify(&hs_token(&claims_without("sub")))),
        RejectionKind::InvalidSubject
    );
    let numeric = hs_token(&claims_with(json!({ "sub": 7 })));
    assert_eq!(kind(verifier.verify(&numeric)), RejectionKind::InvalidClaim);
}

// ---------------------------------------------------------------- required claims, typ

#[test]
fn required_claim_missing_is_a_missing_claim() {
    // require_claims(["jti"]) refuses a token without jti, and one whose jti is null.
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .require_claims(["jti"])
        .build()
        .unwrap();
    let err = verifier.verify(&hs_token(&claims())).unwrap_err();
    assert_eq!(err.kind(), RejectionKind::MissingClaim);
    assert!(err.description().contains("jti"), "{}", err.description());
    let null = hs_token(&claims_with(json!({ "jti": null })));
    assert_eq!(kind(verifier.verify(&null)), RejectionKind::MissingClaim);
    let ok = verifier
        .verify(&hs_token(&claims_with(json!({ "jti": "t-1" }))))
        .unwrap();
    assert_eq!(ok.identity().token_id(), Some("t-1"));
}

#[test]
fn required_custom_claims_are_checked() {
    // Required claims need not be registered ones.
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .require_claims(["sub", "tenant"])
        .build()
        .unwrap();
    assert_eq!(
        kind(verifier.verify(&hs_token(&claims()))),
        RejectionKind::MissingClaim
    );
    let ok = hs_token(&claims_with(json!({ "tenant": "acme" })));
    assert!(verifier.verify(&ok).is_ok());
}

#[test]
fn requiring_the_same_claim_twice_still_accepts_it() {
    // Configuration layered from several places may name a claim twice; that is still one requirement.
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .require_claims(["jti"])
        .require_claims(["jti", "sub"])
        .build()
        .unwrap();
    let ok = hs_token(&claims_with(json!({ "jti": "t-1" })));
    assert!(verifier.verify(&ok).is_ok());
    assert_eq!(
        kind(verifier.verify(&hs_token(&claims()))),
        RejectionKind::MissingClaim
    );
}

fn typed_verifier() -> Verifier<RegisteredClaims> {
    Verifier::builder(verification_key(HS))
        .algorithms([HS])
        .require_typ("at+jwt")
        .build()
        .unwrap()
}

fn with_typ(typ: Option<&str>) -> String {
    let header = match typ {
        Some(typ) => json!({ "alg": "HS256", "typ": typ }),
        None => json!({ "alg": "HS256" }),
    };
    sign_header(HS, &header, &claims())
}

#[test]
fn required_typ_matches_with_or_without_application_prefix() {
    // RFC 9068: "at+jwt", "application/at+jwt" and other casings are the same media type.
    for typ in [
        "at+jwt",
        "application/at+jwt",
        "AT+JWT",
        "Application/At+Jwt",
    ] {
        let verified = typed_verifier().verify(&with_typ(Some(typ))).unwrap();
        assert_eq!(verified.header().unwrap().typ.as_deref(), Some(typ));
    }
}

#[test]
fn wrong_or_missing_typ_is_invalid_type() {
    // An ID token ("JWT") is not an access token; an absent typ proves nothing.
    for typ in [
        Some("JWT"),
        None,
        Some("at+jwt+extra"),
        Some("application/"),
        Some(""),
    ] {
        assert_eq!(
            kind(typed_verifier().verify(&with_typ(typ))),
            RejectionKind::InvalidType,
            "{typ:?}"
        );
    }
}

#[test]
fn non_ascii_typ_is_refused_without_panicking() {
    // A multi-byte character across the `application/` prefix boundary is just a wrong typ.
    for typ in [
        "a\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
        "applicatio\u{e9}at+jwt",
        "\u{1F600}",
    ] {
        assert_eq!(
            kind(typed_verifier().verify(&with_typ(Some(typ)))),
            RejectionKind::InvalidType,
            "{typ}"
        );
    }
}

#[test]
fn typ_of_the_wrong_json_type_is_malformed() {
    // `typ` must be a string when present.
    let header = json!({ "alg": "HS256", "typ": 1 });
    assert_eq!(
        kind(typed_verifier().verify(&sign_header(HS, &header, &claims()))),
        RejectionKind::Malformed
    );
}

#[test]
fn typ_is_ignored_unless_required() {
    // Without require_typ, any typ (or none) is accepted.
    assert!(hs256().verify(&with_typ(Some("JWT"))).is_ok());
    assert!(hs256().verify(&with_typ(None)).is_ok());
}

// ---------------------------------------------------------------- custom checks, duplicates, C

#[derive(Debug, Deserialize)]
struct Tenanted {
    sub: String,
    tenant: String,
}

#[test]
fn custom_check_failure_is_rejected() {
    // A `validate` closure returning Err refuses the token as Rejected with its description.
    let verifier = Verifier::<Tenanted>::builder(verification_key(HS))
        .algorithms([HS])
        .validate(|c: &Tenanted| {
            if c.tenant == "acme" {
                Ok(())
            } else {
                Err(Cow::Borrowed("wrong tenant"))
            }
        })
        .build()
        .unwrap();
    let ok = verifier
        .verify(&hs_token(&claims_with(json!({ "tenant": "acme" }))))
        .unwrap();
    assert_eq!(ok.claims().tenant, "acme");
    assert_eq!(ok.claims().sub, "alice");
    let err = verifier
        .verify(&hs_token(&claims_with(json!({ "tenant": "globex" }))))
        .unwrap_err();
    assert_eq!(err.kind(), RejectionKind::Rejected);
    assert_eq!(err.description(), "wrong tenant");
}

#[test]
fn every_custom_check_must_pass() {
    // Checks are cumulative: the second one refusing is enough.
    let verifier = Verifier::<Tenanted>::builder(verification_key(HS))
        .algorithms([HS])
        .validate(|_| Ok(()))
        .validate(|c| {
            if c.sub == "root" {
                Err("no root".into())
            } else {
                Ok(())
            }
        })
        .build()
        .unwrap();
    let root = hs_token(&claims_with(json!({ "tenant": "acme", "sub": "root" })));
    assert_eq!(kind(verifier.verify(&root)), RejectionKind::Rejected);
}

#[test]
fn custom_checks_do_not_run_on_expired_tokens() {
    // Registered-claim checks come first: an expired token is Expired even if the check would refuse.
    let verifier = Verifier::<Tenanted>::builder(verification_key(HS))
        .algorithms([HS])
        .validate(|_| Err("always".into()))
        .build()
        .unwrap();
    let token = hs_token(&claims_with(
        json!({ "tenant": "acme", "exp": now() - 3600 }),
    ));
    assert_eq!(kind(verifier.verify(&token)), RejectionKind::Expired);
}

#[test]
fn duplicate_exp_is_malformed() {
    // Two `exp` members: parsers disagree on which wins, so the token is refused.
    let (past, future) = (now() - 3600, now() + 3600);
    for payload in [
        format!(r#"{{"sub":"alice","exp":{past},"exp":{future}}}"#),
        format!(r#"{{"sub":"alice","exp":{future},"exp":{past}}}"#),
        format!(r#"{{"sub":"alice","exp":{future},"exp":{future}}}"#),
        // The same member spelled with a JSON escape is still a duplicate.
        format!(r#"{{"sub":"alice","exp":{past},"\u0065xp":{future}}}"#),
    ] {
        assert_eq!(
            kind(hs256().verify(&hs_raw(&payload))),
            RejectionKind::Malformed,
            "{payload}"
        );
    }
}

#[test]
fn duplicate_iss_aud_sub_are_malformed() {
    // Any duplicated registered claim is ambiguous.
    let exp = now() + 3600;
    for payload in [
        format!(r#"{{"iss":"a","iss":"b","exp":{exp}}}"#),
        format!(r#"{{"aud":"a","aud":["b"],"exp":{exp}}}"#),
        format!(r#"{{"sub":"a","sub":"b","exp":{exp}}}"#),
        format!(r#"{{"nbf":1,"nbf":2,"exp":{exp}}}"#),
        format!(r#"{{"scope":"a","scope":"b","exp":{exp}}}"#),
        format!(r#"{{"roles":"a","roles":"b","exp":{exp}}}"#),
    ] {
        assert_eq!(
            kind(hs256().verify(&hs_raw(&payload))),
            RejectionKind::Malformed,
            "{payload}"
        );
    }
}

#[test]
fn claims_of_the_wrong_shape_for_c_are_an_invalid_claim() {
    // The caller's type decides the shape of its own claims: a number where it wants a string, or a missing field.
    let verifier = Verifier::<Tenanted>::builder(verification_key(HS))
        .algorithms([HS])
        .build()
        .unwrap();
    let number = hs_token(&claims_with(json!({ "tenant": 42 })));
    assert_eq!(kind(verifier.verify(&number)), RejectionKind::InvalidClaim);
    let missing = hs_token(&claims());
    assert_eq!(kind(verifier.verify(&missing)), RejectionKind::InvalidClaim);
}

#[test]
fn claim_type_errors_do_not_echo_values() {
    // Error descriptions never carry claim values back to the caller.
    let verifier = Verifier::<Tenanted>::builder(verification_key(HS))
        .algorithms([HS])
        .build()
        .unwrap();
    let err = verifier
        .verify(&hs_token(&claims_with(
            json!({ "tenant": 31337, "sub": "secret-subject" }),
        )))
        .unwrap_err();
    assert!(
        !err.description().contains("31337"),
        "{}",
        err.description()
    );
    assert!(
        !err.description().contains("secret-subject"),
        "{}",
        err.description()
    );
}

// ---------------------------------------------------------------- scopes and roles

#[test]
fn scope_string_is_split_into_scopes() {
    // `scope` is a space-separated string (RFC 8693); extra spaces add nothing.
    let token = hs_token(&claims_with(json!({ "scope": "read  write admin:all" })));
    let verified = hs256().verify(&token).unwrap();
    let id = verified.identity();
    let scopes: Vec<&str> = id.scopes().iter().map(|s| &**s).collect();
    assert_eq!(scopes, ["read", "write", "admin:all"]);
    assert!(id.has_scope("write"));
    assert!(verified.has_scope("read"));
    assert!(!id.has_scope("rea"));
    assert!(!id.has_scope("read write"));
}

#[test]
fn scp_array_is_read_as_scopes() {
    // Azure AD / Okta style `scp` arrays are scopes too.
    let token = hs_token(&claims_with(
        json!({ "scp": ["orders.read", "orders.write"] }),
    ));
    let id = hs256().verify(&token).unwrap().identity();
    let scopes: Vec<&str> = id.scopes().iter().map(|s| &**s).collect();
    assert_eq!(scopes, ["orders.read", "orders.write"]);
    assert!(id.has_scope("orders.write"));
}

#[test]
fn scp_string_and_scope_together_are_merged() {
    // A token may carry both; the identity holds both.
    let token = hs_token(&claims_with(json!({ "scope": "a b", "scp": "c d" })));
    let id = hs256().verify(&token).unwrap().identity();
    for s in ["a", "b", "c", "d"] {
        assert!(id.has_scope(s), "{s}");
    }
}

#[test]
fn scope_of_the_wrong_type_is_an_invalid_claim() {
    // `scope` is a string; an array there is refused rather than guessed at.
    let token = hs_token(&claims_with(json!({ "scope": ["read"] })));
    assert_eq!(kind(hs256().verify(&token)), RejectionKind::InvalidClaim);
    let token = hs_token(&claims_with(json!({ "scp": [1, 2] })));
    assert_eq!(kind(hs256().verify(&token)), RejectionKind::InvalidClaim);
}

#[test]
fn no_scope_means_no_scopes() {
    // A token without scope/scp has no scopes at all.
    let id = hs256().verify(&hs_token(&claims())).unwrap().identity();
    assert!(id.scopes().is_empty());
    assert!(!id.has_scope(""));
}

#[test]
fn roles_claim_array_and_string() {
    // `roles` as an array or a single string.
    let id = hs256()
        .verify(&hs_token(&claims_with(
            json!({ "roles": ["admin", "ops"] }),
        )))
        .unwrap()
        .identity();
    assert!(id.has_role("admin") && id.has_role("ops"));
    assert!(!id.has_role("root"));
    let verified = hs256()
        .verify(&hs_token(&claims_with(json!({ "roles": "admin" }))))
        .unwrap();
    assert!(verified.has_role("admin"));
    assert_eq!(verified.identity().roles().len(), 1);
}

#[test]
fn roles_claim_can_be_renamed() {
    // `roles_claim("groups")` reads roles from `groups`, and no longer from `roles`.
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .roles_claim("groups")
        .build()
        .unwrap();
    let token = hs_token(&claims_with(
        json!({ "groups": ["eng", "oncall"], "roles": ["admin"] }),
    ));
    let id = verifier.verify(&token).unwrap().identity();
    assert!(id.has_role("eng") && id.has_role("oncall"));
    assert!(!id.has_role("admin"));
}

#[test]
fn identity_carries_the_facts() {
    // The identity exposes sub, iss, jti, exp, iat, header and raw token without knowing C.
    let iat = now();
    let c = json!({ "sub": "alice", "iss": "me", "jti": "j1", "iat": iat, "exp": iat + 60 });
    let token = mint(HS, Some("k"), &c);
    let verified = hs256().verify(&token).unwrap();
    let id = verified.identity();
    assert_eq!(id.subject(), Some("alice"));
    assert_eq!(id.issuer(), Some("me"));
    assert_eq!(id.token_id(), Some("j1"));
    assert_eq!(id.issued_at(), Some(iat));
    assert_eq!(id.expires_at(), Some(iat + 60));
    assert_eq!(id.header().unwrap().alg, HS);
    assert_eq!(id.header().unwrap().kid.as_deref(), Some("k"));
    assert_eq!(id.token(), token);
    assert_eq!(verified.token(), token);
    // The Debug form never prints the raw token.
    assert!(!format!("{verified:?}").contains(&token));
}

// ---------------------------------------------------------------- strict JSON (issue 17)

/// A token signed over exactly this header text and these claims.
fn hs_header(header: &str, claims: &Value) -> String {
    sign_raw(HS, header, &claims.to_string())
}

/// A verifier for `C` over the HMAC test key.
fn hs256_for<C>() -> Verifier<C> {
    Verifier::builder(verification_key(HS))
        .algorithms([HS])
        .build()
        .unwrap()
}

/// `depth` nested containers in all, the top-level object included: `{"x":[[…1…]]}`.
fn nested_claim(depth: usize) -> String {
    let inner = depth - 1;
    format!(
        r#"{{"sub":"alice","exp":{},"x":{}1{}}}"#,
        now() + 3600,
        "[".repeat(inner),
        "]".repeat(inner)
    )
}

#[test]
fn header_that_is_not_a_json_object_is_malformed() {
    // RFC 7515 §4: the JOSE header is a JSON object; serde would read `["HS256"]` into a struct by position.
    for header in [
        r#"["HS256"]"#,
        r#"["HS256",null,"JWT"]"#,
        r#""HS256""#,
        "1",
        "null",
        " []",
    ] {
        let err = hs256().verify(&hs_header(header, &claims())).unwrap_err();
        assert_eq!(err.kind(), RejectionKind::Malformed, "{header}");
        assert_eq!(
            err.description(),
            "the token header is not a JSON object",
            "{header}"
        );
    }
    // The same signature over an object header is accepted.
    assert!(
        hs256()
            .verify(&hs_header(r#" {"alg":"HS256"}"#, &claims()))
            .is_ok()
    );
}

#[test]
fn header_that_is_not_utf8_is_malformed() {
    // JSON is UTF-8 (RFC 8259 §8.1): an invalid byte in a member nobody reads still breaks the header.
    let header = b64(b"{\"alg\":\"HS256\",\"x\":\"\xff\"}");
    let payload = b64(claims().to_string());
    let err = hs256()
        .verify(&format!("{header}.{payload}.sig"))
        .unwrap_err();
    assert_eq!(err.kind(), RejectionKind::Malformed);
    assert_eq!(err.description(), "the token header is not UTF-8");
}

#[test]
fn duplicate_members_in_the_header_at_any_level_are_malformed() {
    // RFC 7515 §5.2 lets a verifier refuse repeated names: two parsers must never read two headers.
    for header in [
        r#"{"alg":"HS256","x":1,"x":2}"#,
        r#"{"alg":"HS256","kid":null,"kid":"k"}"#,
        r#"{"alg":"HS256","ext":{"a":1,"a":1}}"#,
        r#"{"alg":"HS256","ext":[{"b":[{"c":0,"\u0063":0}]}]}"#,
    ] {
        let err = hs256().verify(&hs_header(header, &claims())).unwrap_err();
        assert_eq!(err.kind(), RejectionKind::Malformed, "{header}");
        assert_eq!(
            err.description(),
            "the token header repeats a member name",
            "{header}"
        );
    }
}

#[test]
fn duplicate_members_in_the_claims_at_any_level_are_malformed_for_every_claims_type() {
    // `{"sub":"alice","sub":null}` verified as alice while a `Value` saw null: one token, two readings.
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Derived {
        sub: Option<String>,
        #[serde(default)]
        tenant: Option<String>,
    }
    let exp = now() + 3600;
    for payload in [
        format!(r#"{{"sub":"alice","sub":null,"exp":{exp}}}"#),
        format!(r#"{{"sub":null,"sub":"alice","exp":{exp}}}"#),
        format!(r#"{{"sub":"alice","tenant":"a","tenant":"b","exp":{exp}}}"#),
        format!(r#"{{"sub":"alice","t\u0065nant":"a","tenant":"b","exp":{exp}}}"#),
        format!(r#"{{"sub":"alice","ctx":{{"tenant":"a","tenant":"b"}},"exp":{exp}}}"#),
        format!(r#"{{"sub":"alice","ctx":[1,{{"x":[{{"y":0,"y":0}}]}}],"exp":{exp}}}"#),
    ] {
        let token = hs_raw(&payload);
        for err in [
            hs256().verify(&token).unwrap_err(),
            hs256_for::<Value>().verify(&token).unwrap_err(),
            hs256_for::<Derived>().verify(&token).unwrap_err(),
        ] {
            assert_eq!(err.kind(), RejectionKind::Malformed, "{payload}");
            assert_eq!(
                err.description(),
                "the token's claims repeat a member name",
                "{payload}"
            );
        }
    }
    // The same name in different objects is no repeat.
    let token = hs_raw(&format!(
        r#"{{"sub":"alice","ctx":{{"sub":"a","x":{{"sub":"b"}}}},"l":[{{"sub":1}},{{"sub":2}}],"exp":{exp}}}"#
    ));
    let verified = hs256_for::<Value>().verify(&token).unwrap();
    assert_eq!(verified.subject(), Some("alice"));
}

#[test]
fn nesting_deeper_than_the_limit_is_malformed_in_claims_and_header() {
    // Bounded nesting (`MAX_JSON_DEPTH`) for every claims type, unread members included, and in the header.
    use jwt_tower::verify::MAX_JSON_DEPTH;
    let at_limit = hs_raw(&nested_claim(MAX_JSON_DEPTH));
    assert!(hs256().verify(&at_limit).is_ok());
    assert!(hs256_for::<Value>().verify(&at_limit).is_ok());
    for depth in [MAX_JSON_DEPTH + 1, 1_000] {
        let token = hs_raw(&nested_claim(depth));
        for err in [
            hs256().verify(&token).unwrap_err(),
            hs256_for::<Value>().verify(&token).unwrap_err(),
        ] {
            assert_eq!(err.kind(), RejectionKind::Malformed, "{depth}");
            assert_eq!(
                err.description(),
                "the token's claims nest arrays or objects too deep",
                "{depth}"
            );
        }
    }
    let objects = |depth: usize| {
        format!(
            r#"{{"alg":"HS256","x":{}1{}}}"#,
            r#"{"a":"#.repeat(depth - 1),
            "}".repeat(depth - 1)
        )
    };
    assert!(
        hs256()
            .verify(&hs_header(&objects(MAX_JSON_DEPTH), &claims()))
            .is_ok()
    );
    let err = hs256()
        .verify(&hs_header(&objects(MAX_JSON_DEPTH + 1), &claims()))
        .unwrap_err();
    assert_eq!(err.kind(), RejectionKind::Malformed);
    assert_eq!(
        err.description(),
        "the token header nests arrays or objects too deep"
    );
}

#[test]
fn control_characters_in_identity_claims_are_invalid_claims() {
    // `sub: "alice\u0000admin"` reads as "alice" to a C string: identity strings with control characters are refused.
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .accept_any_audience()
        .build()
        .unwrap();
    for (claim, value) in [
        ("sub", json!("alice\u{0}admin")),
        ("sub", json!("alice\n")),
        ("sub", json!("alice\u{7f}")),
        ("sub", json!("alice\u{85}")),
        ("iss", json!("https://i\u{0}.example")),
        ("jti", json!("\u{1b}[31m")),
        ("aud", json!(["api", "x\u{0}"])),
        ("aud", json!("api\r")),
        ("scope", json!("read\twrite")),
        ("scp", json!(["read", "wr\u{0}ite"])),
        ("roles", json!(["admin\u{0}"])),
        ("roles", json!("admin\u{9f}")),
    ] {
        let err = verifier
            .verify(&hs_token(&claims_with(json!({ claim: value }))))
            .unwrap_err();
        assert_eq!(err.kind(), RejectionKind::InvalidClaim, "{claim}: {value}");
        assert_eq!(
            err.description(),
            format!("the `{claim}` claim holds a control character"),
            "{value}"
        );
    }
    // The roles claim is named as configured.
    let groups = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .roles_claim("groups")
        .build()
        .unwrap();
    let err = groups
        .verify(&hs_token(&claims_with(json!({ "groups": ["a\u{0}"] }))))
        .unwrap_err();
    assert_eq!(
        err.description(),
        "the `groups` claim holds a control character"
    );
    // Printable text in any script passes, as do control characters in claims nobody hands out.
    let fine = claims_with(json!({
        "sub": "ålice 名前 \u{a0}", "scope": "read write", "note": "a\u{0}b\n",
        "aud": ["api"], "roles": ["r 1"],
    }));
    assert_eq!(
        verifier.verify(&hs_token(&fine)).unwrap().subject(),
        Some("ålice 名前 \u{a0}")
    );
}

#[test]
fn iat_in_the_future_is_not_yet_valid_without_a_max_age() {
    // A token cannot have been issued later than now (beyond the leeway); its `iat` would also outrun subject revocations.
    for verifier in [
        hs256(),
        Verifier::builder(verification_key(HS))
            .algorithms([HS])
            .cache(16)
            .build()
            .unwrap(),
    ] {
        let err = verifier
            .verify(&hs_token(&claims_with(json!({ "iat": now() + 3600 }))))
            .unwrap_err();
        assert_eq!(err.kind(), RejectionKind::NotYetValid);
        assert_eq!(err.description(), "the token's `iat` is in the future");
        // Within the 30 s leeway it is clock skew, and accepted.
        let skewed = hs_token(&claims_with(json!({ "iat": now() + 20 })));
        assert!(verifier.verify(&skewed).is_ok());
        assert!(verifier.verify(&skewed).is_ok());
    }
    // With a max age the same refusal, not "too old".
    let aged = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .max_age(Duration::from_secs(600))
        .build()
        .unwrap();
    let err = aged
        .verify(&hs_token(&claims_with(json!({ "iat": now() + 3600 }))))
        .unwrap_err();
    assert_eq!(err.kind(), RejectionKind::NotYetValid);
}

#[test]
fn nested_jwt_content_type_is_invalid_type() {
    // `cty: JWT` says the claims are another token (RFC 7519 §5.2), which is never unwrapped: refused in any spelling.
    for cty in ["JWT", "jwt", "application/JWT", "Application/jwt"] {
        let header = json!({ "alg": "HS256", "cty": cty }).to_string();
        let err = hs256().verify(&hs_header(&header, &claims())).unwrap_err();
        assert_eq!(err.kind(), RejectionKind::InvalidType, "{cty}");
        assert_eq!(
            err.description(),
            "nested tokens (`cty: JWT`) are not accepted",
            "{cty}"
        );
    }
    for cty in ["json", "application/json"] {
        let header = json!({ "alg": "HS256", "cty": cty }).to_string();
        let verified = hs256().verify(&hs_header(&header, &claims())).unwrap();
        assert_eq!(verified.header().unwrap().cty.as_deref(), Some(cty));
    }
}

#[test]
fn an_audience_is_refused_unless_configured_or_explicitly_accepted() {
    // RFC 7519 §4.1.3: a recipient that does not identify itself with `aud` MUST reject; accepting any is one explicit call.
    let with = |aud: Value| hs_token(&claims_with(json!({ "aud": aud })));
    for aud in [json!("api"), json!(["api", "web"]), json!([])] {
        let err = hs256().verify(&with(aud.clone())).unwrap_err();
        assert_eq!(err.kind(), RejectionKind::InvalidAudience, "{aud}");
        assert_eq!(
            err.description(),
            "the token names an audience and this verifier is configured for none"
        );
        let any = Verifier::<RegisteredClaims>::builder(verification_key(HS))
            .algorithms([HS])
            .accept_any_audience()
            .build()
            .unwrap();
        assert!(any.verify(&with(aud.clone())).is_ok(), "{aud}");
    }
    // No `aud` (or a null one) needs no audience.
    assert!(hs256().verify(&hs_token(&claims())).is_ok());
    assert!(hs256().verify(&with(Value::Null)).is_ok());
    // A configured audience is checked whether or not any audience is accepted.
    let both = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .audience("api")
        .accept_any_audience()
        .build()
        .unwrap();
    assert!(both.verify(&with(json!("api"))).is_ok());
    assert_eq!(
        kind(both.verify(&with(json!("web")))),
        RejectionKind::InvalidAudience
    );
    assert_eq!(
        kind(both.verify(&hs_token(&claims()))),
        RejectionKind::MissingClaim
    );
}

#[test]
fn the_issuer_router_reads_claims_as_strictly_as_its_verifiers() {
    // The router's pre-read of `iss` is the strict reading, and each route judges `aud` by its own default.
    let route = |issuer: &str| {
        Verifier::<Value>::builder(verification_key(HS))
            .algorithms([HS])
            .issuer(issuer)
            .build()
            .unwrap()
    };
    let router = Verifier::by_issuer([("https://a", route("https://a"))]).unwrap();
    let exp = now() + 3600;
    let ok = hs_raw(&format!(r#"{{"iss":"https://a","exp":{exp}}}"#));
    assert!(router.verify(&ok).is_ok());
    // Members the chosen verifier accepts pass the router too, whatever their names.
    let odd_names = hs_raw(&format!(
        r#"{{"iss":"https://a","exp":{exp},"":1,"groups":2}}"#
    ));
    assert!(router.verify(&odd_names).is_ok());
    for (payload, expected) in [
        (
            format!(r#"["https://a",{exp}]"#),
            "the token's claims are not a JSON object",
        ),
        (
            format!(r#"{{"iss":"https://a","iss":"https://b","exp":{exp}}}"#),
            "the token's claims repeat a member name",
        ),
        (
            format!(r#"{{"iss":"https://a","aud":"api","exp":{exp}}}"#),
            "the token names an audience and this verifier is configured for none",
        ),
    ] {
        let err = router.verify(&hs_raw(&payload)).unwrap_err();
        assert_eq!(err.description(), expected, "{payload}");
    }
}

// ---------------------------------------------------------------- builder

#[test]
fn builder_without_algorithms_is_a_config_error() {
    // There is deliberately no default allow-list.
    let err = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::NoAlgorithms), "{err:?}");
    let err = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([])
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::NoAlgorithms), "{err:?}");
}

#[test]
fn builder_refuses_keys_that_no_allowed_algorithm_can_use() {
    // An ES256 key under an RS256-only allow-list could never verify a token: said at build.
    let err = Verifier::<RegisteredClaims>::builder(verification_key(Algorithm::ES256))
        .algorithms([Algorithm::RS256])
        .build()
        .unwrap_err();
    let ConfigError::AlgorithmsMatchNoKey { keys, allowed } = &err else {
        panic!("expected AlgorithmsMatchNoKey, got {err:?}");
    };
    assert!(keys.contains(Algorithm::ES256) && !keys.contains(Algorithm::RS256));
    assert!(allowed.contains(Algorithm::RS256) && !allowed.contains(Algorithm::ES256));
    let message = err.to_string();
    assert!(
        message.contains("ES256") && message.contains("RS256"),
        "{message}"
    );

    // The same for a whole set, and for a loaded `Keys` handle nothing refreshes.
    let set = KeySet::new([
        verification_key(Algorithm::ES256).with_kid("ec"),
        verification_key(HS).with_kid("hs"),
    ]);
    for keys in [jwt_tower::Keys::new(set.clone()), set.clone().into()] {
        let err = Verifier::<RegisteredClaims>::builder(keys)
            .algorithms([Algorithm::RS256, Algorithm::EdDSA])
            .build()
            .unwrap_err();
        assert!(
            matches!(err, ConfigError::AlgorithmsMatchNoKey { .. }),
            "{err:?}"
        );
    }
    // One usable key is enough: the others are simply never selected for that algorithm.
    assert!(
        Verifier::<RegisteredClaims>::builder(set)
            .algorithms([HS])
            .build()
            .is_ok()
    );
    // Keys that arrive later cannot be judged now: an unloaded handle builds.
    assert!(
        Verifier::<RegisteredClaims>::builder(jwt_tower::Keys::unloaded())
            .algorithms([Algorithm::RS256])
            .build()
            .is_ok()
    );
}

#[test]
fn algorithm_names_refuses_none_and_unknown_names() {
    // `none` is never an algorithm; neither is a misspelled one; one bad name spoils the list.
    for names in [
        vec!["none"],
        vec!["RS256", "none"],
        vec!["hs256"],
        vec!["RS256", "XX999"],
    ] {
        let err = Verifier::<RegisteredClaims>::builder(verification_key(HS))
            .algorithm_names(&names)
            .build()
            .unwrap_err();
        assert!(
            matches!(err, ConfigError::UnknownAlgorithm(_)),
            "{names:?}: {err:?}"
        );
    }
}

#[test]
fn algorithm_names_accepts_exact_names() {
    // Names as configuration files spell them (surrounding whitespace trimmed) build a working verifier.
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithm_names(["HS256", " RS256 "])
        .build()
        .unwrap();
    assert!(verifier.verify(&hs_token(&claims())).is_ok());
}

#[test]
fn verifier_clones_share_config_and_keys() {
    // A clone is the same verifier (an Arc), including its live keys.
    let verifier = hs256();
    let clone = verifier.clone();
    assert!(clone.verify(&hs_token(&claims())).is_ok());
    verifier.keys().replace(KeySet::single(
        VerificationKey::hmac(HS, [b'q'; 32]).unwrap(),
    ));
    assert_eq!(
        kind(clone.verify(&hs_token(&claims()))),
        RejectionKind::InvalidSignature
    );
}

#[test]
fn crit_null_is_malformed_and_enc_null_is_still_a_jwe() {
    // `crit` must be an array (RFC 7515 §4.1.11): `null` is not "absent".
    let header = json!({ "alg": "HS256", "crit": null });
    assert_eq!(
        kind(hs256().verify(&sign_header(HS, &header, &claims()))),
        RejectionKind::Malformed
    );
    // Any `enc` member, whatever its value, marks an encrypted token.
    let header = json!({ "alg": "HS256", "enc": null });
    assert_eq!(
        kind(hs256().verify(&sign_header(HS, &header, &claims()))),
        RejectionKind::Encrypted
    );
}

/// `RegisteredClaims` is built from the verifier's own reading of the claims, not parsed a
/// second time: it must equal what serde makes of the same payload, on plain and unusual
/// JSON alike, and trailing data is still refused.
#[test]
fn registered_claims_equal_serdes_reading() {
    let verifier = Verifier::<RegisteredClaims>::builder(verification_key(HS))
        .algorithms([HS])
        .accept_any_audience()
        .build()
        .unwrap();
    let exp = now() + 3600;
    for payload in [
        format!(r#"{{"exp":{exp},"sub":"alice","aud":"api","scope":"a b","jti":"j1"}}"#),
        format!(r#"{{"exp":{exp},"aud":["api","web"],"iss":"https://i.test/","nbf":1,"iat":2}}"#),
        format!(r#"{{"exp":{exp}.75,"sub":"al\u0069ce","aud":["a\"pi"],"extra":{{"x":[1,2]}}}}"#),
        format!(" {{ \"exp\" : {exp} , \"sub\" : \"bob\" }} \n"),
        format!(r#"{{"exp":{exp},"sub":null,"aud":null,"scope":"x"}}"#),
    ] {
        let verified = verifier
            .verify(&hs_raw(&payload))
            .unwrap_or_else(|e| panic!("{payload}: {e}"));
        let expected: RegisteredClaims = serde_json::from_str(&payload).unwrap();
        assert_eq!(verified.claims(), &expected, "{payload}");
    }
    for trailing in [
        format!(r#"{{"exp":{exp}}}x"#),
        format!(r#"{{"exp":{exp}}}{{}}"#),
        format!(r#"{{"exp":{exp},"a":"\n"}} 1"#),
    ] {
        assert_eq!(
            kind(verifier.verify(&hs_raw(&trailing))),
            RejectionKind::Malformed,
            "{trailing}"
        );
    }
}
