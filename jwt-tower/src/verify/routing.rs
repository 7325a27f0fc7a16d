//! Issuer routing: one [`Verifier`] per issuer, chosen by the token's `iss`.

use std::collections::HashMap;

use super::claims::ViewSeed;
use super::decode::{Part, claims_view, decode_part, described, reject, utf8};
use super::pipeline::PAYLOAD_STACK_LEN;
use super::verifier::Verifier;
use crate::algorithm::AlgorithmSet;
use crate::{AuthError, ConfigError, Keys, RejectionKind};

impl<C> Verifier<C> {
    /// A verifier for several issuers, each with its own keys and rules, chosen by the
    /// token's `iss`. A token whose `iss` names none of them is `invalid_issuer`.
    ///
    /// The `iss` is read before the signature is checked only to choose the verifier,
    /// as strictly as the verifiers read claims; the chosen verifier then checks
    /// everything, `iss` and `aud` included (by its own rules: one with no audience
    /// refuses a token that names one), so each one must accept exactly the issuer it is
    /// registered under.
    ///
    /// # Errors
    /// [`ConfigError::IssuerRoute`] when a verifier does not accept the issuer it is
    /// registered under, or no verifier is given.
    ///
    /// ```
    /// # use jwt_tower::{Algorithm, RegisteredClaims, Verifier, VerificationKey};
    /// let a = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, [1u8; 32])?)
    ///     .algorithms([Algorithm::HS256]).issuer("https://a.example").build()?;
    /// let b = Verifier::<RegisteredClaims>::builder(VerificationKey::hmac(Algorithm::HS256, [2u8; 32])?)
    ///     .algorithms([Algorithm::HS256]).issuer("https://b.example").audience("api").build()?;
    /// let both = Verifier::by_issuer([("https://a.example", a), ("https://b.example", b)])?;
    /// # let _ = both;
    /// # Ok::<(), jwt_tower::ConfigError>(())
    /// ```
    pub fn by_issuer<I: Into<Box<str>>>(
        verifiers: impl IntoIterator<Item = (I, Verifier<C>)>,
    ) -> Result<Self, ConfigError> {
        let router = IssuerRouter::new(verifiers)?;
        let mut builder = Verifier::builder(Keys::unloaded())
            .algorithms(router.algorithms().iter())
            .max_token_len(router.max_token_len);
        builder.config.router = Some(router);
        builder.build()
    }
}

/// The verifiers of [`Verifier::by_issuer`], by the issuer each accepts. The verifier
/// that holds it verifies nothing itself: it counts, and hands each token to the
/// verifier of its `iss`.
pub(super) struct IssuerRouter<C> {
    routes: HashMap<Box<str>, Verifier<C>>,
    /// The longest token any of them accepts: longer ones are refused before decoding.
    max_token_len: usize,
}

impl<C> IssuerRouter<C> {
    /// Checks that each verifier accepts the issuer it is registered under and is not a
    /// router itself, and that there is at least one.
    fn new<I: Into<Box<str>>>(
        verifiers: impl IntoIterator<Item = (I, Verifier<C>)>,
    ) -> Result<Self, ConfigError> {
        let mut routes = HashMap::new();
        let mut max_token_len = 0;
        for (issuer, verifier) in verifiers {
            let issuer: Box<str> = issuer.into();
            let sub = &*verifier.inner;
            if sub.router.is_some() || !sub.issuers.contains(&issuer) {
                return Err(ConfigError::IssuerRoute(issuer.into_string()));
            }
            max_token_len = max_token_len.max(sub.max_token_len);
            routes.insert(issuer, verifier);
        }
        if routes.is_empty() {
            return Err(ConfigError::IssuerRoute(String::new()));
        }
        Ok(Self {
            routes,
            max_token_len,
        })
    }

    /// Every algorithm some issuer's verifier allows.
    fn algorithms(&self) -> AlgorithmSet {
        let mut algorithms = AlgorithmSet::empty();
        for verifier in self.routes.values() {
            for alg in verifier.inner.algorithms.iter() {
                algorithms.insert(alg);
            }
        }
        algorithms
    }

    /// The keys and cached tokens of every issuer's verifier, summed: `(keys, tokens)`.
    pub(super) fn totals(&self) -> (usize, usize) {
        let each = || self.routes.values().map(Verifier::metrics);
        (
            each().map(|m| m.key_count).sum(),
            each().map(|m| m.cached_tokens).sum(),
        )
    }

    /// The verifier registered for the token's `iss`, read without verifying anything.
    pub(super) fn route(&self, token: &str) -> Result<&Verifier<C>, AuthError> {
        if token.len() > self.max_token_len {
            return Err(reject(RejectionKind::TokenTooLarge));
        }
        let payload_b64 = token
            .split('.')
            .nth(1)
            .ok_or_else(|| reject(RejectionKind::Malformed))?;
        let mut payload_stack = [0u8; PAYLOAD_STACK_LEN];
        let payload = decode_part(payload_b64, &mut payload_stack)?;
        // The strict reading the chosen verifier will make: no second reading of `iss`.
        let seed = ViewSeed {
            required: &[],
            roles_claim: None,
        };
        let view = claims_view(utf8(&payload, Part::Claims)?, seed)?;
        let iss = view.iss.ok_or_else(|| {
            described(RejectionKind::MissingClaim, "the token has no `iss` claim")
        })?;
        self.routes
            .get(&*iss)
            .ok_or_else(|| reject(RejectionKind::InvalidIssuer))
    }
}
