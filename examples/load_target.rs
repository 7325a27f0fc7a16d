//! The server that the load harness (`benches/load/run.py`, see `BENCHMARKS.md`) loads:
//! one axum route, `GET /me`, answering the verified `sub` as text, behind a
//! [`JwtLayer`], or without any authentication for the baseline. Not an example to copy
//! from; it exists so the harness measures the layer and nothing else.
//!
//! Environment:
//! - `LOAD_AUTH`: `none` (the baseline: the same router and a handler answering a fixed
//!   `sub`, no layer), `HS256`, `RS256`, `ES256` or `EdDSA` (default `none`);
//! - `LOAD_CACHE`: `1` to turn on the verifier's verified-token cache (default `0`);
//! - `LOAD_THREADS`: tokio worker threads (default: the CPUs this process may run on);
//! - `BIND`: listen address (default `127.0.0.1:0`).
//!
//! On stdout: `listening on ADDR`, then `token JWT` (valid for an hour, signed with the
//! test keys of `jwt-tower/tests/keys`) and `bad_token JWT` (the same token with a wrong
//! signature); nothing else. With `LOAD_AUTH=none` the tokens are HS256 ones, ignored.

use axum::{Router, routing::get};
use jwt_axum::CurrentIdentity;
use jwt_tower::issue::{SigningKey, TokenIssuer};
use jwt_tower::{Algorithm, JwtLayer, RegisteredClaims, Verifier};

const HMAC_SECRET: &[u8; 64] = b"load-target-hmac-secret-0123456789abcdef0123456789abcdef01234567";
const RSA_PRIVATE: &str = include_str!("../jwt-tower/tests/keys/rsa2048-private.pem");
const P256_PRIVATE: &str = include_str!("../jwt-tower/tests/keys/p256-private.pem");
const ED25519_PRIVATE: &str = include_str!("../jwt-tower/tests/keys/ed25519-private.pem");
const ISSUER: &str = "https://auth.load.test";
const AUDIENCE: &str = "load-api";
const SUBJECT: &str = "load-user-7f3a9c2e";
/// Entries in the verified-token cache when `LOAD_CACHE=1`.
const CACHE_CAPACITY: usize = 10_000;

async fn me(CurrentIdentity(identity): CurrentIdentity) -> String {
    identity.subject().unwrap_or_default().to_owned()
}

async fn me_baseline() -> String {
    SUBJECT.to_owned()
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn signing_key(auth: &str) -> Result<(Algorithm, SigningKey), String> {
    let (alg, key) = match auth {
        "none" | "HS256" => (
            Algorithm::HS256,
            SigningKey::hmac(Algorithm::HS256, HMAC_SECRET),
        ),
        "RS256" => (
            Algorithm::RS256,
            SigningKey::from_pem(Algorithm::RS256, RSA_PRIVATE),
        ),
        "ES256" => (
            Algorithm::ES256,
            SigningKey::from_pem(Algorithm::ES256, P256_PRIVATE),
        ),
        "EdDSA" => (
            Algorithm::EdDSA,
            SigningKey::from_pem(Algorithm::EdDSA, ED25519_PRIVATE),
        ),
        other => {
            return Err(format!(
                "configuration error: LOAD_AUTH: {other:?} is not none, HS256, RS256, ES256 or EdDSA"
            ));
        }
    };
    Ok((alg, key.map_err(|e| e.to_string())?.with_kid("load-key")))
}

/// `token` with the first character of its signature changed (a full 6 bits of the
/// signature, where the last character may hold padding bits).
fn with_bad_signature(token: &str) -> String {
    let at = token.rfind('.').map_or(0, |dot| dot + 1);
    let mut bad = token.to_owned();
    let replacement = if bad[at..].starts_with('A') { "B" } else { "A" };
    bad.replace_range(at..=at, replacement);
    bad
}

fn main() {
    if let Err(error) = run() {
        eprintln!("{error}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let auth = env("LOAD_AUTH").unwrap_or_else(|| "none".to_owned());
    let cache = match env("LOAD_CACHE").as_deref() {
        None | Some("0") => false,
        Some("1") => true,
        Some(other) => {
            return Err(format!("configuration error: LOAD_CACHE: {other:?} is not 0 or 1").into());
        }
    };
    let bind = env("BIND").unwrap_or_else(|| "127.0.0.1:0".to_owned());

    let (alg, key) = signing_key(&auth)?;
    let issuer = TokenIssuer::builder(ISSUER, key)
        .audience(AUDIENCE)
        .ttl(std::time::Duration::from_secs(3600))
        .build();
    let token = issuer.issue(SUBJECT, serde_json::json!({"scope": "orders:read profile"}))?;

    let app = if auth == "none" {
        Router::new().route("/me", get(me_baseline))
    } else {
        let mut builder = Verifier::<RegisteredClaims>::builder(issuer.keys())
            .algorithms([alg])
            .issuer(ISSUER)
            .audience(AUDIENCE);
        if cache {
            builder = builder.cache(CACHE_CAPACITY);
        }
        Router::new()
            .route("/me", get(me))
            .layer(JwtLayer::new(builder.build()?))
    };

    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = env("LOAD_THREADS") {
        match threads.trim().parse::<usize>() {
            Ok(n) if n > 0 => {
                runtime.worker_threads(n);
            }
            _ => {
                return Err(format!(
                    "configuration error: LOAD_THREADS: {threads:?} is not a positive number"
                )
                .into());
            }
        }
    }
    runtime.build()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&bind)
            .await
            .map_err(|e| format!("configuration error: BIND: cannot listen on {bind:?}: {e}"))?;
        println!("listening on {}", listener.local_addr()?);
        println!("token {}", token.token);
        println!("bad_token {}", with_bad_signature(&token.token));
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}
