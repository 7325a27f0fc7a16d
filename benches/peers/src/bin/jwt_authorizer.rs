//! `GET /me` behind jwt-authorizer 0.15 (axum 0.7), as its README sets it up: an
//! `Authorizer` from the key, `into_layer()`, claims through `JwtClaims`. Validation as
//! jwt-tower's rows: issuer, audience, `exp` and `nbf` with 30 s of leeway, the one
//! algorithm.

use axum07::{Router, routing::get};
use jsonwebtoken9::Algorithm;
use jwt_authorizer::{Authorizer, IntoLayer, JwtAuthorizer, JwtClaims, Validation};
use jwt_tower_peers::{
    AUDIENCE, ED25519_PUBLIC, HMAC_SECRET, ISSUER, LEEWAY_SECS, P256_PUBLIC, RSA_PUBLIC, Subject,
};

async fn me(JwtClaims(claims): JwtClaims<Subject>) -> String {
    claims.sub
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let alg = jwt_tower_peers::algorithm()?;
    jwt_tower_peers::serve(|listener| async move {
        let (builder, algorithm) = match alg.as_str() {
            "HS256" => (JwtAuthorizer::from_secret(HMAC_SECRET), Algorithm::HS256),
            "RS256" => (
                JwtAuthorizer::from_rsa_pem_text(RSA_PUBLIC),
                Algorithm::RS256,
            ),
            "ES256" => (
                JwtAuthorizer::from_ec_pem_text(P256_PUBLIC),
                Algorithm::ES256,
            ),
            _ => (
                JwtAuthorizer::from_ed_pem_text(ED25519_PUBLIC),
                Algorithm::EdDSA,
            ),
        };
        let validation = Validation::new()
            .iss(&[ISSUER])
            .aud(&[AUDIENCE])
            .nbf(true)
            .leeway(LEEWAY_SECS)
            .algs(vec![algorithm]);
        let auth: Authorizer<Subject> = builder
            .validation(validation)
            .build()
            .await
            .map_err(std::io::Error::other)?;
        let app = Router::new().route("/me", get(me)).layer(auth.into_layer());
        jwt_tower_peers::announce(&listener)?;
        axum07::serve(listener, app)
            .with_graceful_shutdown(jwt_tower_peers::interrupted())
            .await
    })
}
