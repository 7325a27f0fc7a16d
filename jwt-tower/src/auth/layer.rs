//! [`JwtLayer`]: an [`Authenticator`] and a rejection, applied to a service.

use std::sync::Arc;

use http::Response;
use tower_layer::Layer;

use super::refusal::Refuse;
use super::{Authenticator, JwtService};
use crate::policy::Policy;
use crate::reject::{DefaultRejection, OnRejection};
use crate::{AuthError, ProtectedResourceMetadata, TokenSource, VerifiedToken, Verifier};

/// A tower layer that authenticates requests with an [`Authenticator`].
///
/// # Layer order
///
/// The layer refuses every request it sees without a valid token, so what it wraps
/// decides what needs one:
///
/// - With axum, `Router::route_layer(layer)` authenticates only requests that match a
///   route's path: unknown paths stay 404 (a known path with a method it does not serve
///   is authenticated first, then 405). `Router::layer(layer)` wraps
///   the whole router, so an unknown path without a token is 401. Routes added after
///   the call (a health check, say) are outside it either way.
/// - Put tower-http's `CorsLayer` *outside* this layer (added after it with axum's
///   `.layer`, which wraps what came before): it answers preflights, which browsers send
///   without credentials, and adds CORS headers to refusals too, so the browser can read
///   the 401. With the CORS handler inside instead, call
///   [`allow_cors_preflight`](Self::allow_cors_preflight).
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
    pub(crate) authenticator: Authenticator<C>,
    pub(crate) on_rejection: R,
    cors_preflight: bool,
}

impl<C, R: Clone> Clone for JwtLayer<C, R> {
    fn clone(&self) -> Self {
        Self {
            authenticator: self.authenticator.clone(),
            on_rejection: self.on_rejection.clone(),
            cors_preflight: self.cors_preflight,
        }
    }
}

impl<C, R> std::fmt::Debug for JwtLayer<C, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtLayer")
            .field("authenticator", &self.authenticator)
            .field("cors_preflight", &self.cors_preflight)
            .finish_non_exhaustive()
    }
}

impl<C> JwtLayer<C> {
    /// A layer requiring a valid bearer token, answering refusals per RFC 6750.
    pub fn new(verifier: Verifier<C>) -> Self {
        Self::from_authenticator(Authenticator::new(verifier))
    }

    /// A layer authenticating with `authenticator`, answering refusals per RFC 6750 with
    /// its challenge parameters.
    pub fn from_authenticator(authenticator: Authenticator<C>) -> Self {
        Self {
            on_rejection: authenticator.challenge().clone(),
            authenticator,
            cors_preflight: false,
        }
    }

    /// The realm named in `WWW-Authenticate` challenges (default `"api"`), for this
    /// layer's refusals and those of the guards and extractors behind it.
    pub fn realm(mut self, realm: &str) -> Self {
        self.authenticator = self.authenticator.realm(realm);
        self.on_rejection = self.authenticator.challenge().clone();
        self
    }

    /// Names `metadata`'s URL as `resource_metadata` in every 401 and 403 challenge
    /// (RFC 9728 §5.1), for this layer's refusals and those of the guards and extractors
    /// behind it. Serve the metadata itself at its
    /// [`metadata_url`](ProtectedResourceMetadata::metadata_url) (jwt-axum's
    /// `protected_resource_metadata` router does).
    ///
    /// ```
    /// use jwt_tower::{Algorithm, JwtLayer, ProtectedResourceMetadata, RegisteredClaims};
    /// use jwt_tower::{Verifier, VerificationKey};
    ///
    /// let metadata = ProtectedResourceMetadata::builder("https://api.example.com/mcp")
    ///     .authorization_servers(["https://auth.example.com"])
    ///     .scopes_supported(["orders.read"])
    ///     .build()?;
    /// let verifier = Verifier::<RegisteredClaims>::builder(
    ///     VerificationKey::hmac(Algorithm::HS256, b"an-hmac-secret-of-at-least-32-bytes!")?,
    /// )
    /// .algorithms([Algorithm::HS256])
    /// .audience("https://api.example.com/mcp")
    /// .build()?;
    /// let layer = JwtLayer::new(verifier).resource_metadata(&metadata);
    /// # let _ = layer;
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    pub fn resource_metadata(mut self, metadata: &ProtectedResourceMetadata) -> Self {
        self.authenticator = self.authenticator.resource_metadata(metadata);
        self.on_rejection = self.authenticator.challenge().clone();
        self
    }
}

impl<C, R> JwtLayer<C, R> {
    fn map(mut self, f: impl FnOnce(Authenticator<C>) -> Authenticator<C>) -> Self {
        self.authenticator = f(self.authenticator);
        self
    }

    /// Let requests without a token through, without identity. A token that is present
    /// must still be valid (an invalid one is 401), and the policy applies only to
    /// requests that carry one.
    pub fn optional(self) -> Self {
        self.map(Authenticator::optional)
    }

