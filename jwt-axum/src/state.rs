//! Verification from router state, for apps that want no layer.

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use jwt_tower::auth::Authenticator;
use jwt_tower::{AuthError, RejectionKind, Verifier};
use serde::de::DeserializeOwned;

use crate::AuthRejection;

/// Verified claims, checked by the extractor itself with a [`Verifier<C>`] taken from the
/// router's state (`Verifier<C>: FromRef<S>`, e.g. a field of a `#[derive(FromRef)]`
/// state). Reads `Authorization: Bearer`.
///
/// ```
/// use axum::{extract::FromRef, routing::get, Router};
/// use jwt_axum::StateClaims;
/// use jwt_tower::{Algorithm, RegisteredClaims, Verifier, VerificationKey};
///
/// #[derive(Clone, FromRef)]
/// struct AppState { verifier: Verifier<RegisteredClaims> }
///
/// async fn me(StateClaims(claims): StateClaims<RegisteredClaims>) -> String {
///     claims.sub.unwrap_or_default()
/// }
///
/// let verifier = Verifier::builder(VerificationKey::hmac(Algorithm::HS256, [9u8; 32])?)
///     .algorithms([Algorithm::HS256])
///     .build()?;
/// let app: Router = Router::new().route("/me", get(me)).with_state(AppState { verifier });
/// # Ok::<(), jwt_tower::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct StateClaims<C>(pub C);

/// The request's claims, `None` without a token in optional mode: the layer's path (it
/// waits for keys on an unknown `kid`, and counts refusals in the verifier's metrics).
async fn verify<C: DeserializeOwned + Clone + Send + Sync + 'static>(
    parts: &Parts,
    authenticator: Authenticator<C>,
) -> Result<Option<C>, AuthRejection> {
    let Some(verified) = authenticator.authenticate_waiting(parts).await? else {
        return Ok(None);
    };
    // The extractor holds the only handle, so this moves the claims out.
    Ok(Some(
        verified
            .try_into_claims()
            .unwrap_or_else(|shared| shared.claims().clone()),
    ))
}

impl<S, C> FromRequestParts<S> for StateClaims<C>
where
    S: Send + Sync,
    C: DeserializeOwned + Clone + Send + Sync + 'static,
    Verifier<C>: FromRef<S>,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let authenticator = Authenticator::new(Verifier::<C>::from_ref(state));
        verify(parts, authenticator)
            .await?
            .map(StateClaims)
            .ok_or_else(|| AuthRejection::from(AuthError::new(RejectionKind::MissingToken)))
    }
}

impl<S, C> OptionalFromRequestParts<S> for StateClaims<C>
where
    S: Send + Sync,
    C: DeserializeOwned + Clone + Send + Sync + 'static,
    Verifier<C>: FromRef<S>,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let authenticator = Authenticator::new(Verifier::<C>::from_ref(state)).optional();
        Ok(verify(parts, authenticator).await?.map(StateClaims))
    }
}
