//! A token that passed verification: claims, header, raw token and identity facts.

use std::sync::Arc;

use super::header::TokenHeader;

/// A verified token: the caller's claims type `C`, the header, the raw token (to forward
/// it), and the registered facts every adapter needs (`sub`, `iss`, `jti`, scopes, roles).
///
/// It is cheap to clone (an `Arc`) whatever `C` is, so it can sit in request extensions.
///
/// ```
/// # use jwt_tower::{Algorithm, KeySet, RegisteredClaims, Verifier, VerificationKey};
/// # let secret = [7u8; 32];
/// # let verifier = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, secret)?)
/// #     .algorithms([Algorithm::HS256]).build()?;
/// # let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(),
/// #     &serde_json::json!({"sub": "alice", "scope": "read write", "exp": 4_000_000_000u64}),
/// #     &jsonwebtoken::EncodingKey::from_secret(&secret)).unwrap();
/// let verified = verifier.verify(&token).unwrap();
/// assert_eq!(verified.subject(), Some("alice"));
/// assert!(verified.has_scope("write"));
/// assert_eq!(verified.claims().sub.as_deref(), Some("alice"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct VerifiedToken<C> {
    inner: Arc<Inner<C>>,
}

pub(crate) struct Inner<C> {
    pub(crate) claims: C,
    pub(crate) header: TokenHeader,
    pub(crate) token: Box<str>,
    pub(crate) subject: Option<Box<str>>,
    pub(crate) issuer: Option<Box<str>>,
    pub(crate) token_id: Option<Box<str>>,
    pub(crate) expires_at: Option<i64>,
    pub(crate) issued_at: Option<i64>,
    pub(crate) scopes: Box<[Box<str>]>,
    pub(crate) roles: Box<[Box<str>]>,
}

impl<C> Clone for VerifiedToken<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C: std::fmt::Debug> std::fmt::Debug for VerifiedToken<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The raw token is a credential: never in logs.
        f.debug_struct("VerifiedToken")
            .field("header", &self.inner.header)
            .field("claims", &self.inner.claims)
            .finish_non_exhaustive()
    }
}

impl<C> VerifiedToken<C> {
    pub(crate) fn new(inner: Inner<C>) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The claims, deserialized once into `C`.
    #[must_use]
    pub fn claims(&self) -> &C {
        &self.inner.claims
    }

    /// The token's header.
    #[must_use]
    pub fn header(&self) -> &TokenHeader {
        &self.inner.header
    }

    /// The raw token, for forwarding it to the next service. Treat it as a secret.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.inner.token
    }

    /// `sub`, if present.
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        self.inner.subject.as_deref()
    }

    /// `iss`, if present.
    #[must_use]
    pub fn issuer(&self) -> Option<&str> {
        self.inner.issuer.as_deref()
    }

    /// `jti`, if present.
    #[must_use]
    pub fn token_id(&self) -> Option<&str> {
        self.inner.token_id.as_deref()
    }

    /// `exp`, seconds since the epoch, if present.
    #[must_use]
    pub fn expires_at(&self) -> Option<i64> {
        self.inner.expires_at
    }

    /// `iat`, seconds since the epoch, if present.
    #[must_use]
    pub fn issued_at(&self) -> Option<i64> {
        self.inner.issued_at
    }

    /// The scopes granted: `scope` split on spaces, plus `scp` (string or array).
    #[must_use]
    pub fn scopes(&self) -> &[Box<str>] {
        &self.inner.scopes
    }

    /// Whether `scope` was granted.
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        self.inner.scopes.iter().any(|s| &**s == scope)
    }

    /// The roles granted (the `roles` claim by default; see
    /// [`VerifierBuilder::roles_claim`](crate::VerifierBuilder::roles_claim)).
    #[must_use]
    pub fn roles(&self) -> &[Box<str>] {
        &self.inner.roles
    }

    /// Whether `role` was granted.
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        self.inner.roles.iter().any(|r| &**r == role)
    }
}
