//! `cargo run --example resource_server`: an axum resource server configured only by
//! environment (see `examples/common/jwt_env.rs` and the README for the contract).
//!
//! Routes: `GET /health` (open), `GET /me` (claims as JSON, with a delegated token's
//! `act` chain), `GET /admin` (scope `admin`), `GET /optional` (works with or without a
//! token; a bad token is 401).
//!
//! Opaque tokens: `JWT_INTROSPECTION_URL` and its client credentials (see
//! `common/introspection_env.rs`), alone or beside one of the key variables.
//!
//! TLS: `TLS_CERT_FILE`, `TLS_KEY_FILE` and `TLS_CLIENT_CA_FILE` (see `common/tls.rs`)
//! serve HTTPS, with client certificates for certificate-bound tokens. DPoP and the
//! trusted proxy's certificate header: see `common/dpop_env.rs`.
#![forbid(unsafe_code)]

#[path = "common/cli.rs"]
mod cli;
#[path = "common/dpop_env.rs"]
mod dpop_env;
#[path = "common/jwt_env.rs"]
mod jwt_env;
#[path = "common/tls.rs"]
mod tls;

use axum::{Json, Router, routing::get};
use jwt_axum::{Claims, CurrentIdentity, RequireScopes};
use jwt_tower::store::Store;
use jwt_tower::{Actor, Authenticator, JwtLayer, RegisteredClaims};
use serde_json::{Value, json};

/// The caller's claims, and the `act` chain of a delegated token.
#[derive(serde::Serialize)]
struct Me {
    #[serde(flatten)]
    claims: RegisteredClaims,
    #[serde(skip_serializing_if = "Option::is_none")]
    act: Option<Actor>,
}

async fn me(
    Claims(claims): Claims<RegisteredClaims>,
    CurrentIdentity(caller): CurrentIdentity,
) -> Json<Me> {
    let act = caller.actor().cloned();
    Json(Me { claims, act })
}

async fn admin(Claims(claims): Claims<RegisteredClaims>) -> Json<Value> {
    Json(json!({ "admin": true, "sub": claims.sub }))
}

async fn optional(claims: Option<Claims<RegisteredClaims>>) -> Json<Value> {
    Json(match claims {
        Some(Claims(c)) => json!({ "authenticated": true, "sub": c.sub }),
        None => json!({ "authenticated": false }),
    })
}

#[tokio::main]
async fn main() {
    cli::run_and_exit(run()).await;
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let bind = jwt_env::bind("127.0.0.1:3000");
    let tls = tls::Tls::from_env()?;
    // One store for revocations and, with DPoP, proof replays and the nonce secret.
    let redis = jwt_env::redis_from_env().await?;
    let revocations = redis.as_ref().map(jwt_env::revocations_of);
    let authenticator = Authenticator::new(jwt_env::from_env_with(revocations)?);
    let store = redis.map(|redis| std::sync::Arc::new(redis) as std::sync::Arc<dyn Store>);
    if jwt_env::var("JWT_MTLS_CERT_HEADER").is_some()
        && tls
            .as_ref()
            .is_some_and(tls::Tls::requests_client_certificates)
    {
        // Clients reach this server directly: one without a certificate could name any
        // certificate in the header.
        jwt_env::fail::<()>(
            "JWT_MTLS_CERT_HEADER",
            "is for a TLS-terminating proxy in front; this server reads client \
             certificates itself (TLS_CLIENT_CA_FILE)",
        )?;
    }
    let authenticator = dpop_env::configure(authenticator, &bind, tls.is_some(), store).await?;
    let layer = JwtLayer::from_authenticator(authenticator);

    let app = Router::new()
        .route(
            "/admin",
            get(admin).route_layer(RequireScopes::new(["admin"])),
        )
        .route("/me", get(me))
        .layer(layer.clone())
        .merge(
            Router::new()
                .route("/optional", get(optional))
                .layer(layer.optional()),
        )
        .route("/health", get(|| async { "ok" }));

    serve(&bind, app, tls).await
}

/// Plain HTTP, or HTTPS with the `TLS_*` variables (client certificates, for
/// certificate-bound tokens, with `TLS_CLIENT_CA_FILE`).
async fn serve(
    bind: &str,
    app: Router,
    tls: Option<tls::Tls>,
) -> Result<(), Box<dyn std::error::Error>> {
    match tls {
        Some(tls) => tls::serve_at(bind, app, tls, "resource server").await,
        None => cli::serve_http(bind, app, "resource server").await,
    }
}
