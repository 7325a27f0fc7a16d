//! Tokens checked by introspection (see [`crate::introspect`]): the verifiers that
//! introspect, which tokens go there, the cached answer on the request path, and the
//! introspection a request may wait for.

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::builder::VerifierBuilder;
use super::decode::{described, reject};
use super::verified::VerifiedToken;
use super::verifier::Verifier;
use crate::introspect::{
    Answer, Failure, IntrospectionCache, Introspector, Reading, Settings, after, digest, now_ms,
};
use crate::keys::KeysWait;
use crate::{AuthError, Keys, RejectionKind};

/// How much longer than the request's own time limit a wait for it may last.
const WAIT_MARGIN: Duration = Duration::from_millis(100);

impl<C> Verifier<C> {
    /// Starts a verifier that checks every token with `introspector`'s endpoint (RFC
    /// 7662) and has no keys: for opaque tokens alone (a JWT is introspected too, as
    /// any token is). No [`algorithms`](VerifierBuilder::algorithms) are needed. The
    /// endpoint's claims are checked by the builder's rules (`exp`, issuer, audience,
    /// required claims, revocations, custom checks), and its answers are cached (see
    /// [`introspect`](crate::introspect)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), jwt_tower::ConfigError> {
    /// use jwt_tower::introspect::Introspector;
    /// use jwt_tower::{RegisteredClaims, Verifier};
    ///
    /// let introspector =
    ///     Introspector::builder("https://auth.example.com/introspect", "api", "secret").build()?;
    /// let verifier = Verifier::<RegisteredClaims>::introspecting(introspector)
    ///     .issuer("https://auth.example.com")
    ///     .audience("api")
    ///     .build()?;
    /// assert_eq!(verifier.metrics().key_count, 0);
    /// # Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    pub fn introspecting(introspector: Introspector) -> VerifierBuilder<C> {
        let mut builder = Verifier::builder(Keys::unloaded());
        builder.config.introspection = Some(IntrospectionCache::new(introspector, true));
        builder
    }
}

impl<C> VerifierBuilder<C> {
    /// Checks every token that is not JWT-shaped (neither two dots nor, a JWE, four) with
    /// `introspector`'s endpoint (RFC 7662), beside the JWTs verified by their
    /// signature: both kinds are accepted, told apart by shape. The endpoint's claims
    /// are checked by this builder's rules as a JWT's are (`exp`, issuer, audience,
    /// required claims, revocations, custom checks), and its answers are cached (see
    /// [`introspect`](crate::introspect)). For opaque tokens alone, see
    /// [`Verifier::introspecting`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), jwt_tower::ConfigError> {
    /// use jwt_tower::introspect::Introspector;
    /// use jwt_tower::{Algorithm, RegisteredClaims, RejectionKind, Verifier, VerificationKey};
    ///
    /// let introspector =
    ///     Introspector::builder("https://auth.example.com/introspect", "api", "secret").build()?;
    /// let verifier = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, [7u8; 32])?)
    ///     .algorithms([Algorithm::HS256])
    ///     .introspection(introspector)
    ///     .build()?;
    /// // Not introspected yet: refused for now (the layer waits for the introspection
    /// // and tries again; see `Authenticator::wait_for_keys`).
    /// let err = verifier.verify("an-opaque-token").unwrap_err();
    /// assert_eq!(err.kind(), RejectionKind::IntrospectionUnavailable);
    /// // A JWE (four dots) is refused, as it is without introspection.
    /// let err = verifier.verify("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d").unwrap_err();
    /// assert_eq!(err.kind(), RejectionKind::Encrypted);
    /// # Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    pub fn introspection(mut self, introspector: Introspector) -> Self {
        self.config.introspection = Some(IntrospectionCache::new(introspector, false));
        self
    }
}

impl<C> Verifier<C> {
    /// The introspection `token` goes to, if any: with introspection configured, every
    /// token when the verifier has no keys, else every token that is neither a JWS
    /// (two dots) nor a JWE (four): a JWE goes the JWT way, to be refused as encrypted,
    /// rather than be sent to the endpoint beside keys that could have said so.
    #[inline]
    pub(super) fn introspection_for(&self, token: &[u8]) -> Option<&IntrospectionCache<C>> {
        let introspection = self.inner.introspection.as_ref()?;
        (introspection.alone || !matches!(memchr::memchr_iter(b'.', token).count(), 2 | 4))
            .then_some(introspection)
    }
}

