//! [`Authenticator`]: the one request path every adapter shares. It finds the token,
//! verifies it, applies the policy, counts every refusal in the verifier's metrics, and
//! says when a refused request may wait for keys and try again.

use std::borrow::Cow;

use http::HeaderName;
use serde::de::DeserializeOwned;

use super::{Admission, RequestView};
use crate::dpop::{DpopChecker, DpopMode};
use crate::keys::KeysWait;
use crate::policy::Policy;
use crate::reject::DefaultRejection;
use crate::token::TokenExtractor;
use crate::{
    AuthError, ProtectedResourceMetadata, RejectionKind, TokenSource, VerifiedToken, Verifier,
};

/// Whether a request without a token may pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A token is required (the default): no token is 401.
    Required,
    /// No token passes through without identity; a token that is present must be valid.
    Optional,
}

/// Authenticates requests: token sources, [`Verifier`], required or optional mode,
/// [`Policy`], and the challenge parameters (realm, resource metadata) of its refusals. Cheap to clone.
///
/// [`JwtLayer`](crate::JwtLayer) is this type applied to a tower service; the axum and
/// tonic adapters use the same one, so a request is authenticated, counted and
/// challenged the same way whichever adapter admits it.
///
/// ```
/// use http::Request;
/// use jwt_tower::auth::Authenticator;
/// use jwt_tower::{Algorithm, RegisteredClaims, RejectionKind, Verifier, VerificationKey};
///
/// let verifier = Verifier::<RegisteredClaims>::builder(
///     VerificationKey::hmac(Algorithm::HS256, b"an-hmac-secret-of-at-least-32-bytes!")?,
/// )
/// .algorithms([Algorithm::HS256])
/// .build()?;
/// let authenticator = Authenticator::new(verifier).require_scopes(["read"]).realm("orders");
///
/// let request = Request::get("/orders").body(()).unwrap();
/// let refused = authenticator.authenticate(&request).unwrap_err();
/// assert_eq!(refused.kind(), RejectionKind::MissingToken);
/// assert_eq!(authenticator.verifier().metrics().rejected(RejectionKind::MissingToken), 1);
/// # Ok::<(), jwt_tower::ConfigError>(())
/// ```
#[must_use]
pub struct Authenticator<C> {
    pub(super) verifier: Verifier<C>,
    extractor: TokenExtractor,
    mode: Mode,
    pub(super) policy: Policy<C>,
    challenge: DefaultRejection,
    /// The checker's mode, kept here too: the Bearer fast path reads it with no
    /// indirection.
    pub(super) dpop_mode: DpopMode,
    pub(super) dpop: Option<DpopChecker>,
    pub(super) certificate_header: Option<HeaderName>,
}

impl<C> Clone for Authenticator<C> {
    fn clone(&self) -> Self {
        Self {
            verifier: self.verifier.clone(),
            extractor: self.extractor.clone(),
            mode: self.mode,
            policy: self.policy.clone(),
            challenge: self.challenge.clone(),
            dpop_mode: self.dpop_mode,
            dpop: self.dpop.clone(),
            certificate_header: self.certificate_header.clone(),
        }
    }
}

impl<C> std::fmt::Debug for Authenticator<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("verifier", &self.verifier)
            .field("extractor", &self.extractor)
            .field("mode", &self.mode)
            .field("policy", &self.policy)
            .field("challenge", &self.challenge)
            .field("dpop", &self.dpop)
            .field("certificate_header", &self.certificate_header)
            .finish()
    }
}

impl<C> Authenticator<C> {
    /// Requires a valid `Authorization: Bearer` token, no policy, realm `"api"`.
    pub fn new(verifier: Verifier<C>) -> Self {
        Self {
            verifier,
            extractor: TokenExtractor::default(),
            mode: Mode::Required,
            policy: Policy::new(),
            challenge: DefaultRejection::default(),
            dpop_mode: DpopMode::Off,
            dpop: None,
            certificate_header: None,
        }
    }

    /// Accepts DPoP-bound tokens (RFC 9449) as `checker` says: its mode (off, allowed
    /// beside Bearer, or required), proof algorithms, public URL, nonces and replay
    /// store. Whatever the mode, a DPoP-bound token presented as Bearer is refused.
    ///
    /// ```
    /// use jwt_tower::dpop::{DpopChecker, DpopMode};
    /// use jwt_tower::{Algorithm, Authenticator, RegisteredClaims, Verifier, VerificationKey};
    ///
    /// let verifier = Verifier::<RegisteredClaims>::builder(
    ///     VerificationKey::hmac(Algorithm::HS256, b"an-hmac-secret-of-at-least-32-bytes!")?,
    /// )
    /// .algorithms([Algorithm::HS256])
    /// .build()?;
    /// let checker = DpopChecker::builder("https://api.example.com")
    ///     .mode(DpopMode::Required)
    ///     .build()?;
    /// let authenticator = Authenticator::new(verifier).dpop(checker);
    /// assert_eq!(authenticator.dpop_checker().unwrap().mode(), DpopMode::Required);
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    pub fn dpop(mut self, checker: DpopChecker) -> Self {
        self.dpop_mode = checker.mode();
        self.dpop = Some(checker);
        self
    }

