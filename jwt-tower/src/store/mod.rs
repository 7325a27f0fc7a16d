//! Where refresh-token families and revocations live: [`MemoryStore`] for one instance
//! (the embedded default), and, with the `redis` feature, a Redis store for fleets.
//!
//! Every store makes rotation atomic (two instances, or two requests, can never both
//! rotate one refresh token) and keeps the in-process [`Revocations`] of every instance
//! that [`follow`](Store::follow)s it in step. Stores also keep the registered OAuth
//! clients and the authorization codes ([`crate::oauth`]), so that a fleet shares them:
//! a code is handed out by [`take_code`](Store::take_code) exactly once. They keep the
//! records of opaque access tokens ([`AccessTokenRecord`]), which only the authorization
//! server can read back, so that a token issued by one instance is active, and revoked,
//! on every instance.

mod access;
mod memory;
mod once;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{RedisStore, RedisStoreBuilder, RedisStoreStats};
pub use access::AccessTokenRecord;
pub use memory::{
    DEFAULT_MEMORY_ACCESS_TOKENS, DEFAULT_MEMORY_CAPACITY, DEFAULT_MEMORY_CLIENTS,
    DEFAULT_MEMORY_ONCE_MARKS, MemoryStore, MemoryStoreStats, SPENT_TOKENS_KEPT,
};

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::oauth::{AuthorizationCode, Client};
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
    /// The OAuth client the family was granted to (`/token`); `None` for a login of the
    /// server's own routes. A refresh for another client is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The audience (RFC 8707 resource) of the family's access tokens; `None`: the
    /// issuer's default audiences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The RFC 7638 thumbprint of the DPoP key the family is bound to (RFC 9449 §5):
    /// each refresh must carry a proof by that key. `None`: not bound (and every family
    /// stored before binding existed reads as unbound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
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

/// How long a registered OAuth client is kept unused, unless the store is told otherwise:
/// 30 days. Every look-up of the client renews it.
pub const DEFAULT_CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 24 * 3600);

/// Why [`Store::put_client`] did not register a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PutClientError {
    /// The store holds as many clients as it may (the number): a new one is refused,
    /// rather than evicting one in use, until unused ones expire.
    #[error("{0} OAuth clients registered: no room for more until unused ones expire")]
    Full(usize),
    /// The store cannot be reached.
    #[error(transparent)]
    Unavailable(#[from] StoreError),
}

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

    /// The family whose current (unspent) token hashes to `token_hash`, if it is neither
    /// revoked nor ended (past its absolute lifetime, or unused for its idle timeout);
    /// changes nothing. Token introspection answers from it. A caller checks a request against the family with it
    /// before [`rotate`](Self::rotate) spends the token, so that a refused request
    /// leaves the grant usable.
    ///
    /// The default knows no family: the caller then learns the family from the rotation.
    async fn current_family(&self, token_hash: &str) -> Result<Option<Family>, StoreError> {
        let _ = token_hash;
        Ok(None)
    }

    /// Revokes the family of the token hashing to `token_hash` (logout). Returns it.
    async fn revoke_family(&self, token_hash: &str) -> Result<Option<Family>, StoreError>;

    /// Records a revocation and delivers it to every following instance.
    async fn revoke(&self, revocation: Revocation) -> Result<(), StoreError>;

    /// Every revocation still in force.
    async fn revocations(&self) -> Result<Vec<Revocation>, StoreError>;

    /// Keeps `list` in step with the store's revocations from now on (and fills it now).
    fn follow(&self, list: &Revocations);

    /// Registers `client` at `now`, replacing any client of the same id. The store
    /// forgets it once unused for its client idle timeout (by default
    /// [`DEFAULT_CLIENT_IDLE_TIMEOUT`]): registration is open to anyone, so clients that
    /// are never used again must not fill the store for good.
    ///
    /// The default refuses: a store written before OAuth clients existed keeps none.
    async fn put_client(&self, client: &Client, now: i64) -> Result<(), PutClientError> {
        let _ = (client, now);
        Err(no_oauth().into())
    }

    /// The client registered as `client_id`, if it has not expired at `now`; the look-up
    /// is a use, and renews it for another idle timeout.
    async fn client(&self, client_id: &str, now: i64) -> Result<Option<Client>, StoreError> {
        let _ = (client_id, now);
        Err(no_oauth())
    }

    /// Stores an authorization code under `code_hash` (the SHA-256 of the code) until its
    /// `expires_at`.
    async fn put_code(&self, code_hash: &str, code: &AuthorizationCode) -> Result<(), StoreError> {
        let _ = (code_hash, code);
        Err(no_oauth())
    }

    /// Atomically removes and returns the code stored under `code_hash`, if it has not
    /// expired at `now`: of two requests presenting one code, one gets it.
    async fn take_code(
        &self,
        code_hash: &str,
        now: i64,
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        let _ = (code_hash, now);
        Err(no_oauth())
    }

    /// Remembers until `until` that the code hashing to `code_hash` was redeemed for the
    /// refresh family of the token hashing to `token_hash`, so that a second redemption
    /// revokes that family (RFC 6749 §4.1.2). Best effort: the default remembers nothing.
    async fn mark_code_spent(
        &self,
        code_hash: &str,
        token_hash: &str,
        until: i64,
    ) -> Result<(), StoreError> {
        let _ = (code_hash, token_hash, until);
        Ok(())
    }

    /// The token hash [`mark_code_spent`](Self::mark_code_spent) recorded for the code
    /// hashing to `code_hash`, if still remembered at `now`.
    async fn spent_code(&self, code_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        let _ = (code_hash, now);
        Ok(None)
    }

    /// Marks `value` as used until `until` (seconds since the epoch), atomically: of
    /// any number of calls marking one value before it expires, on any instance sharing
    /// the store, exactly one gets `true`. A DPoP proof's `jti` goes through here, so
    /// that a proof replayed against any instance of a fleet is refused.
    ///
    /// The default refuses: a store that cannot mark values cannot refuse a replay.
    async fn mark_once(&self, value: &str, until: i64, now: i64) -> Result<bool, StoreError> {
        let _ = (value, until, now);
        Err(StoreError(
            "this store keeps no one-time marks (DPoP proof replay)".to_owned(),
        ))
    }

    /// The secret named `name` that every instance sharing the store uses (to derive
    /// DPoP nonces any of them accepts): the first `candidate` offered for that name is
    /// kept, and every later call returns it. A caller offers a fresh random value.
    ///
    /// The default keeps nothing: each caller gets its own `candidate` back, which is
    /// right for one instance.
    async fn shared_secret(&self, name: &str, candidate: &str) -> Result<String, StoreError> {
        let _ = name;
        Ok(candidate.to_owned())
    }
    /// Keeps the record of an opaque access token under `token_hash` (the SHA-256 of the
    /// token) until its `expires_at`, for every instance sharing the store.
    ///
    /// The default refuses: a store written before opaque access tokens keeps none.
    async fn put_access_token(
        &self,
        token_hash: &str,
        record: &AccessTokenRecord,
    ) -> Result<(), StoreError> {
        let _ = (token_hash, record);
        Err(no_access_tokens())
    }

    /// The record kept under `token_hash`, if it has not expired at `now`.
    async fn access_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        let _ = (token_hash, now);
        Err(no_access_tokens())
    }

    /// Forgets the record kept under `token_hash` (the token is revoked on every instance
    /// sharing the store); returns it if it had not expired at `now`.
    async fn remove_access_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        let _ = (token_hash, now);
        Err(no_access_tokens())
    }
}

