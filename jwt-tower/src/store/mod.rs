//! Where refresh-token families and revocations live: [`MemoryStore`] for one instance
//! (the embedded default), and, with the `redis` feature, a Redis store for fleets.
//!
//! Every store makes rotation atomic (two instances, or two requests, can never both
//! rotate one refresh token) and keeps the in-process [`Revocations`] of every instance
//! that [`follow`](Store::follow)s it in step.

mod memory;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{RedisStore, RedisStoreBuilder, RedisStoreStats};
pub use memory::{DEFAULT_MEMORY_CAPACITY, MemoryStore, MemoryStoreStats, SPENT_TOKENS_KEPT};

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::revoke::{Revocation, Revocations};

/// One login: a chain of refresh tokens, each replacing the last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Family {
    /// Random id.
    pub id: String,
    /// The subject the tokens are issued for.
    pub subject: String,
    /// The scope granted at login, carried to each new access token.
    pub scope: String,
    /// Seconds since the epoch.
    pub created_at: i64,
    /// The absolute end of the family, seconds since the epoch.
    pub expires_at: i64,
    /// The family ends when unused for this many seconds.
    pub idle_timeout: i64,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is now spent, and the new one is current.
    Rotated(Family),
    /// The token was already spent: someone replayed it, so the whole family is revoked
    /// (OAuth 2.0 Security BCP §4.14).
    Reused(Family),
    /// No such token (or its family was revoked).
    Unknown,
    /// The family passed its absolute lifetime or its idle timeout.
    Expired,
}

/// A store that cannot be reached. Refresh and logout answer 503; verification keeps
/// working on the in-process revocation list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store unavailable: {0}")]
pub struct StoreError(pub String);

/// Storage for refresh families and revocations. Token arguments are SHA-256 hashes:
/// stores never see a refresh token itself.
///
/// A store is usable as `Arc<dyn Store>`, so an application picks its store at run time
/// without a type parameter in every handler. Implement it with
/// [`#[async_trait]`](https://docs.rs/async-trait), which boxes the futures.
///
/// ```
/// use std::sync::Arc;
/// use jwt_tower::refresh::RefreshTokens;
/// use jwt_tower::store::{MemoryStore, Store};
///
/// let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
/// let refresh = RefreshTokens::new(store.clone());
/// # let _ = refresh;
/// ```
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Records a new family whose first token hashes to `token_hash`.
    async fn create_family(&self, family: &Family, token_hash: &str) -> Result<(), StoreError>;

    /// Atomically: if `presented` is current and its family alive at `now`, spend it and
    /// make `next` current; if it was already spent, revoke its family.
    async fn rotate(&self, presented: &str, next: &str, now: i64) -> Result<Rotation, StoreError>;

    /// Revokes the family of the token hashing to `token_hash` (logout). Returns it.
    async fn revoke_family(&self, token_hash: &str) -> Result<Option<Family>, StoreError>;

    /// Records a revocation and delivers it to every following instance.
    async fn revoke(&self, revocation: Revocation) -> Result<(), StoreError>;

    /// Every revocation still in force.
    async fn revocations(&self) -> Result<Vec<Revocation>, StoreError>;

    /// Keeps `list` in step with the store's revocations from now on (and fills it now).
    fn follow(&self, list: &Revocations);
}

/// A shared store is a store: `Arc<dyn Store>` (or `Arc<MemoryStore>`) goes wherever a
/// store does.
#[async_trait::async_trait]
impl<S: Store + ?Sized> Store for Arc<S> {
    async fn create_family(&self, family: &Family, token_hash: &str) -> Result<(), StoreError> {
        (**self).create_family(family, token_hash).await
    }

    async fn rotate(&self, presented: &str, next: &str, now: i64) -> Result<Rotation, StoreError> {
        (**self).rotate(presented, next, now).await
    }

    async fn revoke_family(&self, token_hash: &str) -> Result<Option<Family>, StoreError> {
        (**self).revoke_family(token_hash).await
    }

    async fn revoke(&self, revocation: Revocation) -> Result<(), StoreError> {
        (**self).revoke(revocation).await
    }

    async fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        (**self).revocations().await
    }

    fn follow(&self, list: &Revocations) {
        (**self).follow(list);
    }
}
