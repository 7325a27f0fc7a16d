//! `Verifier<C>`: token text in, verified claims (or a precise rejection) out. No HTTP.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::builder::Config;
use super::cache::TokenCache;
use super::decode::reject;
use super::verified::VerifiedToken;
use crate::clock::now;
use crate::metrics::MetricsSnapshot;
use crate::{AuthError, KeySet, Keys, RejectionKind};

/// Verifies JWS compact tokens against a live key set and validation rules, and
/// deserializes their claims once into `C`.
///
/// Usable on its own (a CLI, a websocket handshake, a queue consumer); the tower layer
/// is a thin wrapper around it. Cheap to clone.
///
/// ```
/// use jwt_tower::{Algorithm, RejectionKind, Verifier, VerificationKey};
/// use serde::Deserialize;
///
/// #[derive(Debug, Deserialize)]
/// struct MyClaims { sub: String, tenant: String }
///
/// let secret = b"a-secret-of-at-least-thirty-two-bytes";
/// let verifier = Verifier::<MyClaims>::builder(VerificationKey::hmac(Algorithm::HS256, secret)?)
///     .algorithms([Algorithm::HS256])
///     .issuer("https://auth.example.com")
///     .audience("orders-api")
///     .build()?;
///
/// let claims = serde_json::json!({
///     "sub": "alice", "tenant": "acme", "iss": "https://auth.example.com",
///     "aud": "orders-api", "exp": jsonwebtoken::get_current_timestamp() + 60,
/// });
/// # #[cfg(feature = "rust_crypto")] // jsonwebtoken then has both backends: pick one
/// # let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
/// let token = jsonwebtoken::encode(
///     &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
///     &claims,
///     &jsonwebtoken::EncodingKey::from_secret(secret).unwrap(),
/// ).unwrap();
///
/// let verified = verifier.verify(&token).unwrap();
/// assert_eq!(verified.claims().tenant, "acme");
///
/// let err = verifier.verify("not.a.token").unwrap_err();
/// assert_eq!(err.kind(), RejectionKind::Malformed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Verifier<C> {
    pub(super) inner: Arc<Config<C>>,
}

impl<C> Clone for Verifier<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C> std::fmt::Debug for Verifier<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.inner;
        f.debug_struct("Verifier")
            .field("algorithms", &c.algorithms)
            .field("issuers", &c.issuers)
            .field("audiences", &c.audiences)
            .field("any_audience", &c.any_audience)
            .field("leeway", &c.leeway)
            .field("required_typ", &c.required_typ)
            .field(
                "cache_capacity",
                &c.cache.as_ref().map(TokenCache::capacity),
            )
            .finish_non_exhaustive()
    }
}

impl<C> Verifier<C> {
    /// The live keys this verifier reads.
    #[must_use]
    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// Whether the current key set holds the key `token`'s header names.
    fn knows_kid_now(&self, token: &str) -> bool {
        let Some((header_b64, _)) = token.split_once('.') else {
            return false;
        };
        let Ok(header) = self.check_header(header_b64) else {
            return false;
        };
        let keys = self.inner.keys.load();
        keys.as_deref()
            .and_then(|set| set.get(header.kid.as_deref()))
            .is_some()
    }

    /// Counts, in [`metrics`](Self::metrics), a refusal decided outside
    /// [`verify`](Self::verify): no token, a malformed request, a policy not met. Only
    /// the [`Authenticator`](crate::auth::Authenticator) calls it.
    pub(crate) fn record_rejection(&self, kind: RejectionKind) {
        self.inner.metrics.rejected(kind);
    }

    /// What this verifier has accepted and refused so far, and the state of its keys.
    ///
    /// ```
    /// # use jwt_tower::{Algorithm, RegisteredClaims, RejectionKind, Verifier, VerificationKey};
    /// let verifier = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, [1u8; 32])?)
    ///     .algorithms([Algorithm::HS256])
    ///     .build()?;
    /// let _ = verifier.verify("not-a-token");
    /// let metrics = verifier.metrics();
    /// assert_eq!(metrics.verified, 0);
    /// assert_eq!(metrics.rejected(RejectionKind::Malformed), 1);
    /// assert_eq!(metrics.key_count, 1);
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    #[must_use]
    pub fn metrics(&self) -> MetricsSnapshot {
        let c = &*self.inner;
        match &c.router {
            Some(router) => {
                let (key_count, cached) = router.totals();
                c.metrics.snapshot(None, key_count, cached)
            }
            None => {
                let key_count = c.keys.snapshot().map_or(0, |set| set.len());
                let cached = c.cache.as_ref().map_or(0, TokenCache::len);
                c.metrics
                    .snapshot(c.keys.source().map(|s| s.stats()), key_count, cached)
            }
        }
    }

