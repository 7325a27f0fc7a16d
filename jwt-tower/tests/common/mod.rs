//! Shared test fixtures: the keys in `tests/keys/` and a token minter.
#![allow(dead_code)]

use jsonwebtoken::{EncodingKey, Header};
use jwt_tower::{Algorithm, AuthError, RejectionKind, VerificationKey, VerifiedToken};
use serde_json::Value;

/// An HMAC secret long enough for HS512.
pub const SECRET: &[u8; 64] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

pub fn key_file(name: &str) -> String {
    let path = format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The (private, public) PEM file names for an algorithm.
pub fn key_names(alg: Algorithm) -> (&'static str, &'static str) {
    match alg {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => ("rsa2048-private.pem", "rsa2048-public.pem"),
        Algorithm::ES256 => ("p256-private.pem", "p256-public.pem"),
        Algorithm::ES384 => ("p384-private.pem", "p384-public.pem"),
        Algorithm::EdDSA | Algorithm::Ed25519 => ("ed25519-private.pem", "ed25519-public.pem"),
        _ => panic!("no key file for HMAC"),
    }
}

/// Picks jsonwebtoken's process-wide crypto provider for minting tokens in tests.
///
/// The dev-dependency enables jsonwebtoken's `aws_lc_rs`; the `rust_crypto` backend of
/// this crate enables jsonwebtoken's `rust_crypto` too, and with both jsonwebtoken cannot
/// choose a default by itself (it panics on the first signature). Minting with aws-lc-rs
/// is fine either way: only the verifying side is under test.
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err only if a provider is already installed, which is just as good.
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    });
}

/// The same algorithm as jsonwebtoken (which mints the test tokens) names it.
/// jsonwebtoken has no `Ed25519` (RFC 9864's fully-specified name): it is EdDSA's signature
/// with an Ed25519 key, so it signs as `EdDSA` and [`mint`] relabels the header.
pub fn jwt_alg(alg: Algorithm) -> jsonwebtoken::Algorithm {
    match alg {
        Algorithm::Ed25519 => jsonwebtoken::Algorithm::EdDSA,
        _ => alg.name().parse().unwrap(),
    }
}

pub fn encoding_key(alg: Algorithm) -> EncodingKey {
    init();
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            EncodingKey::from_secret(SECRET).unwrap()
        }
        Algorithm::ES256 | Algorithm::ES384 => {
            EncodingKey::from_ec_pem(key_file(key_names(alg).0).as_bytes()).unwrap()
        }
        Algorithm::EdDSA | Algorithm::Ed25519 => {
            EncodingKey::from_ed_pem(key_file(key_names(alg).0).as_bytes()).unwrap()
        }
        _ => EncodingKey::from_rsa_pem(key_file(key_names(alg).0).as_bytes()).unwrap(),
    }
}

pub fn verification_key(alg: Algorithm) -> VerificationKey {
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            VerificationKey::hmac(alg, SECRET).unwrap()
        }
        _ => VerificationKey::from_pem(alg, key_file(key_names(alg).1)).unwrap(),
    }
}

pub fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

/// Claims valid for an hour.
pub fn claims() -> Value {
    serde_json::json!({ "sub": "alice", "iat": now(), "exp": now() + 3600 })
}

/// Valid claims plus `extra` members (overriding).
pub fn claims_with(extra: Value) -> Value {
    let mut c = claims();
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

/// The kind of the rejection, panicking with context if the token was accepted.
pub fn kind<C>(result: Result<VerifiedToken<C>, AuthError>) -> RejectionKind {
    match result {
        Ok(_) => panic!("the token was accepted"),
        Err(e) => e.kind(),
    }
}

/// Signs `claims` with `alg` (and `kid`, if given).
pub fn mint(alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(jwt_alg(alg));
    header.kid = kid.map(str::to_owned);
    if alg == Algorithm::Ed25519 {
        // jsonwebtoken cannot write this `alg`: the same header, relabelled, signed as EdDSA.
        let mut header = serde_json::to_value(&header).unwrap();
        header["alg"] = Value::from(alg.name());
        return sign_header(alg, &header, claims);
    }
    jsonwebtoken::encode(&header, claims, &encoding_key(alg)).unwrap()
}

/// base64url without padding, as JWS compact serialization uses.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token built by hand from exact header and payload JSON text, signed with `key` for
/// `alg`: for headers and payloads jsonwebtoken would refuse or normalise (duplicate
/// members, `crit`, `enc`, odd `alg` spellings).
pub fn sign_raw_with(key: &EncodingKey, alg: Algorithm, header: &str, payload: &str) -> String {
    init();
    let signing_input = format!("{}.{}", b64(header), b64(payload));
    let signature =
        jsonwebtoken::crypto::sign(signing_input.as_bytes(), key, jwt_alg(alg)).unwrap();
    format!("{signing_input}.{signature}")
}

/// As [`sign_raw_with`], with the test key for `alg`.
pub fn sign_raw(alg: Algorithm, header: &str, payload: &str) -> String {
    sign_raw_with(&encoding_key(alg), alg, header, payload)
}

/// Signs `claims` with `alg` and this exact `header` object (its `alg` is kept as given).
pub fn sign_header(alg: Algorithm, header: &Value, claims: &Value) -> String {
    sign_raw(alg, &header.to_string(), &claims.to_string())
}

/// A JWK (as JSON) for the public half of the test key for `alg`, with `alg` and `kid` set.
pub fn public_jwk(alg: Algorithm, kid: &str) -> Value {
    let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding_key(alg), jwt_alg(alg)).unwrap();
    let mut value = serde_json::to_value(jwk).unwrap();
    value["kid"] = Value::from(kid);
    value
}
