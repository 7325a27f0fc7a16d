//! Extractors for requests that went through a [`JwtLayer`](jwt_tower::JwtLayer).

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use jwt_tower::{AuthError, Identity, RejectionKind, VerifiedToken};

use crate::AuthRejection;

fn missing() -> AuthRejection {
    AuthRejection(AuthError::new(RejectionKind::MissingToken))
}

fn verified<C: Send + Sync + 'static>(parts: &Parts) -> Option<&VerifiedToken<C>> {
    parts.extensions.get::<VerifiedToken<C>>()
}

/// The verified claims of the request, as `C`.
///
/// Needs a [`JwtLayer`](jwt_tower::JwtLayer) (with the same `C`) in front of the handler.
/// Without a token (an optional layer let the request through) it rejects with 401;
/// take `Option<Claims<C>>` to accept anonymous requests.
///
/// ```
/// use jwt_axum::Claims;
/// # #[derive(Clone, serde::Deserialize)] struct MyClaims { sub: String }
/// async fn hello(claims: Option<Claims<MyClaims>>) -> String {
///     match claims {
///         Some(Claims(c)) => format!("hello {}", c.sub),
///         None => "hello stranger".to_owned(),
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Claims<C>(pub C);

impl<S, C> FromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Clone + Send + Sync + 'static,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        verified::<C>(parts)
            .map(|token| Claims(token.claims().clone()))
            .ok_or_else(missing)
    }
}

impl<S, C> OptionalFromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Clone + Send + Sync + 'static,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(verified::<C>(parts).map(|token| Claims(token.claims().clone())))
    }
}

/// The whole [`VerifiedToken<C>`]: claims, header and raw token, without cloning `C`.
#[derive(Debug, Clone)]
pub struct Authenticated<C>(pub VerifiedToken<C>);

impl<S, C> FromRequestParts<S> for Authenticated<C>
where
    S: Send + Sync,
    C: Send + Sync + 'static,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        verified::<C>(parts)
            .cloned()
            .map(Authenticated)
            .ok_or_else(missing)
    }
}

impl<S, C> OptionalFromRequestParts<S> for Authenticated<C>
where
    S: Send + Sync,
    C: Send + Sync + 'static,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(verified::<C>(parts).cloned().map(Authenticated))
    }
}

/// The caller's [`Identity`] (subject, issuer, scopes, roles, raw token), whatever the
/// layer's claims type.
#[derive(Debug, Clone)]
pub struct CurrentIdentity(pub Identity);

impl<S: Send + Sync> FromRequestParts<S> for CurrentIdentity {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Identity>()
            .cloned()
            .map(CurrentIdentity)
            .ok_or_else(missing)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CurrentIdentity {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Identity>()
            .cloned()
            .map(CurrentIdentity))
    }
}
