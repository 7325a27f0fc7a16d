//! Shared pieces of the end-to-end tests: test keys, a token minter, and a real axum
//! server on a loopback port.
#![allow(dead_code)]

pub mod jwks_server;
pub mod process;
pub mod redis;
pub mod redis_cluster;

use std::net::SocketAddr;

use axum::Router;
use jsonwebtoken::{EncodingKey, Header};
use jwt_tower::{Algorithm, VerificationKey};
use serde_json::Value;

pub const SECRET: &[u8; 32] = b"end-to-end-test-secret-32-bytes!";

pub fn key_file(name: &str) -> String {
    let path = format!("{}/jwt-tower/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

pub fn hs256_key(kid: &str) -> VerificationKey {
    VerificationKey::hmac(Algorithm::HS256, SECRET)
        .unwrap()
        .with_kid(kid)
}

pub fn es256_key(kid: &str) -> VerificationKey {
    VerificationKey::from_pem(Algorithm::ES256, key_file("p256-public.pem"))
        .unwrap()
        .with_kid(kid)
}

/// The same algorithm as jsonwebtoken (which mints the test tokens) names it.
///
/// jsonwebtoken has no `Ed25519` (RFC 9864's fully-specified name): it is EdDSA's signature
/// with an Ed25519 key, so it signs as `EdDSA` under a header written by hand.
pub fn jwt_alg(alg: Algorithm) -> jsonwebtoken::Algorithm {
    match alg {
        Algorithm::Ed25519 => jsonwebtoken::Algorithm::EdDSA,
        _ => alg.name().parse().unwrap(),
    }
}

/// Signs `claims` with HS256 under `kid`, with the shared test secret.
pub fn mint_hs256(kid: &str, claims: &Value) -> String {
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(SECRET).unwrap()).unwrap()
}

/// Signs `claims` with ES256 (the P-256 test key) under `kid`.
pub fn mint_es256(kid: &str, claims: &Value) -> String {
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_ec_pem(key_file("p256-private.pem").as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// Claims for `sub` with `scope`, valid for an hour.
pub fn claims(sub: &str, scope: &str) -> Value {
    serde_json::json!({ "sub": sub, "scope": scope, "iat": now(), "exp": now() + 3600 })
}

/// Serves `app` on a fresh loopback port; the server lives as long as the test's runtime.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

/// One HTTP client for the whole test binary: building one loads the platform's
/// certificates, which is slow.
pub fn http() -> reqwest::Client {
    static CLIENT: std::sync::LazyLock<reqwest::Client> =
        std::sync::LazyLock::new(reqwest::Client::new);
    CLIENT.clone()
}

/// What a test checks of a response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub challenge: Option<String>,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request failed");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (challenge, retry_after) = (header("www-authenticate"), header("retry-after"));
    Reply {
        status: response.status().as_u16(),
        challenge,
        retry_after,
        body: response.text().await.unwrap(),
    }
}
