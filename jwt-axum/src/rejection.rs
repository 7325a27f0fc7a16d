//! The extractors' rejection: the same RFC 6750 response the layer gives.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use jwt_tower::AuthError;
use jwt_tower::reject::DefaultRejection;

/// Why an extractor refused the request. Its response is the RFC 6750 one: status,
/// `WWW-Authenticate` and a JSON body (`{"error", "error_description"}`).
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
pub struct AuthRejection(pub AuthError);

impl From<AuthError> for AuthRejection {
    fn from(error: AuthError) -> Self {
        Self(error)
    }
}

impl std::fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for AuthRejection {}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        DefaultRejection::default().response::<Body>(&self.0)
    }
}
