//! Keys: loading (secrets, PEM, DER, JWK, JWKS) with its refusals, and the live `Keys`
//! handle, including under concurrent rotation.
//!
//! Each test states in one line why the expected outcome is the right one.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::*;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::Jwk;
use jwt_tower::algorithm::AlgorithmSet;
use jwt_tower::{
    Algorithm, ConfigError, KeySet, Keys, RegisteredClaims, RejectionKind, VerificationKey,
    Verifier,
};
use serde_json::{Value, json};

/// A verifier allowing every supported algorithm over `keys`: the keys alone decide.
fn verifier(keys: impl Into<Keys>) -> Verifier<RegisteredClaims> {
    Verifier::builder(keys)
        .algorithms(jwt_tower::algorithm::SUPPORTED)
        .build()
        .unwrap()
}

fn set_of(algs: &[Algorithm]) -> AlgorithmSet {
    algs.iter().copied().collect()
}

/// The RSA-1024 public key as a JWK (n, e), built from its public PEM.
fn rsa1024_jwk() -> Value {
    init();
    let decoding = DecodingKey::from_rsa_pem(key_file("rsa1024-public.pem").as_bytes()).unwrap();
    let jwk = Jwk::from_decoding_key(&decoding, Some(jwt_alg(Algorithm::RS256))).unwrap();
    let mut value = serde_json::to_value(jwk).unwrap();
    value["kid"] = json!("weak");
    value
}

fn without_kid(mut jwk: Value) -> Value {
    jwk.as_object_mut().unwrap().remove("kid");
    jwk
}

fn without_alg(mut jwk: Value) -> Value {
    jwk.as_object_mut().unwrap().remove("alg");
    jwk
}

// ---------------------------------------------------------------- HMAC secrets

#[test]
fn hmac_secret_shorter_than_the_hash_is_weak() {
    // RFC 7518 §3.2: the secret must be at least as long as the hash output (32/48/64 bytes).
    for (alg, min) in [
        (Algorithm::HS256, 32),
        (Algorithm::HS384, 48),
        (Algorithm::HS512, 64),
    ] {
        let err = VerificationKey::hmac(alg, vec![7u8; min - 1]).unwrap_err();
        match err {
            ConfigError::WeakSecret {
                alg: a,
                len,
                min: m,
            } => {
                assert_eq!((a, len, m), (alg, min - 1, min));
            }
            other => panic!("{alg:?}: {other:?}"),
        }
        assert!(
            VerificationKey::hmac(alg, vec![7u8; min]).is_ok(),
            "{alg:?}"
        );
        assert!(matches!(
            VerificationKey::hmac(alg, b""),
            Err(ConfigError::WeakSecret { .. })
        ));
    }
}

#[test]
fn hmac_with_a_public_key_algorithm_is_refused() {
    // `hmac` only makes HS* keys: a secret can never become an RSA or EC key.
    for alg in [
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::PS256,
    ] {
        let err = VerificationKey::hmac(alg, [1u8; 64]).unwrap_err();
        assert!(
            matches!(err, ConfigError::InvalidKey { .. }),
            "{alg:?}: {err:?}"
        );
    }
}

#[test]
fn hmac_key_verifies_only_its_algorithm() {
    // An HS512 key verifies HS512 tokens and nothing else.
    let key = VerificationKey::hmac(Algorithm::HS512, SECRET).unwrap();
    assert_eq!(key.algorithms(), set_of(&[Algorithm::HS512]));
    let verifier = verifier(key);
    assert!(
        verifier
            .verify(&mint(Algorithm::HS512, None, &claims()))
            .is_ok()
    );
    let err = verifier
        .verify(&mint(Algorithm::HS256, None, &claims()))
        .unwrap_err();
    assert_eq!(err.kind(), RejectionKind::AlgorithmNotAllowed);
}

// ---------------------------------------------------------------- PEM and DER

#[test]
fn rsa_1024_pem_is_weak() {
    // RSA under 2048 bits is refused when loaded, never on the request path.
    let err =
        VerificationKey::from_pem(Algorithm::RS256, key_file("rsa1024-public.pem")).unwrap_err();
    assert!(
        matches!(err, ConfigError::WeakRsaKey { bits: 1024 }),
        "{err:?}"
    );
    let err =
        VerificationKey::from_pem(Algorithm::PS512, key_file("rsa1024-public.pem")).unwrap_err();
    assert!(
        matches!(err, ConfigError::WeakRsaKey { bits: 1024 }),
        "{err:?}"
    );
}

#[test]
fn rsa_1024_jwk_is_weak() {
    // The same key as a JWK (n, e) is refused for the same reason.
    let err = VerificationKey::from_jwk_str(&rsa1024_jwk().to_string()).unwrap_err();
    assert!(
        matches!(err, ConfigError::WeakRsaKey { bits: 1024 }),
        "{err:?}"
    );
    let err = VerificationKey::from_jwk_str(&without_alg(rsa1024_jwk()).to_string()).unwrap_err();
    assert!(
        matches!(err, ConfigError::WeakRsaKey { bits: 1024 }),
        "{err:?}"
    );
}

#[test]
fn pem_of_the_wrong_family_is_invalid() {
    // An EC PEM is not an RSA key, an RSA PEM not an Ed25519 key, and HMAC has no PEM.
    let cases = [
        (Algorithm::RS256, "p256-public.pem"),
        (Algorithm::ES256, "rsa2048-public.pem"),
        (Algorithm::EdDSA, "p256-public.pem"),
        (Algorithm::HS256, "rsa2048-public.pem"),
    ];
    for (alg, file) in cases {
        let err = VerificationKey::from_pem(alg, key_file(file)).unwrap_err();
        assert!(
            matches!(err, ConfigError::InvalidKey { .. }),
            "{alg:?} {file}: {err:?}"
        );
    }
    let err = VerificationKey::from_pem(Algorithm::RS256, "not a pem").unwrap_err();
    assert!(matches!(err, ConfigError::InvalidKey { .. }), "{err:?}");
}

