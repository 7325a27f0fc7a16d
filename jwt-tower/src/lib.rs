//! JWT authentication for tower services.
//!
//! One [`JwtLayer`] in front of an axum router or a tonic server verifies bearer tokens
//! against hot-swappable, pre-parsed keys, applies a scope/role policy, and hands the
//! inner service a typed [`VerifiedToken`]. Refusals follow RFC 6750.
//!
//! The pieces, in the order a request meets them:
//! - [`token`]: find the token (`Authorization: Bearer`, a cookie, a header, a query
//!   parameter);
//! - [`verify`]: [`Verifier`] checks it (no HTTP in it: usable on its own);
//! - [`keys`]: the [`Keys`] it checks against, swappable at run time without a lock;
//! - `introspect` (feature `remote`): opaque tokens, checked by the authorization
//!   server's introspection endpoint (RFC 7662), cached;
//! - [`policy`]: scopes, roles, predicates;
//! - [`auth`]: the [`Authenticator`] tying them together, every adapter's one request
//!   path, and the tower [`JwtLayer`] applying it;
//! - [`reject`]: the HTTP form of an [`AuthError`];
//! - [`resource`]: the protected resource metadata (RFC 9728) a resource server
//!   publishes, and names in its challenges;
//! - [`mcp`]: MCP servers: scopes per tool, read from each JSON-RPC `tools/call`,
//!   sessions bound to their caller, the caller's token inside a tool;
//! - [`propagate`] (feature `propagate`): the caller's identity in scope while it is
//!   handled, and a client layer that forwards it (or a service token) to the next service.
//!
//! ```
//! use jwt_tower::{Algorithm, JwtLayer, Verifier, VerificationKey, RegisteredClaims};
//!
//! let key = VerificationKey::hmac(Algorithm::HS256, b"an-hmac-secret-of-at-least-32-bytes!")?;
//! let verifier = Verifier::<RegisteredClaims>::builder(key)
//!     .algorithms([Algorithm::HS256])
//!     .audience("my-api")
//!     .build()?;
//! let layer = JwtLayer::new(verifier).require_scopes(["read"]);
//! # let _ = layer;
//! # Ok::<(), jwt_tower::ConfigError>(())
//! ```
//!
//! # Features
//! - `remote` (default): [`jwks::RemoteJwks`], remote JWKS and OIDC discovery, and
//!   `introspect::Introspector`, token introspection (reqwest with rustls, tokio).
//! - `aws_lc_rs` (default): verify with aws-lc-rs, keys parsed once when loaded.
//! - `propagate` (default): [`propagate`], the identity in scope (a tokio task-local)
//!   and the client-side [`propagate::PropagateLayer`].
//! - `redis`: `store::RedisStore`, refresh families and revocations shared by a fleet
//!   through Redis (atomic Lua scripts, pub/sub with resync).
//! - `rmcp`: `mcp::Caller`, an rmcp tool parameter giving a tool the caller's verified
//!   token.
//! - `rust_crypto`: verify with the RustCrypto crates instead (no C code). When both
//!   are enabled, aws-lc-rs is used; with neither, the crate refuses to compile.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod algorithm;
pub mod auth;
mod clock;
pub mod confirmation;
mod crypto;
pub mod dpop;
mod error;
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub mod introspect;
#[cfg(feature = "aws_lc_rs")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws_lc_rs")))]
pub mod issue;
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub mod jwks;
pub mod keys;
pub mod mcp;
mod metrics;
pub mod oauth;
pub mod policy;
#[cfg(feature = "propagate")]
#[cfg_attr(docsrs, doc(cfg(feature = "propagate")))]
pub mod propagate;
#[cfg(feature = "aws_lc_rs")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws_lc_rs")))]
pub mod refresh;
pub mod reject;
pub mod resource;
pub mod revoke;
pub mod store;
pub mod token;
mod unread_body;
pub mod verify;

pub use algorithm::Algorithm;
pub use auth::{Authenticator, JwtLayer, JwtService};
pub use error::{AuthError, ConfigError, ErrorCategory, RejectionKind};
pub use keys::{KeySet, Keys, VerificationKey};
pub use metrics::MetricsSnapshot;
pub use policy::Policy;
pub use resource::ProtectedResourceMetadata;
pub use token::TokenSource;
pub use verify::{
    Actor, Audience, Confirmation, Identity, RegisteredClaims, TokenHeader, VerifiedToken,
    Verifier, VerifierBuilder,
};
