//! Remote keys: a JWKS endpoint refreshed in the background ([`RemoteJwks`]), found
//! directly or through OIDC / RFC 8414 discovery ([`discover`]).
//!
//! What the request path sees is only the [`Keys`](crate::Keys) handle: an atomic pointer
//! load. Fetches happen in a background task; a request waits on one only when it is the
//! very first load (up to the start-up wait) or when its unknown `kid` was the one that
//! started a refresh. A flood of unknown `kid`s causes at most one fetch per cooldown,
//! and when the endpoint fails the last good set keeps serving.

mod discovery;
mod fetch;
mod remote;

pub use discovery::{DiscoveryError, discover};
pub use fetch::FetchError;
pub use remote::{RemoteJwks, RemoteJwksBuilder};

/// Counters of a [`RemoteJwks`].
pub type JwksStats = crate::keys::SourceStats;