#[test]
fn a_private_key_given_as_a_verification_key_is_named() {
    // A newcomer's first mistake: the error must say "private key" and how to get the
    // public half, not "invalid key format".
    let cases = [
        (Algorithm::RS256, "rsa2048-private.pem"),
        (Algorithm::ES256, "p256-private.pem"),
        (Algorithm::ES384, "p384-private.pem"),
        (Algorithm::EdDSA, "ed25519-private.pem"),
    ];
    for (alg, file) in cases {
        let err = VerificationKey::from_pem(alg, key_file(file)).unwrap_err();
        assert!(
            matches!(&err, ConfigError::PrivateKeyGiven { alg: a, label } if *a == alg && label == "PRIVATE KEY"),
            "{alg:?} {file}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("private key"), "{message}");
        assert!(message.contains("-pubout"), "{message}");
        assert!(message.contains("SigningKey::from_pem"), "{message}");
    }
    // The traditional OpenSSL labels are recognised too.
    let pkcs1 = key_file("rsa2048-private.pem").replace("PRIVATE KEY", "RSA PRIVATE KEY");
    let err = VerificationKey::from_pem(Algorithm::RS256, pkcs1).unwrap_err();
    assert!(
        matches!(&err, ConfigError::PrivateKeyGiven { label, .. } if label == "RSA PRIVATE KEY"),
        "{err:?}"
    );
    // The key is read from the first block: a public key first loads, a private key
    // first is named.
    let public_first = key_file("p256-public.pem") + &key_file("p256-private.pem");
    assert!(VerificationKey::from_pem(Algorithm::ES256, public_first).is_ok());
    let private_first = key_file("p256-private.pem") + &key_file("p256-public.pem");
    let err = VerificationKey::from_pem(Algorithm::ES256, private_first).unwrap_err();
    assert!(
        matches!(err, ConfigError::PrivateKeyGiven { .. }),
        "{err:?}"
    );
}

#[test]
fn ec_pem_for_the_other_curve_is_invalid() {
    // A P-384 key cannot be loaded for ES256, nor P-256 for ES384.
    let err = VerificationKey::from_pem(Algorithm::ES256, key_file("p384-public.pem")).unwrap_err();
    assert!(matches!(err, ConfigError::InvalidKey { .. }), "{err:?}");
    let err = VerificationKey::from_pem(Algorithm::ES384, key_file("p256-public.pem")).unwrap_err();
    assert!(matches!(err, ConfigError::InvalidKey { .. }), "{err:?}");
}

#[test]
fn pem_keys_verify_their_tokens() {
    // Each PEM public key verifies a token from its private half, and not from the other RSA pair.
    for alg in [
        Algorithm::RS256,
        Algorithm::PS384,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ] {
        let key = verification_key(alg);
        assert_eq!(key.algorithms(), names_of(alg));
        assert!(
            verifier(key).verify(&mint(alg, None, &claims())).is_ok(),
            "{alg:?}"
        );
    }
    let other =
        VerificationKey::from_pem(Algorithm::RS256, key_file("rsa2048b-public.pem")).unwrap();
    let err = verifier(other)
        .verify(&mint(Algorithm::RS256, None, &claims()))
        .unwrap_err();
    assert_eq!(err.kind(), RejectionKind::InvalidSignature);
}

#[test]
fn der_keys_verify_their_tokens() {
    // DER forms: PKCS#1 for RSA, SEC1 points for EC, 32 raw bytes for Ed25519.
    for alg in [
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ] {
        let key = VerificationKey::from_der(alg, public_der(alg)).unwrap();
        assert!(
            verifier(key).verify(&mint(alg, None, &claims())).is_ok(),
            "{alg:?}"
        );
    }
    let err = VerificationKey::from_der(Algorithm::HS256, [0u8; 32]).unwrap_err();
    assert!(matches!(err, ConfigError::InvalidKey { .. }), "{err:?}");
    let err = VerificationKey::from_der(Algorithm::ES256, [0u8; 10]).unwrap_err();
    assert!(matches!(err, ConfigError::InvalidKey { .. }), "{err:?}");
}

/// The DER bytes jsonwebtoken extracts from the public PEM of the test key for `alg`.
fn public_der(alg: Algorithm) -> Vec<u8> {
    let pem = key_file(key_names(alg).1);
    let key = match alg {
        Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(pem.as_bytes()),
        Algorithm::EdDSA => DecodingKey::from_ed_pem(pem.as_bytes()),
        _ => DecodingKey::from_rsa_pem(pem.as_bytes()),
    }
    .unwrap();
    match key.kind() {
        jsonwebtoken::DecodingKeyKind::SecretOrDer(der) => der.clone(),
        jsonwebtoken::DecodingKeyKind::RsaModulusExponent { .. } => unreachable!(),
    }
}

#[test]
fn with_kid_renames_and_keeps_the_key() {
    // `with_kid` sets the kid; the key material and algorithms are the same.
    let key = verification_key(Algorithm::ES256);
    assert_eq!(key.kid(), None);
    let named = key.clone().with_kid("ec-1");
    assert_eq!(named.kid(), Some("ec-1"));
    assert_eq!(named.algorithms(), key.algorithms());
    let renamed = named.with_kid("ec-2");
    assert_eq!(renamed.kid(), Some("ec-2"));
    assert!(
        verifier(renamed)
            .verify(&mint(Algorithm::ES256, Some("ec-2"), &claims()))
            .is_ok()
    );
}

// ---------------------------------------------------------------- JWK

#[test]
fn rsa_jwk_verifies_tokens() {
    // An RSA JWK (n, e) with alg RS256 is an RS256 key with its kid kept.
    let key =
        VerificationKey::from_jwk_str(&public_jwk(Algorithm::RS256, "rsa-1").to_string()).unwrap();
    assert_eq!(key.kid(), Some("rsa-1"));
    assert_eq!(key.algorithms(), set_of(&[Algorithm::RS256]));
    assert!(
        verifier(key)
            .verify(&mint(Algorithm::RS256, Some("rsa-1"), &claims()))
            .is_ok()
    );
}

#[test]
fn ec_jwks_verify_tokens() {
    // P-256 and P-384 JWKs (x, y) verify ES256 and ES384 tokens.
    for alg in [Algorithm::ES256, Algorithm::ES384] {
        let key = VerificationKey::from_jwk_str(&public_jwk(alg, "ec").to_string()).unwrap();
        assert_eq!(key.algorithms(), set_of(&[alg]));
        assert!(
            verifier(key)
                .verify(&mint(alg, Some("ec"), &claims()))
                .is_ok(),
            "{alg:?}"
        );
    }
}

#[test]
fn okp_ed25519_jwk_verifies_tokens() {
    // An OKP Ed25519 JWK (x) verifies EdDSA tokens.
    let jwk = public_jwk(Algorithm::EdDSA, "ed");
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    let key = VerificationKey::from_jwk_str(&jwk.to_string()).unwrap();
    assert!(
        verifier(key)
            .verify(&mint(Algorithm::EdDSA, Some("ed"), &claims()))
            .is_ok()
    );
}

#[test]
fn oct_jwk_verifies_tokens() {
    // An oct JWK (k) is an HMAC secret.
    let jwk = json!({ "kty": "oct", "kid": "h", "alg": "HS256", "k": b64(SECRET) });
    let key = VerificationKey::from_jwk_str(&jwk.to_string()).unwrap();
    assert_eq!(key.algorithms(), set_of(&[Algorithm::HS256]));
    assert!(
        verifier(key)
            .verify(&mint(Algorithm::HS256, Some("h"), &claims()))
            .is_ok()
    );
}

#[test]
fn jwk_without_alg_infers_from_kty_and_crv() {
    // No alg: RSA may verify RS*/PS*, EC by curve, OKP Ed25519 is EdDSA, oct any HS* its length allows.
    let rsa =
        VerificationKey::from_jwk_str(&without_alg(public_jwk(Algorithm::RS256, "r")).to_string())
            .unwrap();
    assert_eq!(
        rsa.algorithms(),
        set_of(&[
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512
        ])
    );
    let rsa_verifier = verifier(rsa);
    for alg in [Algorithm::RS512, Algorithm::PS256] {
        assert!(
            rsa_verifier
                .verify(&mint(alg, Some("r"), &claims()))
                .is_ok(),
            "{alg:?}"
        );
    }
    for (alg, expected) in [
        (Algorithm::ES256, Algorithm::ES256),
        (Algorithm::ES384, Algorithm::ES384),
        (Algorithm::EdDSA, Algorithm::EdDSA),
    ] {
        let key =
            VerificationKey::from_jwk_str(&without_alg(public_jwk(alg, "k")).to_string()).unwrap();
        assert_eq!(key.algorithms(), names_of(expected), "{alg:?}");
        assert!(
            verifier(key).verify(&mint(alg, None, &claims())).is_ok(),
            "{alg:?}"
        );
    }
    // 64 bytes of secret: HS256, HS384 and HS512; 40 bytes: HS256 only.
    let long =
        VerificationKey::from_jwk_str(&json!({ "kty": "oct", "k": b64(SECRET) }).to_string())
            .unwrap();
    assert_eq!(
        long.algorithms(),
        set_of(&[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512])
    );
    let mid =
        VerificationKey::from_jwk_str(&json!({ "kty": "oct", "k": b64([1u8; 40]) }).to_string())
            .unwrap();
    assert_eq!(mid.algorithms(), set_of(&[Algorithm::HS256]));
}

#[test]
fn short_oct_jwk_is_refused() {
    // A secret under 32 bytes verifies nothing, with or without a declared alg.
    let err =
        VerificationKey::from_jwk_str(&json!({ "kty": "oct", "k": b64([1u8; 20]) }).to_string())
            .unwrap_err();
    assert!(matches!(err, ConfigError::InvalidJwk(_)), "{err:?}");
    let jwk = json!({ "kty": "oct", "alg": "HS256", "k": b64([1u8; 20]) });
    let err = VerificationKey::from_jwk_str(&jwk.to_string()).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::WeakSecret {
                len: 20,
                min: 32,
                ..
            }
        ),
        "{err:?}"
    );
    let jwk = json!({ "kty": "oct", "alg": "HS512", "k": b64([1u8; 40]) });
    let err = VerificationKey::from_jwk_str(&jwk.to_string()).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::WeakSecret {
                len: 40,
                min: 64,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn jwk_alg_mismatching_kty_is_refused() {
    // A declared alg must belong to the key type: an RSA key cannot claim ES256, nor an oct key RS256.
    let mut rsa = public_jwk(Algorithm::RS256, "r");
    rsa["alg"] = json!("ES256");
    let mut rsa_hmac = public_jwk(Algorithm::RS256, "r");
    rsa_hmac["alg"] = json!("HS256");
    let mut p256 = public_jwk(Algorithm::ES256, "e");
    p256["alg"] = json!("ES384");
    let mut ed = public_jwk(Algorithm::EdDSA, "o");
    ed["alg"] = json!("ES256");
    let oct = json!({ "kty": "oct", "alg": "RS256", "k": b64(SECRET) });
    for jwk in [rsa, rsa_hmac, p256, ed, oct] {
        let err = VerificationKey::from_jwk_str(&jwk.to_string()).unwrap_err();
        assert!(matches!(err, ConfigError::InvalidJwk(_)), "{jwk}: {err:?}");
    }
}

#[test]
fn jwk_for_encryption_is_refused() {
    // `use: enc`, key_ops without verify, or an encryption alg: not a signature key.
    let mut enc = public_jwk(Algorithm::RS256, "r");
    enc["use"] = json!("enc");
    let mut ops = public_jwk(Algorithm::RS256, "r");
    ops["key_ops"] = json!(["encrypt", "wrapKey"]);
    let mut oaep = public_jwk(Algorithm::RS256, "r");
    oaep["alg"] = json!("RSA-OAEP");
    for jwk in [enc, ops, oaep] {
        let err = VerificationKey::from_jwk_str(&jwk.to_string()).unwrap_err();
        assert!(matches!(err, ConfigError::InvalidJwk(_)), "{jwk}: {err:?}");
    }
    // `use: sig` and key_ops with verify are fine.
    let mut sig = public_jwk(Algorithm::RS256, "r");
    sig["use"] = json!("sig");
    sig["key_ops"] = json!(["verify"]);
    assert!(VerificationKey::from_jwk_str(&sig.to_string()).is_ok());
}

#[test]
fn jwk_with_unsupported_curve_or_bad_coordinates_is_refused() {
    // P-521 and non-Ed25519 OKP curves are not verified here; EC points must have the curve's size.
    let p521 = json!({ "kty": "EC", "crv": "P-521", "x": b64([1u8; 66]), "y": b64([2u8; 66]) });
    let short_x = {
        let mut jwk = public_jwk(Algorithm::ES256, "e");
        jwk["x"] = json!(b64([1u8; 31]));
        jwk
    };
    let bad_b64 = {
        let mut jwk = public_jwk(Algorithm::ES256, "e");
        jwk["x"] = json!("not base64!!");
        jwk
    };
    let short_ed = json!({ "kty": "OKP", "crv": "Ed25519", "x": b64([1u8; 31]) });
    for jwk in [p521, short_x, bad_b64, short_ed] {
        let err = VerificationKey::from_jwk_str(&jwk.to_string()).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::InvalidJwk(_) | ConfigError::InvalidKey { .. }
            ),
            "{jwk}: {err:?}"
        );
    }
    // secp256k1 and X25519 are not even curves jsonwebtoken's JWK model knows.
    for jwk in [
        json!({ "kty": "EC", "crv": "secp256k1", "x": b64([1u8; 32]), "y": b64([2u8; 32]) }),
        json!({ "kty": "OKP", "crv": "X25519", "x": b64([1u8; 32]) }),
    ] {
        assert!(
            VerificationKey::from_jwk_str(&jwk.to_string()).is_err(),
            "{jwk}"
        );
    }
}

