//! Shared test fixtures: the keys in `tests/keys/` and a token minter.
#![allow(dead_code)]

use jsonwebtoken::{EncodingKey, Header};
use jwt_tower::{Algorithm, VerificationKey};
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
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 | Algorithm::PS256
        | Algorithm::PS384 | Algorithm::PS512 => ("rsa2048-private.pem", "rsa2048-public.pem"),
        Algorithm::ES256 => ("p256-private.pem", "p256-public.pem"),
        Algorithm::ES384 => ("p384-private.pem", "p384-public.pem"),
        Algorithm::EdDSA => ("ed25519-private.pem", "ed25519-public.pem"),
        _ => panic!("no key file for HMAC"),
    }
}

pub fn encoding_key(alg: Algorithm) -> EncodingKey {
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => EncodingKey::from_secret(SECRET),
        Algorithm::ES256 | Algorithm::ES384 => {
            EncodingKey::from_ec_pem(key_file(key_names(alg).0).as_bytes()).unwrap()
        }
        Algorithm::EdDSA => EncodingKey::from_ed_pem(key_file(key_names(alg).0).as_bytes()).unwrap(),
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

/// Signs `claims` with `alg` (and `kid`, if given).
pub fn mint(alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &encoding_key(alg)).unwrap()
}
