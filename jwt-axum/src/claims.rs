//! Extractors for requests that went through a [`JwtLayer`](jwt_tower::JwtLayer).

use axum::body::Body;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use jwt_tower::auth::Refusal;
use jwt_tower::{Identity, VerifiedToken};

use crate::AuthRejection;

fn verified<C: Send + Sync + 'static>(parts: &Parts) -> Option<&VerifiedToken<C>> {
    parts.extensions.get::<VerifiedToken<C>>()
}

/// The token verified as `C`: `Err` 401 when an optional layer let an anonymous request
/// through, 500 when the layer verifies another type or there is no layer.
fn required<'a, C: Send + Sync + 'static>(
    parts: &'a Parts,
    wanted: &'static str,
) -> Result<&'a VerifiedToken<C>, AuthRejection> {
    verified::<C>(parts).ok_or_else(|| AuthRejection::missing(parts, wanted))
}

/// The token verified as `C`, `None` for an anonymous request an optional layer let
/// through; `Err` 500 when the layer verifies another type or there is no layer.
fn optional<'a, C: Send + Sync + 'static>(
    parts: &'a Parts,
    wanted: &'static str,
) -> Result<Option<&'a VerifiedToken<C>>, AuthRejection> {
    if let Some(token) = verified::<C>(parts) {
        return Ok(Some(token));
    }
    let behind_layer = parts.extensions.get::<Refusal<Body>>().is_some();
    if behind_layer && parts.extensions.get::<Identity>().is_none() {
        Ok(None)
    } else {
        Err(AuthRejection::misconfigured(parts, wanted))
    }
}

/// The verified claims of the request, as `C`.
///
/// Needs a [`JwtLayer`](jwt_tower::JwtLayer) (with the same `C`) in front of the handler.
/// Without a token (an optional layer let the request through) it rejects with the
/// layer's 401; take `Option<Claims<C>>` to accept anonymous requests. A layer verifying
/// another type, or none, is a programming error: 500 naming both types, logged.
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
        required::<C>(parts, std::any::type_name::<Self>()).map(|t| Claims(t.claims().clone()))
    }
}

impl<S, C> OptionalFromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: Clone + Send + Sync + 'static,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let token = optional::<C>(parts, std::any::type_name::<Self>())?;
        Ok(token.map(|token| Claims(token.claims().clone())))
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
        required::<C>(parts, std::any::type_name::<Self>()).map(|t| Authenticated(t.clone()))
    }
}

impl<S, C> OptionalFromRequestParts<S> for Authenticated<C>
where
    S: Send + Sync,
    C: Send + Sync + 'static,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let token = optional::<C>(parts, std::any::type_name::<Self>())?;
        Ok(token.cloned().map(Authenticated))
    }
}

/// The caller's [`Identity`] (subject, issuer, scopes, roles, raw token), whatever the
/// layer's claims type. Without a layer in front of the handler: 500, logged.
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
            .ok_or_else(|| AuthRejection::missing(parts, "CurrentIdentity"))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CurrentIdentity {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match parts.extensions.get::<Identity>() {
            Some(identity) => Ok(Some(CurrentIdentity(identity.clone()))),
            None if parts.extensions.get::<Refusal<Body>>().is_some() => Ok(None),
            None => Err(AuthRejection::misconfigured(
                parts,
                "Option<CurrentIdentity>",
            )),
        }
    }
}