#[test]
fn jwk_that_is_not_json_is_invalid() {
    // Garbage in is a configuration error, not a panic.
    for text in [
        "",
        "{",
        "[]",
        r#"{"kty":"RSA"}"#,
        r#"{"kty":"nope","k":"AA"}"#,
    ] {
        let err = VerificationKey::from_jwk_str(text).unwrap_err();
        assert!(matches!(err, ConfigError::InvalidJwk(_)), "{text}: {err:?}");
    }
}

#[test]
fn jwk_read_as_json_is_the_same_key_as_its_text() {
    // `from_jwk` takes the JWK as a serde_json value and reads it as `from_jwk_str` reads
    // the text: same kid and algorithms, same tokens verified, same refusals.
    for alg in [Algorithm::RS256, Algorithm::ES384, Algorithm::EdDSA] {
        let jwk = public_jwk(alg, "k");
        let from_value = VerificationKey::from_jwk(&jwk).unwrap();
        let from_text = VerificationKey::from_jwk_str(&jwk.to_string()).unwrap();
        assert_eq!(from_value.kid(), Some("k"));
        assert_eq!(from_value.algorithms(), from_text.algorithms(), "{alg:?}");
        assert!(
            verifier(from_value)
                .verify(&mint(alg, Some("k"), &claims()))
                .is_ok(),
            "{alg:?}"
        );
    }
    let mut enc = public_jwk(Algorithm::RS256, "r");
    enc["use"] = json!("enc");
    for jwk in [
        enc,
        json!({ "kty": "oct", "alg": "RS256", "k": b64(SECRET) }),
        json!({ "kty": "RSA" }),
        json!(["not", "an", "object"]),
    ] {
        let err = VerificationKey::from_jwk(&jwk).unwrap_err();
        assert!(matches!(err, ConfigError::InvalidJwk(_)), "{jwk}: {err:?}");
    }
}

