//! Serves a resource server's protected resource metadata (RFC 9728), where clients
//! look for it: at the path-inserted metadata URL and at the root form.

use axum::Router;
use axum::body::Bytes;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue};
use axum::routing::get;
use jwt_tower::ProtectedResourceMetadata;
use jwt_tower::resource::WELL_KNOWN_PATH;

/// How long clients may cache the metadata: it changes only with the server's
/// configuration, and an hour bounds how long a client keeps a stale one after a change
/// (as for the OpenID discovery document).
const METADATA_MAX_AGE: &str = "public, max-age=3600";

/// A router serving `metadata` as JSON (`Content-Type: application/json`,
/// `Cache-Control: public, max-age=3600`) on `GET` at its
/// [`well_known_path`](ProtectedResourceMetadata::well_known_path)
/// (`/.well-known/oauth-protected-resource/mcp` for `https://host/mcp`, RFC 9728 §3.1)
/// and at the root form `/.well-known/oauth-protected-resource`, which some clients try
/// first. Merge it into the application's router outside the
/// [`JwtLayer`](jwt_tower::JwtLayer): clients read it before they have a token.
///
/// A path segment of the resource starting with `:` or `*` is served as a literal; axum
/// takes it for an old-style capture and panics, when merged, unless the application's
/// router is built with `Router::new().without_v07_checks()`.
///
/// ```
/// use axum::{Router, routing::post};
/// use jwt_axum::protected_resource_metadata;
/// use jwt_tower::{Algorithm, JwtLayer, ProtectedResourceMetadata, RegisteredClaims};
/// use jwt_tower::{Verifier, VerificationKey};
///
/// let metadata = ProtectedResourceMetadata::builder("https://api.example.com/mcp")
///     .authorization_servers(["https://auth.example.com"])
///     .scopes_supported(["orders.read", "orders.write"])
///     .bearer_methods_supported(["header"])
///     .build()?;
/// let verifier = Verifier::<RegisteredClaims>::builder(
///     VerificationKey::hmac(Algorithm::HS256, b"an-hmac-secret-of-at-least-32-bytes!")?,
/// )
/// .algorithms([Algorithm::HS256])
/// .audience(metadata.resource())
/// .build()?;
///
/// let app: Router = Router::new()
///     .route("/mcp", post(|| async { "…" }))
///     .layer(JwtLayer::new(verifier).resource_metadata(&metadata))
///     .merge(protected_resource_metadata(&metadata)); // added after the layer: open
/// # Ok::<(), jwt_tower::ConfigError>(())
/// ```
pub fn protected_resource_metadata<S: Clone + Send + Sync + 'static>(
    metadata: &ProtectedResourceMetadata,
) -> Router<S> {
    let body = Bytes::from(
        serde_json::to_vec(metadata).expect("protected resource metadata serialises to JSON"),
    );
    let handler = get(move || {
        let body = body.clone();
        async move {
            let headers: [(HeaderName, HeaderValue); 2] = [
                (CONTENT_TYPE, HeaderValue::from_static("application/json")),
                (CACHE_CONTROL, HeaderValue::from_static(METADATA_MAX_AGE)),
            ];
            (headers, body)
        }
    });
    let path = metadata.well_known_path();
    // A resource path may have a segment starting with `:` or `*`, which axum refuses
    // by default as a capture written in its old syntax; here it is a literal.
    let mut router = Router::new().without_v07_checks();
    router = router.route(path, handler.clone());
    if path != WELL_KNOWN_PATH {
        router = router.route(WELL_KNOWN_PATH, handler);
    }
    router
}
