//! How a [`Keys`](super::Keys) handle asks its source for fresh keys, without ever
//! blocking the request path on a fetch it did not start.

use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

/// A future a request may wait on for new keys; it resolves when the fetch it waits for
/// has finished (successfully or not) or a deadline has passed.
pub type KeysWait = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Where a live key set comes from, when it can be refreshed (a remote JWKS).
///
/// The verifier calls these only on its slow paths; each returns `None` when the request
/// must not wait (for a remote JWKS: no fetch in flight and the cooldown has not passed),
/// and the request is then refused at once.
pub(crate) trait KeySource: Send + Sync + std::fmt::Debug {
    /// A token named a key the set does not hold. The source may start a fetch, or let
    /// the request join one in flight; the request waits, then is verified again.
    fn unknown_kid(&self) -> Option<KeysWait>;

    /// No set has been loaded yet. The request may wait for the first load, up to the
    /// source's start-up wait.
    fn unloaded(&self) -> Option<KeysWait>;

    /// The source's counters.
    fn stats(&self) -> SourceStats;
}

/// Counters of a refreshing key source (a remote JWKS).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SourceStats {
    /// Successful fetches.
    pub fetches_ok: u64,
    /// Failed fetches.
    pub fetches_failed: u64,
    /// When the last fetch succeeded.
    pub last_success: Option<SystemTime>,
    /// Keys in the current set (0 when none is loaded).
    pub key_count: usize,
    /// Whether the latest fetch failed (the set in use, if any, is stale).
    pub failing: bool,
}
