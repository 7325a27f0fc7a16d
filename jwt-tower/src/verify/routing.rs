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
        let mut routes = HashMap::new();
        let mut algorithms = AlgorithmSet::empty();
        let mut max_token_len = 0;
        for (issuer, verifier) in verifiers {
            let issuer: Box<str> = issuer.into();
            let sub = &*verifier.inner;
            if sub.routes.is_some() || !sub.issuers.contains(&issuer) {
                return Err(ConfigError::IssuerRoute(issuer.into_string()));
            }
            for alg in sub.algorithms.iter() {
                algorithms.insert(alg);
            }
            max_token_len = max_token_len.max(sub.max_token_len);
            routes.insert(issuer, verifier);
        }
        if routes.is_empty() {
            return Err(ConfigError::IssuerRoute(String::new()));
        }
        let mut builder = Verifier::builder(Keys::unloaded())
            .algorithms(algorithms.iter())
            .max_token_len(max_token_len);
        builder.config.routes = Some(routes);
        builder.build()
    }
}

/// The verifier registered for the token's `iss`, read without verifying anything.
pub(super) fn route<'v, C>(
    routes: &'v HashMap<Box<str>, Verifier<C>>,
    token: &str,
) -> Result<&'v Verifier<C>, AuthError> {
    let max = routes
        .values()
        .map(|v| v.inner.max_token_len)
        .max()
        .unwrap_or(0);
    if token.len() > max {
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
    let iss = view
        .iss
        .ok_or_else(|| described(RejectionKind::MissingClaim, "the token has no `iss` claim"))?;
    routes
        .get(&*iss)
        .ok_or_else(|| reject(RejectionKind::InvalidIssuer))
}
