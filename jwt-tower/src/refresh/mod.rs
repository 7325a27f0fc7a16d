//! Refresh tokens: opaque, 256-bit random, stored only as hashes, grouped in families
//! (one login, one family) with an absolute lifetime and an idle timeout. Each use
//! rotates the token; reusing a spent one revokes the whole family.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::clock::now;
use crate::issue::random_id;
use crate::revoke::Revocations;
use crate::store::{Family, Rotation, Store, StoreError};

/// Why a refresh token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// Unknown, revoked or malformed token.
    #[error("the refresh token is invalid")]
    Invalid,
    /// The family passed its lifetime or idle timeout.
    #[error("the refresh token has expired")]
    Expired,
    /// A spent token was presented again: the whole family is now revoked.
    #[error("the refresh token was already used; its login has been revoked")]
    Reused,
    /// The family is bound to a DPoP key (RFC 9449 §5) and the request proved another
    /// key, or none.
    #[error("the refresh token is bound to a DPoP key the request did not prove")]
    KeyMismatch,
    /// The store could not be reached.
    #[error(transparent)]
    Unavailable(#[from] StoreError),
}

/// A new refresh token (hand it to the client) and its family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshGrant {
    /// The opaque token; the store only keeps its hash.
    pub token: String,
    /// The family it belongs to.
    pub family: Family,
}

/// Issues and rotates refresh tokens over a [`Store`].
///
/// ```
/// use jwt_tower::refresh::{RefreshError, RefreshTokens};
/// use jwt_tower::store::MemoryStore;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let refresh = RefreshTokens::new(MemoryStore::new());
/// let first = refresh.start("alice", "read").await.unwrap();
/// let second = refresh.rotate(&first.token).await.unwrap();
/// assert_eq!(second.family.subject, "alice");
/// // Replaying the spent token revokes the family, the current token included.
/// assert_eq!(refresh.rotate(&first.token).await, Err(RefreshError::Reused));
/// assert_eq!(refresh.rotate(&second.token).await, Err(RefreshError::Invalid));
/// # });
/// ```
#[derive(Clone)]
pub struct RefreshTokens {
    store: Arc<dyn Store>,
    lifetime: Duration,
    idle_timeout: Duration,
    revocations: Option<Revocations>,
}

/// The hash under which a token is stored: SHA-256, base64url. The tokens are 256-bit
/// random values, so no salt or slow hash is needed to make the hash useless to a thief.
#[must_use]
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        token.as_bytes(),
    ))
}

impl fmt::Debug for RefreshTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokens")
            .field("lifetime", &self.lifetime)
            .field("idle_timeout", &self.idle_timeout)
            .field("revocations", &self.revocations)
            .finish_non_exhaustive()
    }
}

impl RefreshTokens {
    /// Refresh tokens over `store` (any [`Store`], an `Arc<dyn Store>` included):
    /// families live 30 days at most, and end after 7 days unused.
    pub fn new(store: impl Store) -> Self {
        Self {
            store: Arc::new(store),
            lifetime: Duration::from_secs(30 * 86_400),
            idle_timeout: Duration::from_secs(7 * 86_400),
            revocations: None,
        }
    }

    /// Refuse families of subjects revoked after the family started ("logout
    /// everywhere", a password change), from this in-process list.
    #[must_use]
    pub fn revocations(mut self, revocations: Revocations) -> Self {
        self.revocations = Some(revocations);
        self
    }

    /// The absolute lifetime of a family.
    #[must_use]
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// How long a family may go unused.
    #[must_use]
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Starts a family (a login) for `subject` with `scope`; returns its first token.
    ///
    /// # Errors
    /// [`RefreshError::Unavailable`] when the store cannot be reached.
    pub async fn start(&self, subject: &str, scope: &str) -> Result<RefreshGrant, RefreshError> {
        self.start_family(subject, scope, None, None, None).await
    }

