//! [`JwtLayer`]: configuration, cheap to clone, applied to a service.

use std::sync::Arc;

use tower_layer::Layer;

use super::{JwtService, Mode};
use crate::policy::Policy;
use crate::reject::DefaultRejection;
use crate::token::TokenExtractor;
use crate::{TokenSource, VerifiedToken, Verifier};

/// A tower layer that authenticates requests with a [`Verifier`].
///
/// ```
/// use jwt_tower::{Algorithm, JwtLayer, RegisteredClaims, TokenSource, Verifier, VerificationKey};
///
/// let verifier = Verifier::<RegisteredClaims>::builder(
///     VerificationKey::hmac(Algorithm::HS256, b"an-hmac-secret-of-at-least-32-bytes!")?,
/// )
/// .algorithms([Algorithm::HS256])
/// .build()?;
///
/// let layer = JwtLayer::new(verifier)
///     .token_sources([TokenSource::Bearer, TokenSource::cookie("access_token")])
///     .require_scopes(["orders:read"])
///     .realm("orders");
/// # let _ = layer;
/// # Ok::<(), jwt_tower::ConfigError>(())
/// ```
#[must_use]
pub struct JwtLayer<C, R = DefaultRejection> {
    pub(crate) verifier: Verifier<C>,
    pub(crate) extractor: TokenExtractor,
    pub(crate) mode: Mode,
    pub(crate) policy: Policy<C>,
    pub(crate) on_rejection: R,
}

impl<C, R: Clone> Clone for JwtLayer<C, R> {
    fn clone(&self) -> Self {
        Self {
            verifier: self.verifier.clone(),
            extractor: self.extractor.clone(),
            mode: self.mode,
            policy: self.policy.clone(),
            on_rejection: self.on_rejection.clone(),
        }
    }
}

impl<C, R> std::fmt::Debug for JwtLayer<C, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtLayer")
            .field("verifier", &self.verifier)
            .field("extractor", &self.extractor)
            .field("mode", &self.mode)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<C> JwtLayer<C> {
    /// A layer requiring a valid bearer token, answering refusals per RFC 6750.
    pub fn new(verifier: Verifier<C>) -> Self {
        Self {
            verifier,
            extractor: TokenExtractor::default(),
            mode: Mode::Required,
            policy: Policy::new(),
            on_rejection: DefaultRejection::default(),
        }
    }

    /// The realm named in `WWW-Authenticate` challenges (default `"api"`).
    pub fn realm(mut self, realm: &str) -> Self {
        self.on_rejection = self.on_rejection.realm(realm);
        self
    }
}

impl<C, R> JwtLayer<C, R> {
    /// Let requests without a token through, without identity. A token that is present
    /// must still be valid (an invalid one is 401), and the policy applies only to
    /// requests that carry one.
    pub fn optional(mut self) -> Self {
        self.mode = Mode::Optional;
        self
    }

    /// Where to look for the token (default: `Authorization: Bearer` only).
    pub fn token_sources(mut self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        self.extractor = TokenExtractor::new(sources);
        self
    }

    /// Replaces the whole policy.
    pub fn policy(mut self, policy: Policy<C>) -> Self {
        self.policy = policy;
        self
    }

    /// Requires every one of `scopes`.
    pub fn require_scopes<S: Into<Box<str>>>(
        mut self,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        self.policy = self.policy.require_scopes(scopes);
        self
    }

    /// Requires every one of `roles`.
    pub fn require_roles<S: Into<Box<str>>>(mut self, roles: impl IntoIterator<Item = S>) -> Self {
        self.policy = self.policy.require_roles(roles);
        self
    }

    /// Requires a predicate over the verified token.
    pub fn require(
        mut self,
        predicate: impl Fn(&VerifiedToken<C>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.policy = self.policy.require(predicate);
        self
    }

    /// Replaces the rejection response: any [`OnRejection`](crate::reject::OnRejection),
    /// such as a closure `Fn(&AuthError) -> Response<B> + Clone`.
    pub fn on_rejection<R2>(self, on_rejection: R2) -> JwtLayer<C, R2> {
        JwtLayer {
            verifier: self.verifier,
            extractor: self.extractor,
            mode: self.mode,
            policy: self.policy,
            on_rejection,
        }
    }

    /// The verifier this layer uses.
    pub fn verifier(&self) -> &Verifier<C> {
        &self.verifier
    }
}

impl<S, C, R: Clone> Layer<S> for JwtLayer<C, R> {
    type Service = JwtService<S, C, R>;

    fn layer(&self, inner: S) -> Self::Service {
        // Shared, not copied: a service is cloned for every request (axum's router does),
        // and one `Arc` costs less to clone and drop than the layer's four.
        JwtService {
            inner,
            layer: Arc::new(self.clone()),
        }
    }
}