#[cfg(feature = "aws_lc_rs")]
#[test]
fn a_signing_keys_public_jwk_is_a_verification_key() {
    // What an issuer publishes is what a verifier loads: the JWK of a signing key, as it
    // comes, is a key for the same kid and algorithm.
    for alg in [Algorithm::ES256, Algorithm::EdDSA] {
        let signing = jwt_tower::issue::SigningKey::generate(alg).unwrap();
        let key = VerificationKey::from_jwk(signing.public_jwk().unwrap()).unwrap();
        assert_eq!(key.kid(), Some(signing.kid()));
        assert_eq!(key.algorithms(), names_of(alg), "{alg:?}");
    }
}

/// The algorithms a key for `alg` verifies: `alg`, and for an Ed25519 key both names of
/// its signature (`EdDSA`, RFC 9864's `Ed25519`).
fn names_of(alg: Algorithm) -> AlgorithmSet {
    if alg == Algorithm::EdDSA {
        set_of(&[Algorithm::EdDSA, Algorithm::Ed25519])
    } else {
        set_of(&[alg])
    }
}

#[test]
fn ec_jwk_with_a_point_off_the_curve_is_refused() {
    // Coordinates of the right length that are not a point on P-256 do not make a key.
    let jwk = json!({ "kty": "EC", "crv": "P-256", "alg": "ES256", "x": b64([1u8; 32]), "y": b64([2u8; 32]) });
    let err = VerificationKey::from_jwk_str(&jwk.to_string()).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::InvalidKey { .. } | ConfigError::InvalidJwk(_)
        ),
        "{err:?}"
    );
}

// ---------------------------------------------------------------- key material checks

fn hex(text: &str) -> [u8; 32] {
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

/// The Ed25519 points of small order, as encoded keys: the eight canonical encodings
/// (RFC 8032 encoding of the identity, the point of order 2, the two of order 4 and the
/// four of order 8, as listed in libsodium's and "Taming the many EdDSAs"' blocklists),
/// then non-canonical encodings of the same points (`y` at least p, or `x = 0` with the
/// sign bit set).
fn small_order_ed25519() -> Vec<(&'static str, [u8; 32])> {
    [
        (
            "identity",
            "0100000000000000000000000000000000000000000000000000000000000000",
        ),
        (
            "order 2",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ),
        (
            "order 4, x > 0",
            "0000000000000000000000000000000000000000000000000000000000000000",
        ),
        (
            "order 4, x < 0",
            "0000000000000000000000000000000000000000000000000000000000000080",
        ),
        (
            "order 8 (a)",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        ),
        (
            "order 8 (a, -x)",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        ),
        (
            "order 8 (b)",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        ),
        (
            "order 8 (b, -x)",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        ),
        (
            "identity, y = p + 1",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ),
        (
            "identity, -0",
            "0100000000000000000000000000000000000000000000000000000000000080",
        ),
        (
            "order 2, -0",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        ),
        (
            "order 4, y = p",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ),
        (
            "order 4, y = p, -x",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        ),
    ]
    .into_iter()
    .map(|(name, encoded)| (name, hex(encoded)))
    .collect()
}

/// An Ed25519 SubjectPublicKeyInfo (RFC 8410) around 32 key bytes.
fn ed25519_spki(raw: &[u8; 32]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(raw);
    der
}

fn ed25519_pem(raw: &[u8; 32]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(ed25519_spki(raw));
    format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n")
}

/// A token whose signature is `R = identity, S = 0`: valid for any payload under the
/// identity point as the key, with verifiers that do not refuse small-order keys.
fn identity_forgery(kid: Option<&str>) -> String {
    let header = match kid {
        Some(kid) => json!({ "alg": "EdDSA", "kid": kid }),
        None => json!({ "alg": "EdDSA" }),
    };
    let mut signature = [0u8; 64];
    signature[0] = 1;
    format!(
        "{}.{}.{}",
        b64(header.to_string()),
        b64(claims_with(json!({ "sub": "mallory" })).to_string()),
        b64(signature)
    )
}

#[test]
fn small_order_ed25519_keys_are_refused_in_every_form() {
    // Under a small-order key, R = identity, S = 0 verifies any payload: no such key may load.
    for (name, raw) in small_order_ed25519() {
        let attempts = [
            ("raw", VerificationKey::from_der(Algorithm::EdDSA, raw)),
            (
                "SPKI",
                VerificationKey::from_der(Algorithm::EdDSA, ed25519_spki(&raw)),
            ),
            (
                "PEM",
                VerificationKey::from_pem(Algorithm::EdDSA, ed25519_pem(&raw)),
            ),
            (
                "JWK",
                VerificationKey::from_jwk_str(
                    &json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(raw) }).to_string(),
                ),
            ),
        ];
        for (form, loaded) in attempts {
            match loaded {
                Err(ConfigError::InvalidKey { alg, .. }) => assert_eq!(alg, Algorithm::EdDSA),
                Err(other) => panic!("{name} ({form}): {other:?}"),
                Ok(key) => panic!(
                    "{name} ({form}) loaded; the forged token is accepted: {}",
                    verifier(key).verify(&identity_forgery(None)).is_ok()
                ),
            }
        }
    }
}

