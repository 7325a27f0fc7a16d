//! `cargo run --example quickstart`: an axum API behind jwt-tower, on loopback, with an
//! embedded demo key. It prints curl commands with freshly minted tokens.
//!
//! Environment: `BIND` (default `127.0.0.1:3000`).

use axum::{Json, Router, routing::get};
use jsonwebtoken::{EncodingKey, Header};
use jwt_axum::{Claims, RequireScopes};
use jwt_tower::{Algorithm, JwtLayer, RegisteredClaims, VerificationKey, Verifier};
use serde_json::json;

const PRIVATE_KEY: &str = include_str!("keys/demo-es256-private.pem");
const PUBLIC_KEY: &str = include_str!("keys/demo-es256-public.pem");
const ISSUER: &str = "https://quickstart.jwt-tower.invalid";
const AUDIENCE: &str = "quickstart-api";
const KID: &str = "demo-es256";

async fn me(Claims(claims): Claims<RegisteredClaims>) -> Json<RegisteredClaims> {
    Json(claims)
}

async fn admin(Claims(claims): Claims<RegisteredClaims>) -> Json<serde_json::Value> {
    Json(json!({ "admin": true, "sub": claims.sub }))
}

fn mint(sub: &str, scope: &str) -> Result<String, jsonwebtoken::errors::Error> {
    let now = jsonwebtoken::get_current_timestamp();
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(KID.to_owned());
    header.typ = Some("at+jwt".to_owned());
    let claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "scope": scope,
        "iat": now, "nbf": now, "exp": now + 900,
    });
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_ec_pem(PRIVATE_KEY.as_bytes())?,
    )
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

    let key = VerificationKey::from_pem(Algorithm::ES256, PUBLIC_KEY)?.with_kid(KID);
    let verifier = Verifier::<RegisteredClaims>::builder(key)
        .algorithms([Algorithm::ES256])
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .require_typ("at+jwt")
        .build()?;

    let app = Router::new()
        .route(
            "/admin",
            get(admin).route_layer(RequireScopes::new(["admin"]).realm("quickstart")),
        )
        .route("/me", get(me))
        .layer(JwtLayer::new(verifier).realm("quickstart"))
        .route("/health", get(|| async { "ok" }));

    let listener = tokio::net::TcpListener::bind(&bind).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let user = mint("alice", "read")?;
    let root = mint("bob", "read admin")?;
    println!("jwt-tower quickstart listening on {base}\n");
    println!("# a valid token (alice, scope \"read\"): 200 with the claims");
    println!("curl -i -H 'Authorization: Bearer {user}' {base}/me\n");
    println!("# no token: 401 with WWW-Authenticate: Bearer realm=\"quickstart\"");
    println!("curl -i {base}/me\n");
    println!("# a tampered token: 401 invalid_token");
    println!("curl -i -H 'Authorization: Bearer {user}x' {base}/me\n");
    println!("# alice lacks scope \"admin\": 403 insufficient_scope");
    println!("curl -i -H 'Authorization: Bearer {user}' {base}/admin\n");
    println!("# bob has it: 200");
    println!("curl -i -H 'Authorization: Bearer {root}' {base}/admin\n");
    println!("(tokens expire in 15 minutes; restart to mint new ones)");
    axum::serve(listener, app).await?;
    Ok(())
}
