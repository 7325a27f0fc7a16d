//! A token that passed verification: the caller's claims, and the [`Identity`] facts
//! every adapter needs without knowing the claims type.

use std::sync::Arc;

use super::header::TokenHeader;

/// The facts of a verified token that do not depend on the claims type: header, raw
/// token, `sub`, `iss`, `jti`, times, scopes and roles.
pub(crate) struct Facts {
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

pub(crate) struct Inner<C> {
    pub(crate) facts: Facts,
    pub(crate) claims: C,
}

trait HasFacts: Send + Sync {
    fn facts(&self) -> &Facts;
}

impl<C: Send + Sync> HasFacts for Inner<C> {
    fn facts(&self) -> &Facts {
        &self.facts
    }
}

/// A verified token: the caller's claims type `C` plus its [`Identity`].
///
/// It is cheap to clone (an `Arc`) whatever `C` is, so it can sit in request extensions.
///
/// ```
/// # use jwt_tower::{Algorithm, RegisteredClaims, Verifier, VerificationKey};
/// # let secret = [7u8; 32];
/// # let verifier = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, secret)?)
/// #     .algorithms([Algorithm::HS256]).build()?;
/// # let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(),
/// #     &serde_json::json!({"sub": "alice", "scope": "read write", "exp": 4_000_000_000u64}),
/// #     &jsonwebtoken::EncodingKey::from_secret(&secret)).unwrap();
/// let verified = verifier.verify(&token).unwrap();
/// assert_eq!(verified.claims().sub.as_deref(), Some("alice"));
/// assert_eq!(verified.identity().subject(), Some("alice"));
/// assert!(verified.identity().has_scope("write"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct VerifiedToken<C> {
    inner: Arc<Inner<C>>,
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
            .field("header", &self.inner.facts.header)
            .field("claims", &self.inner.claims)
            .finish_non_exhaustive()
    }
}

impl<C> VerifiedToken<C> {
    pub(crate) fn new(facts: Facts, claims: C) -> Self {
        Self {
            inner: Arc::new(Inner { facts, claims }),
        }
    }

    /// The claims, deserialized once into `C`.
    #[must_use]
    pub fn claims(&self) -> &C {
        &self.inner.claims
    }

    /// The claims by value, without a clone when this is the only handle on the token;
    /// the token back otherwise.
    ///
    /// # Errors
    /// `Err(self)` when the token is shared (cloned, or its [`Identity`] is alive).
    pub fn try_into_claims(self) -> Result<C, Self> {
        Arc::try_unwrap(self.inner)
            .map(|inner| inner.claims)
            .map_err(|inner| Self { inner })
    }

    /// The token's header.
    #[must_use]
    pub fn header(&self) -> &TokenHeader {
        &self.inner.facts.header
    }

    /// The raw token, for forwarding it to the next service. Treat it as a secret.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.inner.facts.token
    }

    /// `sub`, if present.
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        self.inner.facts.subject.as_deref()
    }

    /// Whether `scope` was granted.
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        has(&self.inner.facts.scopes, scope)
    }

    /// Whether `role` was granted.
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        has(&self.inner.facts.roles, role)
    }
}

impl<C: Send + Sync + 'static> VerifiedToken<C> {
    /// The claims-type-free view of this token (shares the same allocation).
    #[must_use]
    pub fn identity(&self) -> Identity {
        Identity {
            inner: Arc::clone(&self.inner) as Arc<dyn HasFacts>,
        }
    }
}

fn has(list: &[Box<str>], item: &str) -> bool {
    list.iter().any(|s| &**s == item)
}

/// Who the caller is, whatever the claims type: the layer puts one in every
/// authenticated request's extensions, beside the typed [`VerifiedToken`]. Route guards
/// and identity propagation read this one.
#[derive(Clone)]
pub struct Identity {
    inner: Arc<dyn HasFacts>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("subject", &self.subject())
            .field("issuer", &self.issuer())
            .field("scopes", &self.scopes())
            .finish_non_exhaustive()
    }
}

impl Identity {
    fn facts(&self) -> &Facts {
        self.inner.facts()
    }

    /// The token's header.
    #[must_use]
    pub fn header(&self) -> &TokenHeader {
        &self.facts().header
    }

    /// The raw token, for forwarding it to the next service. Treat it as a secret.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.facts().token
    }

    /// `sub`, if present.
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        self.facts().subject.as_deref()
    }

    /// `iss`, if present.
    #[must_use]
    pub fn issuer(&self) -> Option<&str> {
        self.facts().issuer.as_deref()
    }

    /// `jti`, if present.
    #[must_use]
    pub fn token_id(&self) -> Option<&str> {
        self.facts().token_id.as_deref()
    }

    /// `exp`, seconds since the epoch, if present.
    #[must_use]
    pub fn expires_at(&self) -> Option<i64> {
        self.facts().expires_at
    }

    /// `iat`, seconds since the epoch, if present.
    #[must_use]
    pub fn issued_at(&self) -> Option<i64> {
        self.facts().issued_at
    }

    /// The scopes granted: `scope` split on spaces, plus `scp` (string or array).
    #[must_use]
    pub fn scopes(&self) -> &[Box<str>] {
        &self.facts().scopes
    }

    /// Whether `scope` was granted.
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        has(&self.facts().scopes, scope)
    }

    /// The roles granted (the `roles` claim by default; see
    /// [`VerifierBuilder::roles_claim`](crate::VerifierBuilder::roles_claim)).
    #[must_use]
    pub fn roles(&self) -> &[Box<str>] {
        &self.facts().roles
    }

    /// Whether `role` was granted.
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        has(&self.facts().roles, role)
    }
}
