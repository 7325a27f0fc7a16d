//! [`OpaqueAccessTokens`]: access tokens that are random strings, whose claims only the
//! authorization server can read back from its [`Store`].

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::issue::random_id;
use crate::refresh::token_hash;
use crate::store::{AccessTokenRecord, Store, StoreError};

/// The length of an opaque access token: 256 random bits, base64url without padding.
pub const OPAQUE_TOKEN_LEN: usize = 43;

/// Issues opaque access tokens (256-bit random, base64url) and reads them back. The
/// store keeps each token's claims under the SHA-256 hash of the token, never the token
/// itself, until the token expires; every instance sharing the store reads the same
/// records, and a token removed on one is unknown on all.
///
/// A resource server cannot check such a token by itself: it asks the authorization
/// server (RFC 7662 introspection), which answers from [`active`](Self::active).
///
/// ```
/// use jwt_tower::oauth::OpaqueAccessTokens;
/// use jwt_tower::store::MemoryStore;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let tokens = OpaqueAccessTokens::new(MemoryStore::new());
/// let mut claims = serde_json::Map::new();
/// claims.insert("sub".into(), "alice".into());
/// let token = tokens.issue(claims, i64::MAX).await.unwrap();
/// assert_eq!(token.len(), 43);
/// let found = tokens.active(&token).await.unwrap().unwrap();
/// assert_eq!(found["sub"], "alice");
/// assert!(tokens.revoke(&token).await.unwrap().is_some());
/// assert_eq!(tokens.active(&token).await.unwrap(), None);
/// # });
/// ```
#[derive(Clone)]
pub struct OpaqueAccessTokens {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for OpaqueAccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpaqueAccessTokens").finish_non_exhaustive()
    }
}

/// Whether `token` has the shape of an opaque access token (so that a JWT or a refresh
/// token of another length costs no store look-up).
fn has_opaque_shape(token: &str) -> bool {
    token.len() == OPAQUE_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl OpaqueAccessTokens {
    /// Opaque access tokens kept in `store` (any [`Store`], an `Arc<dyn Store>` included).
    pub fn new(store: impl Store) -> Self {
        Self {
            store: Arc::new(store),
        }
    }

    /// A new token standing for `claims` until `expires_at` (seconds since the epoch).
    ///
    /// # Errors
    /// When the store cannot be reached or keeps no access tokens.
    pub async fn issue(
        &self,
        claims: Map<String, Value>,
        expires_at: i64,
    ) -> Result<String, StoreError> {
        let token = random_id(32);
        let record = AccessTokenRecord { claims, expires_at };
        self.store
            .put_access_token(&token_hash(&token), &record)
            .await?;
        Ok(token)
    }

    /// The claims of `token`, if it was issued here, has not expired and was not revoked.
    ///
    /// # Errors
    /// When the store cannot be reached.
    pub async fn active(&self, token: &str) -> Result<Option<Map<String, Value>>, StoreError> {
        if !has_opaque_shape(token) {
            return Ok(None);
        }
        let record = self
            .store
            .access_token(&token_hash(token), crate::clock::now())
            .await?;
        Ok(record.map(|record| record.claims))
    }

    /// Revokes `token` on every instance sharing the store; returns its claims if it was
    /// active.
    ///
    /// # Errors
    /// When the store cannot be reached.
    pub async fn revoke(&self, token: &str) -> Result<Option<Map<String, Value>>, StoreError> {
        if !has_opaque_shape(token) {
            return Ok(None);
        }
        let record = self
            .store
            .remove_access_token(&token_hash(token), crate::clock::now())
            .await?;
        Ok(record.map(|record| record.claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn an_expired_or_misshapen_token_is_not_active() {
        block_on(async {
            let tokens = OpaqueAccessTokens::new(MemoryStore::new());
            let expired = tokens.issue(Map::new(), 1).await.unwrap();
            assert_eq!(tokens.active(&expired).await.unwrap(), None);
            let live = tokens.issue(Map::new(), i64::MAX).await.unwrap();
            assert!(tokens.active(&live).await.unwrap().is_some());
            assert_eq!(tokens.active(&format!("{live}x")).await.unwrap(), None);
            assert_eq!(tokens.active("a.b.c").await.unwrap(), None);
            assert_ne!(live, tokens.issue(Map::new(), i64::MAX).await.unwrap());
        });
    }

    #[test]
    fn a_store_without_access_tokens_refuses_to_issue() {
        struct Bare;
        #[async_trait::async_trait]
        impl Store for Bare {
            async fn create_family(
                &self,
                _: &crate::store::Family,
                _: &str,
            ) -> Result<(), StoreError> {
                Ok(())
            }
            async fn rotate(
                &self,
                _: &str,
                _: &str,
                _: i64,
            ) -> Result<crate::store::Rotation, StoreError> {
                Ok(crate::store::Rotation::Unknown)
            }
            async fn revoke_family(
                &self,
                _: &str,
            ) -> Result<Option<crate::store::Family>, StoreError> {
                Ok(None)
            }
            async fn revoke(&self, _: crate::revoke::Revocation) -> Result<(), StoreError> {
                Ok(())
            }
            async fn revocations(&self) -> Result<Vec<crate::revoke::Revocation>, StoreError> {
                Ok(Vec::new())
            }
            fn follow(&self, _: &crate::revoke::Revocations) {}
        }
        block_on(async {
            let tokens = OpaqueAccessTokens::new(Bare);
            assert!(tokens.issue(Map::new(), i64::MAX).await.is_err());
        });
    }
}