#[test]
fn jwks_skips_small_order_ed25519_keys() {
    // A JWKS publishing the identity point: that key is skipped, the forgery naming it refused.
    let (_, identity) = small_order_ed25519()[0];
    let doc = jwks(&[
        json!({ "kty": "OKP", "crv": "Ed25519", "kid": "weak", "alg": "EdDSA", "x": b64(identity) }),
        public_jwk(Algorithm::EdDSA, "good"),
    ]);
    let (set, skipped) = KeySet::from_jwks_filtered(&doc, None).unwrap();
    assert_eq!(set.kids().collect::<Vec<_>>(), ["good"]);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].kid.as_deref(), Some("weak"));
    assert!(skipped[0].reason.contains("small order"), "{skipped:?}");
    let verifier = verifier(set);
    assert_eq!(
        kind(verifier.verify(&identity_forgery(Some("weak")))),
        RejectionKind::UnknownKey
    );
    assert_eq!(
        kind(verifier.verify(&identity_forgery(Some("good")))),
        RejectionKind::InvalidSignature
    );
    assert!(
        verifier
            .verify(&mint(Algorithm::EdDSA, Some("good"), &claims()))
            .is_ok()
    );
}

#[test]
fn ed25519_keys_load_from_raw_bytes_spki_and_pem_alike() {
    // The same good key as 32 bytes, as SubjectPublicKeyInfo DER and as PEM, on either backend.
    let raw: [u8; 32] = public_der(Algorithm::EdDSA).try_into().unwrap();
    for key in [
        VerificationKey::from_der(Algorithm::EdDSA, raw),
        VerificationKey::from_der(Algorithm::EdDSA, ed25519_spki(&raw)),
        VerificationKey::from_pem(Algorithm::EdDSA, ed25519_pem(&raw)),
    ] {
        let key = key.unwrap();
        assert!(
            verifier(key)
                .verify(&mint(Algorithm::EdDSA, None, &claims()))
                .is_ok()
        );
    }
    // 32 bytes that are no point on the curve are refused when loaded, not at each token.
    let mut off_curve = [0u8; 32];
    off_curve[0] = 2;
    let err = VerificationKey::from_der(Algorithm::EdDSA, off_curve).unwrap_err();
    assert!(matches!(err, ConfigError::InvalidKey { .. }), "{err:?}");
}

#[test]
fn rsa_exponents_no_verifier_should_use_are_refused() {
    // e = 1 makes every padded hash its own signature; even or huge exponents are no RSA key.
    let good = public_jwk(Algorithm::RS256, "r");
    for (e, usable) in [
        (vec![1u8], false),
        (vec![0, 1], false),
        (vec![0], false),
        (vec![2], false),
        (vec![1, 0, 0], false),
        (vec![1, 0, 0, 0, 1], false),
        (vec![3], true),
        (vec![1, 0, 1], true),
    ] {
        let mut jwk = good.clone();
        jwk["e"] = json!(b64(&e));
        let loaded = VerificationKey::from_jwk_str(&jwk.to_string());
        if usable {
            assert!(loaded.is_ok(), "e = {e:?}: {loaded:?}");
        } else {
            let err = loaded.unwrap_err();
            assert!(
                matches!(err, ConfigError::InvalidKey { .. }),
                "e = {e:?}: {err:?}"
            );
        }
    }
}

