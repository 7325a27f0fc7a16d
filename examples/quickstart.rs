//! `cargo run --example quickstart`: an axum API and its authorization server in one
//! process, on loopback, with an embedded demo key and the in-memory store. It prints
//! ready-to-paste curl commands for the whole flow: login, call, refresh, logout.
//!
//! Environment: `BIND` (default `127.0.0.1:3000`).
#![forbid(unsafe_code)]

#[path = "common/app_error.rs"]
mod app_error;
#[path = "common/auth_requests.rs"]
mod auth_requests;
#[path = "common/auth_routes.rs"]
mod auth_routes;
#[path = "common/hashing_pool.rs"]
mod hashing_pool;
#[path = "common/login_guard.rs"]
mod login_guard;
#[path = "common/oauth_access.rs"]
mod oauth_access;
#[path = "common/refresh_delivery.rs"]
mod refresh_delivery;
#[path = "common/retry_after.rs"]
mod retry_after;
#[path = "common/users.rs"]
mod users;

use std::sync::Arc;

use axum::{Json, Router, routing::get};
use jwt_axum::{Claims, RequireScopes};
use jwt_tower::issue::{SigningKey, TokenIssuer};
use jwt_tower::refresh::RefreshTokens;
use jwt_tower::revoke::Revocations;
use jwt_tower::store::{MemoryStore, Store};
use jwt_tower::{Algorithm, JwtLayer, RegisteredClaims, Verifier};
use serde_json::json;

const PRIVATE_KEY: &str = include_str!("keys/demo-es256-private.pem");
const AUDIENCE: &str = "quickstart-api";

async fn me(Claims(claims): Claims<RegisteredClaims>) -> Json<RegisteredClaims> {
    Json(claims)
}

async fn admin(Claims(claims): Claims<RegisteredClaims>) -> Json<serde_json::Value> {
    Json(json!({ "admin": true, "sub": claims.sub }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,jwt_tower=debug".into()),
        )
        .init();
    let bind = std::env::var("BIND").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    let base = format!("http://{}", listener.local_addr()?);

    // The issuing side: a demo key (published in this repository: never deploy it).
    let key = SigningKey::from_pem(Algorithm::ES256, PRIVATE_KEY)?.with_kid("demo-es256");
    let issuer = TokenIssuer::builder(base.clone(), key)
        .audience(AUDIENCE)
        .build();
    let store = MemoryStore::new();
    let revocations = Revocations::new();
    store.follow(&revocations);

    // The verifying side: the issuer's live keys, its revocations, strict claims.
    let verifier = Verifier::<RegisteredClaims>::builder(issuer.keys())
        .algorithms([Algorithm::ES256])
        .issuer(base.clone())
        .audience(AUDIENCE)
        .require_typ("at+jwt")
        .revocations(revocations.clone())
        .build()?;

    let access = oauth_access::AccessTokens::new(
        oauth_access::AccessTokenFormat::Jwt,
        issuer.clone(),
        Algorithm::ES256,
        &[AUDIENCE.to_owned()],
        &[],
        revocations.clone(),
        Arc::new(store.clone()),
    )?;
    let refresh = RefreshTokens::new(store).revocations(revocations);
    let auth = auth_routes::AuthState {
        issuer: issuer.clone(),
        access,
        refresh: refresh.clone(),
        users: Arc::new(users::Users::parse(users::DEFAULT_DEMO_USERS)?),
        verifier: verifier.clone(),
        // The printed curl commands carry the refresh token in the body.
        delivery: refresh_delivery::RefreshDelivery::Body,
        login_guard: login_guard::LoginGuard::new(&login_guard::LoginLimits::default()),
    };
    let api = Router::new()
        .route(
            "/admin",
            get(admin).route_layer(RequireScopes::new(["admin"])),
        )
        .route("/me", get(me))
        .layer(JwtLayer::new(verifier).realm("quickstart"));
    let app = Router::new()
        .merge(api)
        .merge(auth_routes::router(auth, &base))
        .route("/health", get(|| async { "ok" }));

    // Ready-made credentials, so every command below can be pasted as is.
    let access = issuer.issue("alice", json!({"scope": "read"}))?.token;
    let session = refresh.start("alice", "read").await?;
    let spare = refresh.start("alice", "read").await?;

    println!("jwt-tower quickstart listening on {base}\n");
    println!(
        "# log in (users: alice / alice-password, scope read; bob / bob-password, scope read admin)"
    );
    println!(
        "curl -s -X POST {base}/login -H 'content-type: application/json' -d '{{\"username\":\"alice\",\"password\":\"alice-password\"}}'\n"
    );
    println!("# call the API with an access token: 200 with the claims");
    println!("curl -i -H 'Authorization: Bearer {access}' {base}/me\n");
    println!(
        "# no token: 401 with WWW-Authenticate: Bearer realm=\"quickstart\"; a tampered one: 401 invalid_token"
    );
    println!("curl -i {base}/me");
    println!("curl -i -H 'Authorization: Bearer {access}x' {base}/me\n");
    println!("# alice lacks scope \"admin\": 403 insufficient_scope");
    println!("curl -i -H 'Authorization: Bearer {access}' {base}/admin\n");
    println!(
        "# refresh: a new access token and a new refresh token (run it twice: the replay revokes the login)"
    );
    println!(
        "curl -s -X POST {base}/refresh -H 'content-type: application/json' -d '{{\"refresh_token\":\"{}\"}}'\n",
        session.token
    );
    println!("# log out: revokes the access token and the refresh family; the token then gets 401");
    println!(
        "curl -s -X POST {base}/logout -H 'Authorization: Bearer {access}' -H 'content-type: application/json' -d '{{\"refresh_token\":\"{}\"}}'",
        spare.token
    );
    println!("curl -i -H 'Authorization: Bearer {access}' {base}/me\n");
    println!("# the public keys: {base}/.well-known/jwks.json");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await?;
    Ok(())
}