    /// Starts a family for the OAuth client `client_id` (its refresh tokens are refused
    /// to any other client, and to [`rotate`](Self::rotate)), whose access tokens are
    /// for `audience` (`None`: the issuer's default audiences).
    ///
    /// ```
    /// use jwt_tower::refresh::{RefreshError, RefreshTokens};
    /// use jwt_tower::store::MemoryStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let refresh = RefreshTokens::new(MemoryStore::new());
    /// let first = refresh
    ///     .start_for_client("alice", "read", "cli", Some("https://mcp.example.com/mcp"))
    ///     .await
    ///     .unwrap();
    /// let next = refresh.rotate_for_client(&first.token, "cli").await.unwrap();
    /// assert_eq!(next.family.audience.as_deref(), Some("https://mcp.example.com/mcp"));
    /// // Another client presenting it: refused, and the family is revoked.
    /// assert_eq!(refresh.rotate_for_client(&next.token, "other").await, Err(RefreshError::Invalid));
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`RefreshError::Unavailable`] when the store cannot be reached.
    pub async fn start_for_client(
        &self,
        subject: &str,
        scope: &str,
        client_id: &str,
        audience: Option<&str>,
    ) -> Result<RefreshGrant, RefreshError> {
        self.start_family(subject, scope, Some(client_id), audience, None)
            .await
    }

    /// As [`start_for_client`](Self::start_for_client), with the family bound to the
    /// DPoP key whose RFC 7638 thumbprint is `jkt` (RFC 9449 §5), when one is given:
    /// [`rotate_for_client_with_key`](Self::rotate_for_client_with_key) then refuses a
    /// refresh that does not prove that key.
    ///
    /// ```
    /// use jwt_tower::refresh::{RefreshError, RefreshTokens};
    /// use jwt_tower::store::MemoryStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let refresh = RefreshTokens::new(MemoryStore::new());
    /// let first = refresh
    ///     .start_for_client_with_key("alice", "read", "cli", None, Some("key-thumbprint"))
    ///     .await
    ///     .unwrap();
    /// assert_eq!(first.family.jkt.as_deref(), Some("key-thumbprint"));
    /// let next = refresh
    ///     .rotate_for_client_with_key(&first.token, "cli", Some("key-thumbprint"))
    ///     .await
    ///     .unwrap();
    /// // Without a proof of the key: refused.
    /// assert_eq!(
    ///     refresh.rotate_for_client_with_key(&next.token, "cli", None).await,
    ///     Err(RefreshError::KeyMismatch)
    /// );
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`RefreshError::Unavailable`] when the store cannot be reached.
    pub async fn start_for_client_with_key(
        &self,
        subject: &str,
        scope: &str,
        client_id: &str,
        audience: Option<&str>,
        jkt: Option<&str>,
    ) -> Result<RefreshGrant, RefreshError> {
        self.start_family(subject, scope, Some(client_id), audience, jkt)
            .await
    }

    async fn start_family(
        &self,
        subject: &str,
        scope: &str,
        client_id: Option<&str>,
        audience: Option<&str>,
        jkt: Option<&str>,
    ) -> Result<RefreshGrant, RefreshError> {
        let now = now();
        let family = Family {
            id: random_id(16),
            subject: subject.to_owned(),
            scope: scope.to_owned(),
            created_at: now,
            expires_at: now + self.lifetime.as_secs() as i64,
            idle_timeout: self.idle_timeout.as_secs() as i64,
            client_id: client_id.map(str::to_owned),
            audience: audience.map(str::to_owned),
            jkt: jkt.map(str::to_owned),
        };
        let token = random_id(32);
        self.store
            .create_family(&family, &token_hash(&token))
            .await?;
        Ok(RefreshGrant { token, family })
    }

    /// Spends `token` and returns its successor. Exactly one of two concurrent uses of
    /// one token wins; the other is treated as reuse. A token of a family started for an
    /// OAuth client ([`start_for_client`](Self::start_for_client)) is refused here.
    ///
    /// # Errors
    /// [`RefreshError::Invalid`], [`Expired`](RefreshError::Expired),
    /// [`Reused`](RefreshError::Reused) (the family is now revoked) or
    /// [`Unavailable`](RefreshError::Unavailable).
    pub async fn rotate(&self, token: &str) -> Result<RefreshGrant, RefreshError> {
        self.rotate_bound(token, None, None).await
    }

    /// As [`rotate`](Self::rotate), for the OAuth client `client_id`: a token of a family
    /// started for another client (or for none), or bound to a DPoP key, is refused.
    ///
    /// # Errors
    /// As [`rotate`](Self::rotate).
    pub async fn rotate_for_client(
        &self,
        token: &str,
        client_id: &str,
    ) -> Result<RefreshGrant, RefreshError> {
        self.rotate_bound(token, Some(client_id), None).await
    }

    /// As [`rotate_for_client`](Self::rotate_for_client), for a request that proved the
    /// DPoP key whose thumbprint is `jkt` (`None`: no proof): a family bound to a key
    /// ([`start_for_client_with_key`](Self::start_for_client_with_key)) is refused
    /// unless it is that key. Like a refresh by another client, the refusal comes after
    /// the store has spent the token, so the family is revoked: look the family up with
    /// [`current_family`](Self::current_family) first to refuse without spending it.
    ///
    /// # Errors
    /// As [`rotate`](Self::rotate), and [`RefreshError::KeyMismatch`].
    pub async fn rotate_for_client_with_key(
        &self,
        token: &str,
        client_id: &str,
        jkt: Option<&str>,
    ) -> Result<RefreshGrant, RefreshError> {
        self.rotate_bound(token, Some(client_id), jkt).await
    }

    /// Rotates `token` if its family belongs to `client_id` and is bound to no DPoP key
    /// or to the one `proved`. The family's client is known
    /// only once the store has rotated the token atomically; a token presented by the
    /// wrong party has then been spent by it, so the family is revoked, as for a replay
    /// (OAuth 2.0 Security BCP §4.14: a refresh token in the wrong hands).
    async fn rotate_bound(
        &self,
        token: &str,
        client_id: Option<&str>,
        proved: Option<&str>,
    ) -> Result<RefreshGrant, RefreshError> {
        if token.len() != 43 {
            return Err(RefreshError::Invalid);
        }
        let next = random_id(32);
        match self
            .store
            .rotate(&token_hash(token), &token_hash(&next), now())
            .await?
        {
            Rotation::Rotated(family) => {
                // A subject revoked after this family started ("logout everywhere", a
                // password change) ends the family too.
                let revoked = self.revocations.as_ref().is_some_and(|list| {
                    list.is_revoked(None, Some(&family.subject), Some(family.created_at))
                });
                if revoked {
                    self.store.revoke_family(&token_hash(&next)).await?;
                    return Err(RefreshError::Invalid);
                }
                if family.client_id.as_deref() != client_id {
                    tracing::warn!(family = %family.id, "refresh token presented by another client: family revoked");
                    self.store.revoke_family(&token_hash(&next)).await?;
                    return Err(RefreshError::Invalid);
                }
                if let Some(bound) = family.jkt.as_deref()
                    && proved != Some(bound)
                {
                    tracing::warn!(family = %family.id, "key-bound refresh token without a proof of its key: family revoked");
                    self.store.revoke_family(&token_hash(&next)).await?;
                    return Err(RefreshError::KeyMismatch);
                }
                Ok(RefreshGrant {
                    token: next,
                    family,
                })
            }
            Rotation::Reused(family) => {
                tracing::warn!(family = %family.id, "refresh token reused: family revoked");
                Err(RefreshError::Reused)
            }
            Rotation::Unknown => Err(RefreshError::Invalid),
            Rotation::Expired => Err(RefreshError::Expired),
        }
    }

    /// The family `token` would rotate, looked up without spending it: `None` when the
    /// token is unknown, spent, or its family revoked or ended (and with a store that
    /// cannot look families up). A request refused after checking it leaves the token
    /// usable.
    ///
    /// ```
    /// use jwt_tower::refresh::RefreshTokens;
    /// use jwt_tower::store::MemoryStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let refresh = RefreshTokens::new(MemoryStore::new());
    /// let grant = refresh.start("alice", "read").await.unwrap();
    /// let family = refresh.current_family(&grant.token).await.unwrap().unwrap();
    /// assert_eq!(family.scope, "read");
    /// // Looking did not spend it.
    /// assert!(refresh.rotate(&grant.token).await.is_ok());
    /// assert_eq!(refresh.current_family(&grant.token).await, Ok(None));
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`RefreshError::Unavailable`] when the store cannot be reached.
    pub async fn current_family(&self, token: &str) -> Result<Option<Family>, RefreshError> {
        if token.len() != 43 {
            return Ok(None);
        }
        Ok(self.store.current_family(&token_hash(token)).await?)
    }

    /// Revokes the family of `token` (logout). Returns it, if the token was known.
    ///
    /// # Errors
    /// [`RefreshError::Unavailable`] when the store cannot be reached.
    pub async fn revoke(&self, token: &str) -> Result<Option<Family>, RefreshError> {
        Ok(self.store.revoke_family(&token_hash(token)).await?)
    }
}