#[test]
fn rsa_moduli_the_backend_cannot_verify_are_refused() {
    // A key that could never verify a token fails when loaded, not silently at each token.
    let max_bits = if cfg!(feature = "aws_lc_rs") {
        8192
    } else {
        4096
    };
    for (bits, loads) in [
        (4096, true),
        (4104, max_bits > 4096),
        (8192, max_bits >= 8192),
        (8200, false),
    ] {
        let mut n = vec![0xC3u8; bits / 8];
        *n.last_mut().unwrap() = 0xC5;
        let jwk = json!({ "kty": "RSA", "alg": "RS256", "n": b64(&n), "e": "AQAB" });
        match VerificationKey::from_jwk_str(&jwk.to_string()) {
            Ok(_) => assert!(loads, "{bits} bits loaded"),
            Err(ConfigError::InvalidKey { reason, .. }) => {
                assert!(!loads, "{bits} bits: {reason}");
                assert!(reason.contains(&max_bits.to_string()), "{reason}");
            }
            Err(other) => panic!("{bits} bits: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------- JWKS

fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

#[test]
fn jwks_keys_verify_tokens_by_kid() {
    // Every key of a JWKS built from the test keys verifies its own tokens, selected by kid.
    let algs = [
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];
    let doc = jwks(&algs.map(|alg| public_jwk(alg, &format!("{alg:?}"))));
    let set = KeySet::from_jwks_str(&doc).unwrap();
    assert_eq!(set.len(), 4);
    let mut kids: Vec<&str> = set.kids().collect();
    kids.sort_unstable();
    assert_eq!(kids, ["ES256", "ES384", "EdDSA", "RS256"]);
    let verifier = verifier(set);
    for alg in algs {
        let kid = format!("{alg:?}");
        assert!(
            verifier.verify(&mint(alg, Some(&kid), &claims())).is_ok(),
            "{alg:?}"
        );
    }
    // A token naming the wrong kid for its algorithm is refused.
    let err = verifier
        .verify(&mint(Algorithm::ES256, Some("ES384"), &claims()))
        .unwrap_err();
    assert_eq!(err.kind(), RejectionKind::AlgorithmNotAllowed);
    let err = verifier
        .verify(&mint(Algorithm::ES256, None, &claims()))
        .unwrap_err();
    assert_eq!(err.kind(), RejectionKind::UnknownKey);
}

#[test]
fn jwks_skips_unusable_keys() {
    // enc keys, unsupported kty/crv, weak and malformed keys are skipped; the good key remains.
    let mut enc = public_jwk(Algorithm::RS256, "enc");
    enc["use"] = json!("enc");
    let doc = jwks(&[
        enc,
        json!({ "kid": "p521", "kty": "EC", "crv": "P-521", "x": b64([1u8; 66]), "y": b64([2u8; 66]) }),
        json!({ "kid": "k1", "kty": "EC", "crv": "secp256k1", "x": b64([1u8; 32]), "y": b64([2u8; 32]) }),
        json!({ "kid": "x25519", "kty": "OKP", "crv": "X25519", "x": b64([1u8; 32]) }),
        json!({ "kid": "no-n", "kty": "RSA", "e": "AQAB" }),
        json!({ "kid": "garbage", "kty": "RSA", "n": "%%%", "e": "AQAB" }),
        json!({ "kid": "unknown-kty", "kty": "XYZ" }),
        json!("not even an object"),
        rsa1024_jwk(),
        json!({ "kid": "short", "kty": "oct", "k": b64([1u8; 8]) }),
        public_jwk(Algorithm::ES256, "good"),
    ]);
    let (set, skipped) = KeySet::from_jwks_filtered(&doc, None).unwrap();
    assert_eq!(set.kids().collect::<Vec<_>>(), ["good"]);
    assert_eq!(set.len(), 1);
    assert_eq!(skipped.len(), 10, "{skipped:?}");
    let skipped_kids: Vec<_> = skipped.iter().map(|s| s.kid.as_deref()).collect();
    for kid in [
        "enc",
        "p521",
        "k1",
        "x25519",
        "no-n",
        "garbage",
        "unknown-kty",
        "weak",
        "short",
    ] {
        assert!(
            skipped_kids.contains(&Some(kid)),
            "{kid} not reported: {skipped:?}"
        );
    }
    assert!(skipped.iter().all(|s| !s.reason.is_empty()));
    // from_jwks_str keeps the same key, and it works.
    let set = KeySet::from_jwks_str(&doc).unwrap();
    assert!(
        verifier(set)
            .verify(&mint(Algorithm::ES256, Some("good"), &claims()))
            .is_ok()
    );
}

#[test]
fn jwks_with_no_usable_key_is_an_error() {
    // Nothing usable is a configuration error, not an empty set that refuses every token.
    let mut enc = public_jwk(Algorithm::RS256, "enc");
    enc["use"] = json!("enc");
    for doc in [jwks(&[enc, rsa1024_jwk()]), jwks(&[])] {
        let err = KeySet::from_jwks_str(&doc).unwrap_err();
        assert!(matches!(err, ConfigError::InvalidJwk(_)), "{doc}: {err:?}");
    }
}

#[test]
fn jwks_that_is_not_a_document_is_an_error() {
    // Not JSON, no `keys`, or `keys` not an array.
    for doc in ["", "[]", "{}", r#"{"keys":{}}"#, r#"{"keys":"x"}"#] {
        let err = KeySet::from_jwks_str(doc).unwrap_err();
        assert!(matches!(err, ConfigError::InvalidJwk(_)), "{doc}: {err:?}");
    }
}

#[test]
fn jwks_filtered_skips_keys_outside_the_allow_list() {
    // With an allow-list of ES256, the RSA and Ed25519 keys are skipped, with a reason.
    let doc = jwks(&[
        public_jwk(Algorithm::RS256, "rsa"),
        public_jwk(Algorithm::ES256, "ec"),
        public_jwk(Algorithm::EdDSA, "ed"),
    ]);
    let (set, skipped) =
        KeySet::from_jwks_filtered(&doc, Some(set_of(&[Algorithm::ES256]))).unwrap();
    assert_eq!(set.kids().collect::<Vec<_>>(), ["ec"]);
    let mut skipped_kids: Vec<_> = skipped.iter().filter_map(|s| s.kid.as_deref()).collect();
    skipped_kids.sort_unstable();
    assert_eq!(skipped_kids, ["ed", "rsa"]);
    // An allow-list matching nothing is an error.
    let err = KeySet::from_jwks_filtered(&doc, Some(set_of(&[Algorithm::HS256]))).unwrap_err();
    assert!(matches!(err, ConfigError::InvalidJwk(_)), "{err:?}");
}

#[test]
fn jwks_filtered_keeps_keys_with_some_allowed_algorithm() {
    // An alg-less RSA key (RS*/PS*) is kept under an allow-list of PS256 alone.
    let doc = jwks(&[without_alg(public_jwk(Algorithm::RS256, "rsa"))]);
    let (set, skipped) =
        KeySet::from_jwks_filtered(&doc, Some(set_of(&[Algorithm::PS256]))).unwrap();
    assert_eq!(set.len(), 1);
    assert!(skipped.is_empty());
}

#[test]
fn jwks_duplicate_kid_refuses_every_key_of_that_kid() {
    // Two keys under one kid: which one a token means is ambiguous, so neither is used.
    let doc = jwks(&[
        public_jwk(Algorithm::ES256, "same"),
        public_jwk(Algorithm::ES384, "same"),
        public_jwk(Algorithm::EdDSA, "other"),
    ]);
    let (set, skipped) = KeySet::from_jwks_filtered(&doc, None).unwrap();
    assert_eq!(set.kids().collect::<Vec<_>>(), ["other"]);
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(
        skipped
            .iter()
            .all(|s| s.kid.as_deref() == Some("same") && s.reason.contains("ambiguous")),
        "{skipped:?}"
    );
    let verifier = verifier(set);
    for alg in [Algorithm::ES256, Algorithm::ES384] {
        assert_eq!(
            kind(verifier.verify(&mint(alg, Some("same"), &claims()))),
            RejectionKind::UnknownKey,
            "{alg:?}"
        );
    }
    // Nothing but the ambiguous pair: no usable key.
    let doc = jwks(&[
        public_jwk(Algorithm::ES256, "same"),
        public_jwk(Algorithm::ES384, "same"),
    ]);
    assert!(matches!(
        KeySet::from_jwks_str(&doc),
        Err(ConfigError::InvalidJwk(_))
    ));
    // An encryption key sharing a signing key's kid is no ambiguity for verification.
    let mut enc = public_jwk(Algorithm::RS256, "shared");
    enc["use"] = json!("enc");
    let doc = jwks(&[enc, public_jwk(Algorithm::ES256, "shared")]);
    let set = KeySet::from_jwks_str(&doc).unwrap();
    assert_eq!(set.kids().collect::<Vec<_>>(), ["shared"]);
}

#[test]
fn jwks_key_without_kid_is_skipped_unless_it_is_the_only_key() {
    // A kid-less key among several can be selected by no token; two of them would replace each other.
    let doc = jwks(&[
        without_kid(public_jwk(Algorithm::ES256, "x")),
        public_jwk(Algorithm::ES384, "named"),
    ]);
    let (set, skipped) = KeySet::from_jwks_filtered(&doc, None).unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(set.kids().collect::<Vec<_>>(), ["named"]);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].kid, None);
    assert!(skipped[0].reason.contains("without a `kid`"), "{skipped:?}");

    let two = jwks(&[
        without_kid(public_jwk(Algorithm::ES256, "x")),
        without_kid(public_jwk(Algorithm::ES384, "x")),
    ]);
    let (_, skipped) = KeySet::from_jwks_filtered(&two, Some(set_of(&[Algorithm::ES256])))
        .expect("the ES384 key is outside the allow-list: one usable key left");
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    let err = KeySet::from_jwks_str(&two).unwrap_err();
    assert!(matches!(err, ConfigError::InvalidJwk(_)), "{err:?}");

    // Alone, it is the set's key, for tokens with or without a kid (as KeySet::single).
    let one = jwks(&[without_kid(public_jwk(Algorithm::ES256, "x"))]);
    let verifier = verifier(KeySet::from_jwks_str(&one).unwrap());
    assert!(
        verifier
            .verify(&mint(Algorithm::ES256, None, &claims()))
            .is_ok()
    );
}

#[test]
fn jwk_use_other_than_sig_or_enc_is_refused() {
    // A `use` we cannot read does not say the key is for signatures.
    let mut odd = public_jwk(Algorithm::ES256, "odd");
    odd["use"] = json!("tls");
    let err = VerificationKey::from_jwk_str(&odd.to_string()).unwrap_err();
    assert!(matches!(err, ConfigError::InvalidJwk(_)), "{err:?}");
    let doc = jwks(&[odd, public_jwk(Algorithm::ES384, "good")]);
    let (set, skipped) = KeySet::from_jwks_filtered(&doc, None).unwrap();
    assert_eq!(set.kids().collect::<Vec<_>>(), ["good"]);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].reason.contains("tls"), "{skipped:?}");
}