    /// The longest token accepted, in bytes.
    #[must_use]
    pub fn max_token_len(&self) -> usize {
        self.inner.max_token_len
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> Verifier<C> {
    /// When verifying `token` failed with `error` and waiting may change the answer: a
    /// wait, after which the caller verifies again. `None`: refuse now. Reached through
    /// [`Authenticator::wait_for_keys`](crate::auth::Authenticator::wait_for_keys).
    ///
    /// The waits: for an unknown key or keys not loaded yet, the key source's fetch (if
    /// it allows one); for a token not introspected yet, its introspection.
    #[must_use]
    pub(crate) fn wait_for_keys(
        &self,
        token: &str,
        error: &AuthError,
    ) -> Option<crate::keys::KeysWait> {
        #[cfg(feature = "remote")]
        if error.kind() == RejectionKind::IntrospectionUnavailable {
            let introspection = self.introspection_for(token.as_bytes())?;
            return self.introspection_wait(introspection, token);
        }
        if let Some(router) = &self.inner.router {
            return router.route(token).ok()?.wait_for_keys(token, error);
        }
        let source = self.inner.keys.source()?;
        match error.kind() {
            // A fetch may have brought the key between this token's verify and now: then
            // verify again at once rather than refuse within the cooldown.
            RejectionKind::UnknownKey if self.knows_kid_now(token) => {
                Some(Box::pin(std::future::ready(())))
            }
            RejectionKind::UnknownKey => source.unknown_kid(),
            RejectionKind::KeysUnavailable => source.unloaded(),
            _ => None,
        }
    }

    /// [`verify`](Self::verify), waiting once when waiting may change the answer: for a
    /// token not introspected yet, its introspection (one request in flight per token);
    /// for an unknown key, or keys not loaded yet, the key source's fetch. For a program
    /// with no [`Authenticator`](crate::auth::Authenticator) (a websocket handshake, a
    /// queue consumer) whose verifier introspects or fetches keys.
    ///
    /// # Errors
    /// As [`verify`](Self::verify), after the wait.
    pub async fn verify_waiting(&self, token: &str) -> Result<VerifiedToken<C>, AuthError> {
        match self.verify(token) {
            Err(error) => match self.wait_for_keys(token, &error) {
                Some(wait) => {
                    wait.await;
                    self.verify(token)
                }
                None => Err(error),
            },
            verified => verified,
        }
    }
}

impl<C: DeserializeOwned + 'static> Verifier<C> {
    /// Verifies `token` and returns its claims.
    ///
    /// The order is fixed: size, shape, header (`alg` allow-list, `crit`, `typ`), key by
    /// `kid` (its algorithms must include `alg`), signature, then claims. Nothing in the
    /// claims is read before the signature has verified.
    ///
    /// # Errors
    /// An [`AuthError`] whose [`RejectionKind`] says exactly why.
    pub fn verify(&self, token: &str) -> Result<VerifiedToken<C>, AuthError> {
        let result = self.verify_routed(token);
        self.count(&result);
        result
    }

    /// [`verify`](Self::verify) for a token whose characters nobody checked yet: the bytes
    /// of an `Authorization` value, as they came. Spares the layer a pass over every valid
    /// token to prove what verifying it proves anyway.
    ///
    /// That is sound because a token that verifies is base64url and dots only (its
    /// characters are a subset of `b64token`'s), and a cache entry matches only the exact
    /// bytes of a token that verified: a hit is a well-formed token. A failure is handed
    /// to `blame`, which turns it into the error to give (it may be the request's rather
    /// than the token's), and that one is counted; a hit's refusal (revoked, a custom
    /// check) is the token's, as is.
    ///
    /// With a cache (and one issuer), the token is looked up once: a miss goes straight
    /// on to the full verification, which stores it.
    pub(crate) fn verify_unchecked(
        &self,
        token: &[u8],
        blame: impl FnOnce(AuthError) -> AuthError,
    ) -> Result<VerifiedToken<C>, AuthError> {
        #[cfg(feature = "remote")]
        if let Some(introspection) = self.introspection_for(token) {
            let result = self
                .verify_introspected(introspection, token)
                .map_err(blame);
            self.count(&result);
            return result;
        }
        let c = &*self.inner;
        let text = |token| std::str::from_utf8(token).map_err(|_| reject(RejectionKind::Malformed));
        // Several issuers: each route has its own cache, and `verify_routed` picks it.
        let result = match c.cache.as_ref().filter(|_| c.router.is_none()) {
            Some(cache) => match self.cached(cache, token) {
                Some(hit) => self.serve_hit(hit),
                None => text(token)
                    .and_then(|token| self.within_limit(token))
                    .and_then(|token| self.verify_and_store(cache, token))
                    .map_err(blame),
            },
            None => text(token)
                .and_then(|token| self.verify_routed(token))
                .map_err(blame),
        };
        self.count(&result);
        result
    }

    /// `verify` by the verifier for the token's issuer (or this one), not counted.
    fn verify_routed(&self, token: &str) -> Result<VerifiedToken<C>, AuthError> {
        #[cfg(feature = "remote")]
        if let Some(introspection) = self.introspection_for(token.as_bytes()) {
            return self.verify_introspected(introspection, token.as_bytes());
        }
        match &self.inner.router {
            Some(router) => router.route(token).and_then(|v| v.verify_uncounted(token)),
            None => self.verify_uncounted(token),
        }
    }

    /// Counts an answer in the metrics.
    fn count(&self, result: &Result<VerifiedToken<C>, AuthError>) {
        match result {
            Ok(_) => self.inner.metrics.verified(),
            Err(e) => self.inner.metrics.rejected(e.kind()),
        }
    }

    /// `token`, unless it is longer than the limit: checked first, before any work.
    fn within_limit<'t>(&self, token: &'t str) -> Result<&'t str, AuthError> {
        if token.len() > self.inner.max_token_len {
            return Err(reject(RejectionKind::TokenTooLarge));
        }
        Ok(token)
    }

    fn verify_uncounted(&self, token: &str) -> Result<VerifiedToken<C>, AuthError> {
        let c = &*self.inner;
        let token = self.within_limit(token)?;
        let Some(cache) = &c.cache else {
            return self.verify_signed(token).map(|fresh| fresh.token);
        };
        if let Some(hit) = self.cached(cache, token.as_bytes()) {
            return self.serve_hit(hit);
        }
        self.verify_and_store(cache, token)
    }

    /// The full verification of a token within the size limit that the cache does not
    /// hold, then stored in it while the time checks keep passing.
    fn verify_and_store(
        &self,
        cache: &TokenCache<C>,
        token: &str,
    ) -> Result<VerifiedToken<C>, AuthError> {
        let fresh = self.verify_signed(token)?;
        if let Some(window) = fresh.window {
            cache.insert(token.as_bytes(), &fresh.token, fresh.generation, window);
        }
        Ok(fresh.token)
    }

    /// The cache's entry for `token` under the key set in use, if any.
    fn cached(&self, cache: &TokenCache<C>, token: &[u8]) -> Option<VerifiedToken<C>> {
        let generation = self.inner.keys.load().as_deref().map(KeySet::generation)?;
        cache.get(token, generation, now())
    }

    /// A cache hit, checked again where the answer can change for the same token.
    fn serve_hit(&self, hit: VerifiedToken<C>) -> Result<VerifiedToken<C>, AuthError> {
        // Revocations and custom checks can change their answer for the same token;
        // everything else the cache skips cannot.
        let (jti, sub, iat) = hit.revocation_facts();
        self.check_revocations(jti, sub, iat)?;
        self.run_checks(&hit)?;
        self.inner.metrics.cache_hit();
        Ok(hit)
    }
}