    /// Where to look for the token (default: `Authorization: Bearer` only).
    pub fn token_sources(self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        self.map(|a| a.token_sources(sources))
    }

    /// Replaces the whole policy.
    pub fn policy(self, policy: Policy<C>) -> Self {
        self.map(|a| a.policy(policy))
    }

    /// Requires every one of `scopes`.
    pub fn require_scopes<S: Into<Box<str>>>(self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.map(|a| a.require_scopes(scopes))
    }

    /// Requires every one of `roles`.
    pub fn require_roles<S: Into<Box<str>>>(self, roles: impl IntoIterator<Item = S>) -> Self {
        self.map(|a| a.require_roles(roles))
    }

    /// Requires a delegated token (see [`Policy::require_actor`]).
    pub fn require_actor(self) -> Self {
        self.map(Authenticator::require_actor)
    }

    /// Allows only `actors` as a delegated token's current actor (see
    /// [`Policy::allow_actors`]).
    pub fn allow_actors<S: Into<Box<str>>>(self, actors: impl IntoIterator<Item = S>) -> Self {
        self.map(|a| a.allow_actors(actors))
    }

    /// Caps a delegated token's chain of actors (see [`Policy::max_actor_depth`]).
    pub fn max_actor_depth(self, depth: usize) -> Self {
        self.map(|a| a.max_actor_depth(depth))
    }

    /// Requires a predicate over the verified token.
    pub fn require(
        self,
        predicate: impl Fn(&VerifiedToken<C>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.map(|a| a.require(predicate))
    }

    /// Replaces the rejection response: any [`OnRejection`], such as a closure
    /// `Fn(&AuthError) -> Response<B> + Clone`.
    pub fn on_rejection<R2>(self, on_rejection: R2) -> JwtLayer<C, R2> {
        JwtLayer {
            authenticator: self.authenticator,
            on_rejection,
            cors_preflight: self.cors_preflight,
        }
    }

    /// Lets CORS preflight requests through unauthenticated: `OPTIONS` requests that carry
    /// both `Origin` and `Access-Control-Request-Method`, as browsers send before a
    /// cross-origin call. Browsers never attach credentials to a preflight, so without
    /// this a layer in front of a CORS handler refuses every preflight with 401 and the
    /// browser never makes the real call. Any other `OPTIONS` request is authenticated.
    ///
    /// The preflight reaches the inner service with no identity: put the CORS handler
    /// (tower-http's `CorsLayer`) inside this layer, and give no route an `OPTIONS`
    /// handler that must not run anonymously. Needless when the `CorsLayer` is outside
    /// this layer, where it answers preflights itself; see [`JwtLayer`]'s layer order.
    ///
    /// ```
    /// # use jwt_tower::{Algorithm, JwtLayer, RegisteredClaims, Verifier, VerificationKey};
    /// # let verifier = Verifier::<RegisteredClaims>::builder(
    /// #     VerificationKey::hmac(Algorithm::HS256, b"an-hmac-secret-of-at-least-32-bytes!")?,
    /// # ).algorithms([Algorithm::HS256]).build()?;
    /// let layer = JwtLayer::new(verifier).allow_cors_preflight();
    /// # let _ = layer;
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    pub fn allow_cors_preflight(mut self) -> Self {
        self.cors_preflight = true;
        self
    }

    /// Whether `req` is a CORS preflight this layer lets through.
    pub(crate) fn lets_through<B>(&self, req: &http::Request<B>) -> bool {
        self.cors_preflight
            && req.method() == http::Method::OPTIONS
            && req.headers().contains_key(http::header::ORIGIN)
            && req
                .headers()
                .contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The verifier this layer uses.
    pub fn verifier(&self) -> &Verifier<C> {
        self.authenticator.verifier()
    }

    /// The authenticator this layer uses.
    pub fn authenticator(&self) -> &Authenticator<C> {
        &self.authenticator
    }
}

impl<C, R, B> Refuse<B> for JwtLayer<C, R>
where
    C: Send + Sync + 'static,
    R: OnRejection<B> + Send + Sync,
{
    fn refuse(&self, error: &AuthError) -> Response<B> {
        self.authenticator.record(error);
        tracing::debug!(kind = %error.kind(), category = ?error.category(), "jwt rejected");
        match self.authenticator.challenged_behind(error) {
            Some(challenged) => self.on_rejection.on_rejection(&challenged),
            None => self.on_rejection.on_rejection(error),
        }
    }

    fn claims_type(&self) -> &'static str {
        std::any::type_name::<C>()
    }
}

impl<S, C, R: Clone> Layer<S> for JwtLayer<C, R> {
    type Service = JwtService<S, C, R>;

    fn layer(&self, inner: S) -> Self::Service {
        // Shared, not copied: a service is cloned for every request (axum's router does),
        // and one `Arc` costs less to clone and drop than the layer's parts.
        JwtService {
            inner,
            layer: Arc::new(self.clone()),
        }
    }
}
