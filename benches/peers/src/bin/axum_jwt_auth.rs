//! `GET /me` behind axum-jwt-auth 0.7 (axum 0.8; jsonwebtoken 10 with the RustCrypto
//! backend, which axum-jwt-auth itself selects), as its crate documentation sets it up: a
//! `LocalDecoder` as the router's state (its README's `JwtDecoderState` is gone in 0.7),
//! claims through `Claims`. Validation as jwt-tower's rows: issuer, audience, `exp` and
//! `nbf` with 30 s of leeway, the one algorithm.

use std::sync::Arc;

use axum::{Router, routing::get};
use axum_jwt_auth::{Claims, Decoder, LocalDecoder};
use jsonwebtoken10::{Algorithm, DecodingKey, Validation};
use jwt_tower_peers::{
    AUDIENCE, ED25519_PUBLIC, HMAC_SECRET, ISSUER, LEEWAY_SECS, P256_PUBLIC, RSA_PUBLIC, Subject,
};

async fn me(user: Claims<Subject>) -> String {
    user.claims.sub
}

fn key(alg: &str) -> Result<(DecodingKey, Algorithm), jsonwebtoken10::errors::Error> {
    Ok(match alg {
        "HS256" => (
            DecodingKey::from_secret(HMAC_SECRET.as_bytes()),
            Algorithm::HS256,
        ),
        "RS256" => (
            DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes())?,
            Algorithm::RS256,
        ),
        "ES256" => (
            DecodingKey::from_ec_pem(P256_PUBLIC.as_bytes())?,
            Algorithm::ES256,
        ),
        _ => (
            DecodingKey::from_ed_pem(ED25519_PUBLIC.as_bytes())?,
            Algorithm::EdDSA,
        ),
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (key, alg) = key(&jwt_tower_peers::algorithm()?)?;
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.validate_nbf = true;
    validation.leeway = LEEWAY_SECS;
    let decoder: Decoder<Subject> = Arc::new(
        LocalDecoder::builder()
            .keys(vec![key])
            .validation(validation)
            .build()?,
    );
    jwt_tower_peers::serve(|listener| async move {
        let app = Router::new().route("/me", get(me)).with_state(decoder);
        jwt_tower_peers::announce(&listener)?;
        axum::serve(listener, app)
            .with_graceful_shutdown(jwt_tower_peers::interrupted())
            .await
    })
}