impl<C: DeserializeOwned + 'static> Verifier<C> {
    /// A token to introspect, answered from the cache alone: what the endpoint said
    /// (with the time checks, revocations and custom checks run again on an active
    /// token), or [`IntrospectionUnavailable`](RejectionKind::IntrospectionUnavailable)
    /// when it has not been asked yet or did not answer (see
    /// [`introspection_wait`](Self::introspection_wait)).
    pub(super) fn verify_introspected(
        &self,
        introspection: &IntrospectionCache<C>,
        token: &[u8],
    ) -> Result<VerifiedToken<C>, AuthError> {
        if token.len() > self.inner.max_token_len {
            return Err(reject(RejectionKind::TokenTooLarge));
        }
        // Visible ASCII only: what goes to the endpoint is a token, not any bytes.
        if token.is_empty() || !token.iter().all(u8::is_ascii_graphic) {
            return Err(reject(RejectionKind::Malformed));
        }
        let now = now_ms();
        match introspection.get(&digest(token), now) {
            Some(Answer::Active { token, not_before }) => {
                if now / 1000 < not_before {
                    return Err(reject(RejectionKind::NotYetValid));
                }
                let (jti, sub, iat) = token.revocation_facts();
                self.check_revocations(jti, sub, iat)?;
                self.run_checks(&token)?;
                self.inner.metrics.introspection_hit();
                Ok(token)
            }
            Some(Answer::Refused(error)) => Err(error),
            Some(Answer::Unavailable) => Err(reject(RejectionKind::IntrospectionUnavailable)),
            None => Err(described(
                RejectionKind::IntrospectionUnavailable,
                "the token has not been introspected yet",
            )),
        }
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> Verifier<C> {
    /// For a token refused because its introspection is not cached: a wait for its
    /// introspection (started now, or joined if in flight: one request per token),
    /// after which the caller verifies it again. `None` when the cached answer is a
    /// failure (the endpoint failed a moment ago: refuse now), when too many other
    /// tokens are being introspected, or when there is no tokio runtime to run it on.
    pub(super) fn introspection_wait(
        &self,
        introspection: &IntrospectionCache<C>,
        token: &str,
    ) -> Option<KeysWait> {
        let digest = digest(token.as_bytes());
        match introspection.get(&digest, now_ms()) {
            Some(Answer::Unavailable) => return None,
            // Answered since this token was refused: verify again at once.
            Some(_) => return Some(Box::pin(std::future::ready(()))),
            None => {}
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let limit = introspection.introspector.settings().timeout + WAIT_MARGIN;
        let verifier = self.clone();
        let token: Box<str> = token.into();
        introspection.flight(digest, limit, move |guard| {
            // A task of its own: the answer is stored even if every waiting request
            // goes away, and the synchronous interceptor can start it without waiting.
            runtime.spawn(async move {
                verifier.introspect_and_store(digest, &token).await;
                drop(guard);
            });
        })
    }

    /// Asks the endpoint about `token` and stores what this verifier concludes.
    async fn introspect_and_store(&self, digest: [u8; 32], token: &str) {
        let Some(introspection) = &self.inner.introspection else {
            return;
        };
        let settings = *introspection.introspector.settings();
        self.inner.metrics.introspection_request();
        let reading = introspection.introspector.introspect(token).await;
        let now = now_ms();
        let (answer, until) = match reading {
            Ok(Reading::Active(claims)) => self.conclude(token, &claims, now, &settings),
            Ok(Reading::NotAnAccessToken) => (
                Answer::Refused(described(
                    RejectionKind::InvalidType,
                    "the token is not an access token",
                )),
                after(now, settings.negative_ttl),
            ),
            Ok(Reading::Inactive) => (
                Answer::Refused(reject(RejectionKind::InactiveToken)),
                after(now, settings.negative_ttl),
            ),
            Err(failure) => {
                self.inner.metrics.introspection_failure();
                log_failure(&failure);
                (Answer::Unavailable, after(now, settings.failure_ttl))
            }
        };
        introspection.insert(digest, answer, until);
    }

    /// What an active token's `claims` make of it here, and until when that holds: the
    /// cache TTL, never past its `exp` nor past when the time checks stop passing.
    fn conclude(
        &self,
        token: &str,
        claims: &str,
        now: i64,
        settings: &Settings,
    ) -> (Answer<C>, i64) {
        let refused = |error| (Answer::Refused(error), after(now, settings.negative_ttl));
        let (verified, window) = match self.accept_claims(token, None, claims, true) {
            Ok(accepted) => accepted,
            Err(error) => return refused(error),
        };
        let mut until = after(now, settings.cache_ttl);
        if let Some(exp) = verified.expires_at() {
            until = until.min(exp.saturating_mul(1000));
        }
        if let Some(window) = window {
            until = until.min(window.valid_until.saturating_mul(1000));
        }
        if until <= now {
            // Active for the endpoint, past `exp` for us: the clocks disagree, and the
            // answer is never kept past `exp`.
            return refused(reject(RejectionKind::Expired));
        }
        let not_before = window.map_or(i64::MIN, |w| w.not_before);
        (
            Answer::Active {
                token: verified,
                not_before,
            },
            until,
        )
    }
}

fn log_failure(failure: &Failure) {
    tracing::warn!(%failure, "token introspection failed; refusing the token (503)");
}