#[test]
fn jwks_file_is_read() {
    // A JWKS file on disk loads the same as the string; a missing file is an Io error.
    let path =
        std::env::temp_dir().join(format!("jwt-tower-keys-test-{}.json", std::process::id()));
    std::fs::write(&path, jwks(&[public_jwk(Algorithm::ES256, "file")])).unwrap();
    let set = KeySet::from_jwks_file(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(set.unwrap().kids().collect::<Vec<_>>(), ["file"]);
    let err = KeySet::from_jwks_file("/nonexistent/jwks.json").unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }), "{err:?}");
}

// ---------------------------------------------------------------- KeySet

#[test]
fn key_set_lookup_rules() {
    // A kid gets that key or nothing; no kid gets the only key or the named default.
    let a = verification_key(Algorithm::HS256).with_kid("a");
    let b = verification_key(Algorithm::ES256).with_kid("b");
    let set = KeySet::new([a.clone(), b]);
    assert_eq!(set.get(Some("a")).and_then(|k| k.kid()), Some("a"));
    assert!(set.get(Some("c")).is_none());
    assert!(set.get(None).is_none());
    assert_eq!(
        set.with_default_kid("b").get(None).and_then(|k| k.kid()),
        Some("b")
    );
    // Removing the default key removes the default too.
    let without_b = set.with_default_kid("b").without_kid("b");
    assert!(
        without_b.get(None).is_some(),
        "one key left: it is the default"
    );
    assert_eq!(without_b.get(None).and_then(|k| k.kid()), Some("a"));
    let single = KeySet::single(a);
    assert!(single.get(None).is_some());
    assert!(single.get(Some("other")).is_none());
    assert!(KeySet::default().is_empty());
    assert!(KeySet::default().get(None).is_none());
}

// ---------------------------------------------------------------- Keys handle

#[test]
fn unloaded_keys_are_unavailable() {
    // Before any set is loaded, every token is refused as KeysUnavailable (503), not as invalid.
    let keys = Keys::unloaded();
    assert!(keys.snapshot().is_none());
    let verifier = verifier(keys.clone());
    let err = verifier
        .verify(&mint(Algorithm::HS256, None, &claims()))
        .unwrap_err();
    assert_eq!(err.kind(), RejectionKind::KeysUnavailable);
    assert!(!keys.retire("anything"), "nothing to retire");
    // Once a set is swapped in, the same verifier accepts.
    keys.replace(KeySet::single(verification_key(Algorithm::HS256)));
    assert!(
        verifier
            .verify(&mint(Algorithm::HS256, None, &claims()))
            .is_ok()
    );
}

#[test]
fn unloaded_keys_check_shape_before_keys() {
    // A malformed token is Malformed even when no keys are loaded: structure is checked first.
    let verifier = verifier(Keys::unloaded());
    assert_eq!(
        verifier.verify("a.b").unwrap_err().kind(),
        RejectionKind::Malformed
    );
}

#[test]
fn insert_into_an_unloaded_handle_loads_it() {
    // Inserting a key into an empty handle creates the set.
    let keys = Keys::unloaded();
    keys.insert(verification_key(Algorithm::ES256).with_kid("ec"));
    assert_eq!(keys.snapshot().map(|s| s.len()), Some(1));
    assert!(
        verifier(keys)
            .verify(&mint(Algorithm::ES256, Some("ec"), &claims()))
            .is_ok()
    );
}

