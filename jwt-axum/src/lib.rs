//! axum integration for [`jwt_tower`]: extractors for verified claims, an RFC 6750
//! rejection that implements `IntoResponse`, route-level scope guards, and the
//! protected resource metadata (RFC 9728) router, [`protected_resource_metadata`].
//!
//! Put a [`JwtLayer`](jwt_tower::JwtLayer) on the router, then take [`Claims<C>`] in
//! handlers:
//!
//! ```
//! use axum::{routing::get, Json, Router};
//! use jwt_axum::{Claims, RequireScopes};
//! use jwt_tower::{Algorithm, JwtLayer, Verifier, VerificationKey};
//! use serde::Deserialize;
//!
//! #[derive(Clone, Deserialize)]
//! struct MyClaims { sub: String }
//!
//! async fn me(Claims(claims): Claims<MyClaims>) -> String {
//!     claims.sub
//! }
//!
//! let verifier = Verifier::<MyClaims>::builder(
//!     VerificationKey::hmac(Algorithm::HS256, b"an-hmac-secret-of-at-least-32-bytes!")?,
//! )
//! .algorithms([Algorithm::HS256])
//! .build()?;
//!
//! let app: Router = Router::new()
//!     .route("/admin", get(me).route_layer(RequireScopes::new(["admin"])))
//!     .route("/me", get(me))
//!     .layer(JwtLayer::new(verifier));
//! # Ok::<(), jwt_tower::ConfigError>(())
//! ```
//!
//! Without a layer, [`StateClaims<C>`] verifies from a [`Verifier`](jwt_tower::Verifier)
//! in the router's state.
//!
//! # Layer order
//!
//! `.layer(jwt)` wraps everything added before it, unknown paths included (a request
//! there without a token is 401); `.route_layer(jwt)` covers only the routes' paths, so
//! unknown paths stay 404, and routes added after either call are open. CORS goes
//! outside: add tower-http's `CorsLayer` *after* the JWT layer, so it answers preflights
//! (which browsers send without credentials) and labels refusals too. With it inside,
//! call [`JwtLayer::allow_cors_preflight`](jwt_tower::JwtLayer::allow_cors_preflight).
//!
//! ```
//! # use axum::{routing::get, Router};
//! # use jwt_tower::{Algorithm, JwtLayer, RegisteredClaims, Verifier, VerificationKey};
//! # let verifier = Verifier::<RegisteredClaims>::builder(
//! #     VerificationKey::hmac(Algorithm::HS256, b"an-hmac-secret-of-at-least-32-bytes!")?,
//! # ).algorithms([Algorithm::HS256]).build()?;
//! let app: Router = Router::new()
//!     .route("/me", get(|| async { "me" }))
//!     .route_layer(JwtLayer::new(verifier)) // /me needs a token; /nowhere is still 404
//!     .route("/health", get(|| async { "ok" })); // added after: open
//! # Ok::<(), jwt_tower::ConfigError>(())
//! ```
//!
//! # Features
//! `aws_lc_rs` (default) and `rust_crypto` select jwt-tower's crypto backend.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod claims;
mod cookie;
mod guard;
mod rejection;
mod resource_metadata;
mod state;
#[cfg(feature = "aws_lc_rs")]
mod well_known;

pub use claims::{Authenticated, Claims, CurrentIdentity};
pub use cookie::RefreshCookie;
pub use guard::{RequireScopes, RequireScopesService};
pub use rejection::AuthRejection;
pub use resource_metadata::{protected_resource_metadata, protected_resource_metadata_with};
pub use state::StateClaims;
#[cfg(feature = "aws_lc_rs")]
pub use well_known::{jwks_response, well_known};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
