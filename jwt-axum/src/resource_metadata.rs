//! Serves a resource server's protected resource metadata (RFC 9728), where clients
//! look for it: at the path-inserted metadata URL and at the root form; behind a trusted
//! proxy, as the client reached it.

use axum::Router;
use axum::body::Bytes;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::routing::{MethodRouter, get};
use jwt_tower::ProtectedResourceMetadata;
use jwt_tower::resource::{TrustForwarded, WELL_KNOWN_PATH};

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
/// [`JwtLayer`](jwt_tower::JwtLayer): clients read it before they have a token. Behind a
/// TLS-terminating proxy, [`protected_resource_metadata_with`] serves it as the client
/// reached it.
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
    protected_resource_metadata_with(metadata, TrustForwarded::Off)
}

/// [`protected_resource_metadata`], with a say on the forwarding headers: with
/// [`TrustForwarded::On`], each response is the metadata as the client reached it
/// ([`ProtectedResourceMetadata::for_request`]): `resource` takes the scheme and host
/// the trusted proxy reports in `Forwarded` or `X-Forwarded-Proto` / `X-Forwarded-Host`,
/// and the response says it varies with them (`Vary`). It is served at the same paths:
/// a proxy that changes the path is not followed. With [`TrustForwarded::Off`] it is
/// [`protected_resource_metadata`].
///
/// Turn it on only behind a proxy that sets those headers: without one, any client
/// chooses what they say. The verifier still accepts only the configured resource URI
/// (see [`VerifierBuilder::resource`](jwt_tower::VerifierBuilder::resource)).
///
/// ```
/// use axum::Router;
/// use jwt_axum::protected_resource_metadata_with;
/// use jwt_tower::ProtectedResourceMetadata;
/// use jwt_tower::resource::TrustForwarded;
///
/// let metadata = ProtectedResourceMetadata::builder("http://127.0.0.1:3100/mcp")
///     .authorization_servers(["https://auth.example.com"])
///     .build()?;
/// let behind_proxy = std::env::var("MCP_TRUST_FORWARDED").as_deref() == Ok("1");
/// let trust = if behind_proxy { TrustForwarded::On } else { TrustForwarded::Off };
/// let app: Router = Router::new().merge(protected_resource_metadata_with(&metadata, trust));
/// # Ok::<(), jwt_tower::ConfigError>(())
/// ```
pub fn protected_resource_metadata_with<S: Clone + Send + Sync + 'static>(
    metadata: &ProtectedResourceMetadata,
    trust: TrustForwarded,
) -> Router<S> {
    let handler = match trust {
        TrustForwarded::Off => fixed_document(metadata),
        TrustForwarded::On => forwarded_document(metadata),
    };
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

/// The same bytes for every request.
fn fixed_document<S: Clone + Send + Sync + 'static>(
    metadata: &ProtectedResourceMetadata,
) -> MethodRouter<S> {
    let body = json(metadata);
    get(move || {
        let body = body.clone();
        async move {
            let headers: [(HeaderName, HeaderValue); 2] = [
                (CONTENT_TYPE, HeaderValue::from_static("application/json")),
                (CACHE_CONTROL, HeaderValue::from_static(METADATA_MAX_AGE)),
            ];
            (headers, body)
        }
    })
}

/// The document as each request's trusted proxy reports the origin.
fn forwarded_document<S: Clone + Send + Sync + 'static>(
    metadata: &ProtectedResourceMetadata,
) -> MethodRouter<S> {
    let metadata = metadata.clone();
    get(move |request_headers: HeaderMap| {
        let body = json(&metadata.for_request(&request_headers, TrustForwarded::On));
        async move {
            let headers: [(HeaderName, HeaderValue); 3] = [
                (CONTENT_TYPE, HeaderValue::from_static("application/json")),
                (CACHE_CONTROL, HeaderValue::from_static(METADATA_MAX_AGE)),
                (VARY, HeaderValue::from_static(FORWARDING_HEADERS)),
            ];
            (headers, body)
        }
    })
}

/// The request headers a forwarded document depends on, for caches (`Vary`).
const FORWARDING_HEADERS: &str = "forwarded, x-forwarded-proto, x-forwarded-host";

fn json(metadata: &ProtectedResourceMetadata) -> Bytes {
    Bytes::from(
        serde_json::to_vec(metadata).expect("protected resource metadata serialises to JSON"),
    )
}
