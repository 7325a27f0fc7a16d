//! The extractors' and guards' rejection: the response of the layer in front of them.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use jwt_tower::auth::Refusal;
use jwt_tower::reject::DefaultRejection;
use jwt_tower::{AuthError, RejectionKind};

/// Why an extractor refused the request. Behind a [`JwtLayer`](jwt_tower::JwtLayer), its
/// response is the layer's (its realm, its
/// [`on_rejection`](jwt_tower::JwtLayer::on_rejection)), counted in the layer's verifier
/// metrics; without one, the default RFC 6750 response: status, `WWW-Authenticate` and a
/// JSON body (`{"error", "error_description"}`).
///
/// ```
/// use axum::response::IntoResponse;
/// use jwt_axum::AuthRejection;
/// use jwt_tower::{AuthError, RejectionKind};
///
/// let response = AuthRejection::from(AuthError::new(RejectionKind::MissingToken)).into_response();
/// assert_eq!(response.status(), 401);
/// assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="api""#);
/// ```
#[derive(Debug, Clone)]
pub struct AuthRejection {
    error: AuthError,
    refusal: Option<Refusal<Body>>,
}

impl AuthRejection {
    /// `error`, answered by the layer the request went through (if any).
    pub(crate) fn from_layer(parts: &Parts, error: AuthError) -> Self {
        Self {
            error,
            refusal: parts.extensions.get::<Refusal<Body>>().cloned(),
        }
    }

    /// Why the request was refused.
    #[must_use]
    pub fn error(&self) -> &AuthError {
        &self.error
    }
}

impl From<AuthError> for AuthRejection {
    fn from(error: AuthError) -> Self {
        Self {
            error,
            refusal: None,
        }
    }
}

impl std::fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for AuthRejection {}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match &self.refusal {
            Some(refusal) => refusal.refuse(&self.error),
            None => DefaultRejection::default().response::<Body>(&self.error),
        }
    }
}

/// A handler asked for what no layer in front of it provides: the claims type differs
/// from the layer's, or the route has no layer. A programming error, not the client's:
/// 500 naming both, and an error in the log (as axum does for a missing extension).
pub(crate) fn misconfigured(parts: &Parts, wanted: &'static str) -> Response {
    let message = match parts.extensions.get::<Refusal<Body>>() {
        Some(refusal) => format!(
            "{wanted} asked for, but the JwtLayer in front of this handler verifies {}",
            refusal.claims_type()
        ),
        None => format!("{wanted} asked for, but no JwtLayer is in front of this handler"),
    };
    tracing::error!(path = parts.uri.path(), "{message}");
    (StatusCode::INTERNAL_SERVER_ERROR, message).into_response()
}

/// What an extractor behind the layer finds: an admitted identity, an anonymous request
/// (optional mode), or no layer at all.
pub(crate) fn missing_or_misconfigured(parts: &Parts, wanted: &'static str) -> Response {
    if parts.extensions.get::<Refusal<Body>>().is_some()
        && parts.extensions.get::<jwt_tower::Identity>().is_none()
    {
        AuthRejection::from_layer(parts, AuthError::new(RejectionKind::MissingToken))
            .into_response()
    } else {
        misconfigured(parts, wanted)
    }
}