    /// The DPoP checker, if DPoP is configured.
    #[must_use]
    pub fn dpop_checker(&self) -> Option<&DpopChecker> {
        self.dpop.as_ref()
    }

    /// Reads the client certificate of a certificate-bound token (RFC 8705) from this
    /// header, URL-encoded PEM, when the request's extensions hold none: set it only
    /// behind a TLS-terminating proxy that sets (or strips) it on every request, as any
    /// client can send it.
    pub fn trusted_certificate_header(mut self, name: HeaderName) -> Self {
        self.certificate_header = Some(name);
        self
    }

    /// Lets requests without a token through, without identity. A token that is present
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

    /// Requires a delegated token (see [`Policy::require_actor`]).
    pub fn require_actor(mut self) -> Self {
        self.policy = self.policy.require_actor();
        self
    }

    /// Allows only `actors` as a delegated token's current actor (see
    /// [`Policy::allow_actors`]).
    pub fn allow_actors<S: Into<Box<str>>>(mut self, actors: impl IntoIterator<Item = S>) -> Self {
        self.policy = self.policy.allow_actors(actors);
        self
    }

    /// Caps a delegated token's chain of actors (see [`Policy::max_actor_depth`]).
    pub fn max_actor_depth(mut self, depth: usize) -> Self {
        self.policy = self.policy.max_actor_depth(depth);
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

    /// The realm named in `WWW-Authenticate` challenges (default `"api"`).
    pub fn realm(mut self, realm: &str) -> Self {
        self.challenge = self.challenge.realm(realm);
        self
    }

    /// Names `metadata`'s URL as `resource_metadata` in every 401 and 403 challenge
    /// (RFC 9728 §5.1), the layer's and those of the guards and extractors behind it, so
    /// that a client (an MCP client, for one) can discover where to get a token.
    ///
    /// ```
    /// use jwt_tower::{Algorithm, Authenticator, AuthError, ProtectedResourceMetadata};
    /// use jwt_tower::{RegisteredClaims, RejectionKind, Verifier, VerificationKey};
    ///
    /// let metadata = ProtectedResourceMetadata::builder("https://api.example.com/mcp")
    ///     .authorization_servers(["https://auth.example.com"])
    ///     .build()?;
    /// let verifier = Verifier::<RegisteredClaims>::builder(
    ///     VerificationKey::hmac(Algorithm::HS256, b"an-hmac-secret-of-at-least-32-bytes!")?,
    /// )
    /// .algorithms([Algorithm::HS256])
    /// .build()?;
    /// let authenticator = Authenticator::new(verifier).resource_metadata(&metadata);
    /// let challenge = authenticator
    ///     .challenge()
    ///     .www_authenticate(&AuthError::new(RejectionKind::MissingToken))
    ///     .unwrap();
    /// assert_eq!(
    ///     challenge,
    ///     r#"Bearer realm="api", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp""#
    /// );
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    pub fn resource_metadata(mut self, metadata: &ProtectedResourceMetadata) -> Self {
        self.challenge = self.challenge.resource_metadata(metadata);
        self
    }

    /// The verifier.
    #[must_use]
    pub fn verifier(&self) -> &Verifier<C> {
        &self.verifier
    }

    /// The RFC 6750 response for this authenticator's refusals, with its challenge
    /// parameters (realm, resource metadata).
    #[must_use]
    pub fn challenge(&self) -> &DefaultRejection {
        &self.challenge
    }

    /// Counts `error`, a refusal decided outside [`Verifier::verify`] (no token, a
    /// malformed request, a policy not met), in the verifier's metrics.
    pub(super) fn counted(&self, error: AuthError) -> AuthError {
        self.record(&error);
        error
    }

    /// Counts a refusal decided behind the layer (an extractor's missing identity, a
    /// guard's missing scope), reached through its [`Refusal`](super::Refusal).
    pub(crate) fn record(&self, error: &AuthError) {
        self.verifier.record_rejection(error.kind());
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> Authenticator<C> {
    /// Finds, verifies and authorizes the token of a request (an `&http::Request`, its
    /// `&Parts`, or a [`RequestView`]). Every refusal is counted in the verifier's
    /// [`metrics`](Verifier::metrics), and carries the DPoP challenge when DPoP is on.
    ///
    /// A Bearer request is decided here ([`Admission::Admitted`]); a DPoP request that
    /// passed every check is [`Admission::Pending`] until [`reserve`](Self::reserve)
    /// (or [`admit`](Self::admit)) has reserved its proof against replay.
    ///
    /// # Errors
    /// The [`AuthError`] to answer with. For [`UnknownKey`](RejectionKind::UnknownKey),
    /// [`KeysUnavailable`](RejectionKind::KeysUnavailable) and
    /// [`IntrospectionUnavailable`](RejectionKind::IntrospectionUnavailable), see
    /// [`wait_for_keys`](Self::wait_for_keys).
    pub fn authenticate<'r>(
        &self,
        request: impl Into<RequestView<'r>>,
    ) -> Result<Admission<C>, AuthError> {
        let request = request.into();
        self.decide(request)
            .map_err(|error| self.challenged(error, request))
    }

    fn decide(&self, request: RequestView<'_>) -> Result<Admission<C>, AuthError> {
        let headers = request.headers();
        // The one fast path, and the only place it is taken. With the default source,
        // `Authorization: Bearer` alone, the token is verified before any check of its
        // characters: a token that verifies has only base64url characters and dots, so
        // it passed them all (see `Verifier::verify_unchecked`), and they are checked
        // only to blame the right party when it fails. A client reusing its token (the
        // common case) is answered from the verifier's cache, if it has one. Every other
        // request takes the full path below, to the same answers.
        if let Some(raw) = self.extractor.sole_bearer_unchecked(headers) {
            if self.dpop_mode == DpopMode::Required {
                return Err(self.counted(AuthError::new(RejectionKind::DpopRequired)));
            }
            let verified = self
                .verifier
                .verify_unchecked(raw, |e| TokenExtractor::blame_unchecked(raw, e))?;
            if let Some(cnf) = verified.confirmation() {
                self.check_bearer_binding(cnf, request)?;
            }
            self.policy.check(&verified).map_err(|e| self.counted(e))?;
            return Ok(Admission::Admitted(Some(verified)));
        }
        if let Some(token) = self.dpop_request_token(request)? {
            return self.authenticate_dpop(token, request);
        }
        let token = self
            .extractor
            .extract(headers, request.uri())
            .map_err(|e| self.counted(e))?;
        let Some(token) = token else {
            return match self.mode {
                Mode::Optional => Ok(Admission::Admitted(None)),
                Mode::Required => Err(self.counted(AuthError::new(RejectionKind::MissingToken))),
            };
        };
        if self.dpop_mode == DpopMode::Required {
            return Err(self.counted(AuthError::new(RejectionKind::DpopRequired)));
        }
        let verified = self.verifier.verify(&token)?;
        if let Some(cnf) = verified.confirmation() {
            self.check_bearer_binding(cnf, request)?;
        }
        self.policy.check(&verified).map_err(|e| self.counted(e))?;
        Ok(Admission::Admitted(Some(verified)))
    }

    /// When [`authenticate`](Self::authenticate) refused this request with `error` and
    /// waiting may change the answer: a wait, after which the caller authenticates
    /// again. `None`: refuse now.
    ///
    /// - An unknown key or keys not loaded yet, when the key source allows it: the wait
    ///   for fresh keys (it starts the fetch).
    /// - A token the verifier introspects and has no answer for yet
    ///   ([`IntrospectionUnavailable`](RejectionKind::IntrospectionUnavailable)): the
    ///   wait for its introspection, started now (in a task of its own, so dropping the
    ///   wait does not stop it) or joined when one is in flight for the same token. After
    ///   it the answer is cached: active, inactive (401), or a failure (503 for a second,
    ///   with no new request to the endpoint meanwhile).
    #[must_use]
    pub fn wait_for_keys<'r>(
        &self,
        request: impl Into<RequestView<'r>>,
        error: &AuthError,
    ) -> Option<KeysWait> {
        let request = request.into();
        match error.kind() {
            RejectionKind::UnknownKey
            | RejectionKind::KeysUnavailable
            | RejectionKind::IntrospectionUnavailable => {
                let token = match self.dpop_request_token(request) {
                    Ok(Some(token)) => Cow::Borrowed(token),
                    _ => self
                        .extractor
                        .extract(request.headers(), request.uri())
                        .ok()
                        .flatten()?,
                };
                self.verifier.wait_for_keys(&token, error)
            }
            _ => None,
        }
    }

    /// [`authenticate`](Self::authenticate), waiting once for fresh keys when the token
    /// names a key not fetched yet (or keys were never loaded), or for a token's
    /// introspection, as the layer does, then reserving a DPoP proof
    /// ([`admit`](Self::admit)).
    ///
    /// # Errors
    /// As [`authenticate`](Self::authenticate), after the wait, and as
    /// [`reserve`](Self::reserve).
    pub async fn authenticate_waiting<'r>(
        &self,
        request: impl Into<RequestView<'r>>,
    ) -> Result<Option<VerifiedToken<C>>, AuthError> {
        let request = request.into();
        let admission = match self.authenticate(request) {
            Err(error) => match self.wait_for_keys(request, &error) {
                Some(wait) => {
                    wait.await;
                    self.authenticate(request)?
                }
                None => return Err(error),
            },
            Ok(admission) => admission,
        };
        self.admit(admission).await
    }
}