fn no_access_tokens() -> StoreError {
    StoreError("this store keeps no opaque access tokens".to_owned())
}

fn no_oauth() -> StoreError {
    StoreError("this store keeps no OAuth clients or codes".to_owned())
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

    async fn current_family(&self, token_hash: &str) -> Result<Option<Family>, StoreError> {
        (**self).current_family(token_hash).await
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

    async fn put_client(&self, client: &Client, now: i64) -> Result<(), PutClientError> {
        (**self).put_client(client, now).await
    }

    async fn client(&self, client_id: &str, now: i64) -> Result<Option<Client>, StoreError> {
        (**self).client(client_id, now).await
    }

    async fn put_code(&self, code_hash: &str, code: &AuthorizationCode) -> Result<(), StoreError> {
        (**self).put_code(code_hash, code).await
    }

    async fn take_code(
        &self,
        code_hash: &str,
        now: i64,
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        (**self).take_code(code_hash, now).await
    }

    async fn mark_code_spent(
        &self,
        code_hash: &str,
        token_hash: &str,
        until: i64,
    ) -> Result<(), StoreError> {
        (**self).mark_code_spent(code_hash, token_hash, until).await
    }

    async fn spent_code(&self, code_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        (**self).spent_code(code_hash, now).await
    }

    async fn mark_once(&self, value: &str, until: i64, now: i64) -> Result<bool, StoreError> {
        (**self).mark_once(value, until, now).await
    }

    async fn shared_secret(&self, name: &str, candidate: &str) -> Result<String, StoreError> {
        (**self).shared_secret(name, candidate).await
    }
    async fn put_access_token(
        &self,
        token_hash: &str,
        record: &AccessTokenRecord,
    ) -> Result<(), StoreError> {
        (**self).put_access_token(token_hash, record).await
    }

    async fn access_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        (**self).access_token(token_hash, now).await
    }

    async fn remove_access_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        (**self).remove_access_token(token_hash, now).await
    }
}

#[cfg(test)]
mod tests {
    use super::Family;

    #[test]
    fn a_family_stored_before_key_binding_reads_as_unbound() {
        let stored = r#"{"id":"f","subject":"alice","scope":"read","created_at":1,
            "expires_at":2,"idle_timeout":3,"client_id":"cli"}"#;
        let family: Family = serde_json::from_str(stored).unwrap();
        assert_eq!(family.jkt, None);
        assert_eq!(family.client_id.as_deref(), Some("cli"));
        // An unbound family is written without the member; a bound one keeps it.
        assert!(!serde_json::to_string(&family).unwrap().contains("jkt"));
        let bound = Family {
            jkt: Some("thumbprint".to_owned()),
            ..family
        };
        let again: Family = serde_json::from_str(&serde_json::to_string(&bound).unwrap()).unwrap();
        assert_eq!(again, bound);
    }
}