#[test]
fn replace_swaps_the_whole_set() {
    // After `replace`, the old key is gone and the new one works, through the same verifier.
    let keys = Keys::new(KeySet::single(
        verification_key(Algorithm::HS256).with_kid("old"),
    ));
    let verifier = verifier(keys.clone());
    assert!(
        verifier
            .verify(&mint(Algorithm::HS256, Some("old"), &claims()))
            .is_ok()
    );
    keys.replace(KeySet::single(
        verification_key(Algorithm::ES256).with_kid("new"),
    ));
    let err = verifier
        .verify(&mint(Algorithm::HS256, Some("old"), &claims()))
        .unwrap_err();
    assert_eq!(err.kind(), RejectionKind::UnknownKey);
    assert!(
        verifier
            .verify(&mint(Algorithm::ES256, Some("new"), &claims()))
            .is_ok()
    );
}

#[test]
fn insert_and_retire_rotate_keys() {
    // Rotation: publish the new key, both verify, retire the old one, only the new one verifies.
    let keys = Keys::new(KeySet::single(
        verification_key(Algorithm::RS256).with_kid("k1"),
    ));
    let verifier = verifier(keys.clone());
    keys.insert(verification_key(Algorithm::ES256).with_kid("k2"));
    assert!(
        verifier
            .verify(&mint(Algorithm::RS256, Some("k1"), &claims()))
            .is_ok()
    );
    assert!(
        verifier
            .verify(&mint(Algorithm::ES256, Some("k2"), &claims()))
            .is_ok()
    );
    assert!(keys.retire("k1"));
    assert!(!keys.retire("k1"), "already retired");
    assert!(!keys.retire("never-there"));
    let err = verifier
        .verify(&mint(Algorithm::RS256, Some("k1"), &claims()))
        .unwrap_err();
    assert_eq!(err.kind(), RejectionKind::UnknownKey);
    assert!(
        verifier
            .verify(&mint(Algorithm::ES256, Some("k2"), &claims()))
            .is_ok()
    );
    // Inserting under an existing kid replaces that key.
    keys.insert(verification_key(Algorithm::EdDSA).with_kid("k2"));
    assert_eq!(keys.snapshot().map(|s| s.len()), Some(1));
    let err = verifier
        .verify(&mint(Algorithm::ES256, Some("k2"), &claims()))
        .unwrap_err();
    assert_eq!(err.kind(), RejectionKind::AlgorithmNotAllowed);
    assert!(
        verifier
            .verify(&mint(Algorithm::EdDSA, Some("k2"), &claims()))
            .is_ok()
    );
}

#[test]
fn retire_does_not_touch_the_unnamed_key() {
    // `retire(kid)` removes a named key; a lone kid-less key (which answers any kid) is not "retired".
    let keys = Keys::new(KeySet::single(verification_key(Algorithm::HS256)));
    assert!(!keys.retire("whatever"));
    assert_eq!(keys.snapshot().map(|s| s.len()), Some(1));
}

#[test]
fn snapshots_are_immutable() {
    // A snapshot taken before a change keeps the old set.
    let keys = Keys::new(KeySet::single(
        verification_key(Algorithm::HS256).with_kid("a"),
    ));
    let before = keys.snapshot().unwrap();
    keys.insert(verification_key(Algorithm::ES256).with_kid("b"));
    assert_eq!(before.len(), 1);
    assert_eq!(keys.snapshot().unwrap().len(), 2);
}

#[test]
fn concurrent_rotation_never_fails_a_valid_token() {
    // Readers never see a half-updated set: the key their tokens use is always present, so zero failures.
    const READERS: usize = 3;
    const ITERATIONS: usize = 2000;
    let keys = Keys::new(KeySet::new([
        verification_key(Algorithm::HS256).with_kid("main"),
        verification_key(Algorithm::ES256).with_kid("es"),
    ]));
    let verifier = verifier(keys.clone());
    let tokens = Arc::new([
        mint(Algorithm::HS256, Some("main"), &claims()),
        mint(Algorithm::ES256, Some("es"), &claims()),
    ]);
    let failures = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));

    let writer = {
        let keys = keys.clone();
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let fresh = |i: usize| VerificationKey::hmac(Algorithm::HS256, [i as u8; 32]).unwrap();
            let mut rounds = 0usize;
            while !done.load(Ordering::Relaxed) && rounds < 1_000_000 {
                keys.insert(fresh(rounds).with_kid(format!("rot-{rounds}")));
                if rounds >= 2 {
                    assert!(keys.retire(&format!("rot-{}", rounds - 2)));
                }
                if rounds.is_multiple_of(50) {
                    // Now and then, replace the whole set with one that still holds both live keys.
                    let current = keys.snapshot().unwrap();
                    keys.replace((*current).clone());
                }
                rounds += 1;
            }
            rounds
        })
    };

    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let verifier = verifier.clone();
            let tokens = Arc::clone(&tokens);
            let failures = Arc::clone(&failures);
            std::thread::spawn(move || {
                for i in 0..ITERATIONS {
                    // Mostly the cheap HMAC token, sometimes the ES256 one.
                    let token = if (i + r).is_multiple_of(10) {
                        &tokens[1]
                    } else {
                        &tokens[0]
                    };
                    if verifier.verify(token).is_err() {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for reader in readers {
        reader.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let rounds = writer.join().unwrap();

    assert_eq!(failures.load(Ordering::Relaxed), 0);
    assert!(rounds > 0, "the writer ran");
    // Both long-lived keys survived, plus the last two rotated ones at most.
    let set = keys.snapshot().unwrap();
    assert!(set.get(Some("main")).is_some() && set.get(Some("es")).is_some());
    assert!(set.len() <= 4, "retired keys are gone: {}", set.len());
}

#[test]
fn keys_handle_from_conversions() {
    // A single key, a set, or a handle all become a Keys; clones of a handle share the set.
    let from_key: Keys = verification_key(Algorithm::HS256).into();
    assert_eq!(from_key.snapshot().map(|s| s.len()), Some(1));
    let from_set: Keys = KeySet::new([verification_key(Algorithm::HS256).with_kid("a")]).into();
    let shared = from_set.clone();
    shared.insert(verification_key(Algorithm::ES256).with_kid("b"));
    assert_eq!(from_set.snapshot().map(|s| s.len()), Some(2));
}
