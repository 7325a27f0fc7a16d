//! [`AuthorizationCodes`]: issuing codes into a [`Store`] and redeeming them, once.

use std::sync::Arc;
use std::time::Duration;

use super::{AuthorizationCode, DEFAULT_CODE_LIFETIME, OAuthError};
use crate::clock::now;
use crate::issue::random_id;
use crate::refresh::token_hash;
use crate::store::{Store, StoreError};

/// Issues authorization codes (256-bit random, kept in the store only as hashes) and
/// redeems each at most once, whichever instance of a fleet the token request reaches.
///
/// ```
/// use jwt_tower::oauth::{AuthorizationCode, AuthorizationCodes, OAuthErrorCode, pkce};
/// use jwt_tower::store::MemoryStore;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let codes = AuthorizationCodes::new(MemoryStore::new());
/// let verifier = "a-verifier-of-at-least-43-characters-0123456789";
/// let code = codes.issue(AuthorizationCode {
///     client_id: "cli".into(),
///     redirect_uri: "http://127.0.0.1:9/cb".into(),
///     code_challenge: pkce::challenge_of(verifier),
///     resource: None,
///     dpop_jkt: None,
///     scope: "read".into(),
///     subject: "alice".into(),
///     expires_at: 0, // set by `issue`
/// }).await.unwrap();
///
/// let redeem = || codes.redeem(&code, "cli", Some("http://127.0.0.1:9/cb"), Some(verifier), None);
/// assert_eq!(redeem().await.unwrap().subject, "alice");
/// // Single use.
/// assert_eq!(redeem().await.unwrap_err().code(), OAuthErrorCode::InvalidGrant);
/// # });
/// ```
#[derive(Clone)]
pub struct AuthorizationCodes {
    store: Arc<dyn Store>,
    lifetime: Duration,
}

impl std::fmt::Debug for AuthorizationCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationCodes")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl AuthorizationCodes {
    /// Codes over `store`, redeemable for [`DEFAULT_CODE_LIFETIME`].
    pub fn new(store: impl Store) -> Self {
        Self {
            store: Arc::new(store),
            lifetime: DEFAULT_CODE_LIFETIME,
        }
    }

    /// How long a code can be redeemed (at least one second).
    #[must_use]
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime.max(Duration::from_secs(1));
        self
    }

    /// Stores `code`, expiring one lifetime from now (its `expires_at` is set here), and
    /// returns the code to hand to the client.
    ///
    /// # Errors
    /// When the store cannot be reached.
    pub async fn issue(&self, mut code: AuthorizationCode) -> Result<String, StoreError> {
        code.expires_at = now().saturating_add(self.lifetime.as_secs() as i64);
        let value = random_id(32);
        self.store.put_code(&token_hash(&value), &code).await?;
        Ok(value)
    }

    /// Takes the code out of the store (so it is spent whatever follows) and checks the
    /// token request against it ([`AuthorizationCode::check`]).
    ///
    /// # Errors
    /// `invalid_grant` for an unknown, spent or expired code and for each mismatch;
    /// `invalid_target` for another resource; `temporarily_unavailable` when the store
    /// cannot be reached.
    pub async fn redeem(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
        resource: Option<&str>,
    ) -> Result<AuthorizationCode, OAuthError> {
        let now = now();
        let record = if code.len() == 43 {
            let hash = token_hash(code);
            let record = self.store.take_code(&hash, now).await?;
            if record.is_none()
                && let Some(family_token) = self.store.spent_code(&hash, now).await?
            {
                // Redeemed before: the code leaked, so what it gave is revoked too.
                tracing::warn!("authorization code redeemed twice: its refresh family revoked");
                self.store.revoke_family(&family_token).await?;
            }
            record
        } else {
            None
        };
        let record = record.ok_or_else(|| {
            OAuthError::invalid_grant("the authorization code is unknown, spent or expired")
        })?;
        record.check(client_id, redirect_uri, code_verifier, resource, now)?;
        Ok(record)
    }
}

impl AuthorizationCodes {
    /// Remembers, until the code would have expired (`record.expires_at`), that `code`
    /// gave the refresh token `refresh_token`: a second redemption of the code then
    /// revokes that token's family (RFC 6749 §4.1.2).
    ///
    /// # Errors
    /// A [`StoreError`] when the store cannot be reached.
    pub async fn spent(
        &self,
        code: &str,
        record: &AuthorizationCode,
        refresh_token: &str,
    ) -> Result<(), StoreError> {
        self.store
            .mark_code_spent(
                &token_hash(code),
                &token_hash(refresh_token),
                record.expires_at,
            )
            .await
    }
}

/// A new client id: 128 random bits, base64url.
#[must_use]
pub fn new_client_id() -> String {
    random_id(16)
}
