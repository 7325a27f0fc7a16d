//! Handlers that publish a [`TokenIssuer`]'s keys: the JWKS and a minimal OpenID
//! Connect discovery document, with caching headers that respect key rotation.

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jwt_tower::issue::TokenIssuer;

/// How long clients may cache the JWKS: well under the time a retired key stays
/// published after its last token expires, so a cache never misses a key in use.
const JWKS_MAX_AGE: u32 = 300;

fn json(body: serde_json::Value, max_age: u32) -> Response {
    (
        [
            (CONTENT_TYPE, "application/json".to_owned()),
            (CACHE_CONTROL, format!("public, max-age={max_age}")),
        ],
        body.to_string(),
    )
        .into_response()
}

/// The issuer's JWKS as a response (`Cache-Control: public, max-age=300`).
#[must_use]
pub fn jwks_response(issuer: &TokenIssuer) -> Response {
    json(issuer.jwks(), JWKS_MAX_AGE)
}

/// A router serving `GET /.well-known/jwks.json` and
/// `GET /.well-known/openid-configuration` for `issuer`, whose public base URL (where this
/// router is reachable) is `public_base`.
///
/// ```
/// use jwt_axum::well_known;
/// use jwt_tower::Algorithm;
/// use jwt_tower::issue::{SigningKey, TokenIssuer};
///
/// let issuer = TokenIssuer::builder("https://auth.example.com", SigningKey::generate(Algorithm::ES256)?)
///     .build();
/// let app: axum::Router = well_known(issuer, "https://auth.example.com");
/// # Ok::<(), jwt_tower::ConfigError>(())
/// ```
pub fn well_known<S: Clone + Send + Sync + 'static>(
    issuer: TokenIssuer,
    public_base: &str,
) -> Router<S> {
    let jwks_uri = format!(
        "{}/.well-known/jwks.json",
        public_base.trim_end_matches('/')
    );
    let for_jwks = issuer.clone();
    Router::new()
        .route(
            "/.well-known/jwks.json",
            get(move || {
                let issuer = for_jwks.clone();
                async move { jwks_response(&issuer) }
            }),
        )
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let document = issuer.discovery_document(&jwks_uri);
                async move { json(document, 3600) }
            }),
        )
}
